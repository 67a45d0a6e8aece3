package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a configuration problem: the key it concerns and how to fix it.
type Error struct {
	Key     string
	Message string
}

func (e Error) Error() string { return e.Key + ": " + e.Message }

// Errors are all the problems found in one file.
type Errors []Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return "invalid configuration:\n  " + strings.Join(lines, "\n  ")
}

// scope is the part of the file a command needs: variables are required and
// values validated there only.
type scope int

const (
	scopeAll       scope = iota
	scopeInstances       // tenants, their instances, the manifest, preflight, clone, rollback, log_level
)

func (s scope) covers(key string) bool {
	if s == scopeAll {
		return true
	}
	top, _, _ := strings.Cut(key, ".")
	top, _, _ = strings.Cut(top, "[")
	switch top {
	case "tenants", "manifest", "preflight", "clone", "rollback", "log_level":
		return true
	}
	return false
}

// Load reads the file at path, expands ${VAR} from getenv, applies defaults and
// validates it. An error wraps fs.ErrNotExist when the file does not exist.
func Load(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, scopeAll)
}

// LoadInstances is Load for the commands that work on instances only (plan,
// clone): the tenants, their instances and the manifest are validated and their
// variables must be set; the bot database and Zendesk settings may be missing or
// name unset variables, and are left empty then.
func LoadInstances(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, scopeInstances)
}

func load(path string, getenv func(string) string, sc scope) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	cfg, err := parse(data, getenv, sc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Manifest != "" && !filepath.IsAbs(cfg.Manifest) {
		cfg.Manifest = filepath.Join(filepath.Dir(path), cfg.Manifest)
	}
	if cfg.Path, err = filepath.Abs(path); err != nil {
		cfg.Path = path
	}
	return cfg, nil
}

// ReadListen returns the listen address of the file at path (default ":8080")
// without requiring or validating anything else: the health check needs only it.
func ReadListen(path string, getenv func(string) string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read configuration: %w", err)
	}
	var doc struct {
		Listen string `yaml:"listen"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("%s: not valid YAML: %s", path, scrubYAMLError(err))
	}
	listen := envRef.ReplaceAllStringFunc(doc.Listen, func(ref string) string { return getenv(envRef.FindStringSubmatch(ref)[1]) })
	return orDefault(listen, defaultListen), nil
}

// Parse decodes a configuration document; see Load.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	return parse(data, getenv, scopeAll)
}

func parse(data []byte, getenv func(string) string, sc scope) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", scrubYAMLError(err))
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{Key: "(file)", Message: "the file is empty; see the configuration reference in README.md"}}
	}
	var expansion Errors
	expandNode(doc.Content[0], "", getenv, &expansion)
	var unset Errors
	for _, p := range expansion {
		if sc.covers(p.Key) {
			unset = append(unset, p)
		}
	}
	lines := map[string]int{}
	keyLines(doc.Content[0], "", lines)
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("re-encode configuration: %w", err)
	}
	// One run names every problem: an unset variable, and whatever else is wrong.
	cfg, problems := decode(expanded, lines)
	if cfg != nil {
		cfg.applyDefaults()
		problems = append(problems, cfg.validate(sc)...)
	}
	problems = append(unset, unsetCovered(problems, unset)...)
	if len(problems) > 0 || cfg == nil {
		return nil, problems
	}
	return cfg, nil
}

// unsetCovered drops the problems of keys whose value is an unset variable: the
// variable's problem already says why the value is empty.
func unsetCovered(problems, unset Errors) Errors {
	var out Errors
	for _, p := range problems {
		if !slices.ContainsFunc(unset, func(u Error) bool { return u.Key == p.Key }) {
			out = append(out, p)
		}
	}
	return out
}

// decode decodes the expanded document strictly; on errors it decodes again
// leniently, so one run reports unknown keys and missing values together. lines
// gives each key's line in the original file.
func decode(expanded []byte, lines map[string]int) (*Config, Errors) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	err := dec.Decode(&cfg)
	if err == nil {
		return &cfg, nil
	}
	// The errors' line numbers are the re-encoded document's: map them to keys.
	var doc yaml.Node
	keyAt := map[int]string{}
	if yaml.Unmarshal(expanded, &doc) == nil && len(doc.Content) > 0 {
		linesToKeys(doc.Content[0], "", keyAt)
	}
	problems := decodeError(err, keyAt, lines)
	cfg = Config{}
	if yaml.Unmarshal(expanded, &cfg) != nil {
		return nil, problems
	}
	return &cfg, problems
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in every scalar value, recording unset variables by key.
func expandNode(n *yaml.Node, key string, getenv func(string) string, problems *Errors) {
	// Block style puts each key of the re-encoded document on a line of its own,
	// so that a decoding error's line tells the key.
	n.Style &^= yaml.FlowStyle
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], joinKey(key, n.Content[i].Value), getenv, problems)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			expandNode(c, fmt.Sprintf("%s[%d]", key, i), getenv, problems)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "${") {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			v := getenv(name)
			if v == "" {
				*problems = append(*problems, Error{Key: key, Message: fmt.Sprintf("environment variable %s is not set; export it or write the value in the file", name)})
			}
			return v
		})
		// An expanded value is data, never YAML: keep "123" a string where the
		// field is a string, and let the decoder convert it where it is a number.
		if n.Tag == "" || n.Tag == "!" {
			n.Tag = ""
		}
		n.Style = 0
	}
}

func joinKey(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

// keyLines records the line of every key (and list item) of the original file.
func keyLines(n *yaml.Node, key string, lines map[string]int) {
	walkKeys(n, key, func(key string, line int) { lines[key] = line })
}

// linesToKeys records which key each line of a document holds.
func linesToKeys(n *yaml.Node, key string, keyAt map[int]string) {
	walkKeys(n, key, func(key string, line int) { keyAt[line] = key })
}

// walkKeys calls visit with the dotted path and line of every value under n.
func walkKeys(n *yaml.Node, key string, visit func(key string, line int)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := joinKey(key, n.Content[i].Value)
			visit(k, n.Content[i].Line)
			walkKeys(n.Content[i+1], k, visit)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", key, i)
			visit(k, c.Line)
			walkKeys(c, k, visit)
		}
	}
}

var (
	unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	typeMismatch = regexp.MustCompile("line (\\d+): cannot unmarshal (\\S+) (?:`[^`]*` )?into (\\S+)")
	backticked   = regexp.MustCompile("`[^`]*`")
)

// decodeError turns yaml's messages into ones that name the key and hide values.
// keyAt maps the decoded document's lines to keys (one key per line), lines keys
// to the file's lines.
func decodeError(err error, keyAt map[int]string, lines map[string]int) Errors {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{{Key: "(file)", Message: scrubYAMLError(err)}}
	}
	var problems Errors
	for _, msg := range te.Errors {
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			key := m[2]
			if full := keyAt[atoi(m[1])]; full != "" {
				key = full
			}
			problems = append(problems, Error{Key: key, Message: fmt.Sprintf("unknown key (line %d); check its spelling against the configuration reference", lines[key])})
			continue
		}
		if m := typeMismatch.FindStringSubmatch(msg); m != nil && keyAt[atoi(m[1])] != "" {
			key := keyAt[atoi(m[1])]
			problems = append(problems, Error{Key: key, Message: fmt.Sprintf("must be %s (line %d)", typeName(m[3]), lines[key])})
			continue
		}
		problems = append(problems, Error{Key: "(value)", Message: backticked.ReplaceAllString(msg, "a value") + "; check the value's type"})
	}
	return problems
}

func atoi(s string) int {
	n := 0
	fmt.Sscanf(s, "%d", &n) //nolint:errcheck // the regexp matched digits
	return n
}

// typeName says in words what a Go type accepts.
func typeName(goType string) string {
	switch {
	case goType == "time.Duration":
		return "a duration such as 30s, 15m or 168h"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "a whole number"
	case goType == "float64":
		return "a number"
	case goType == "bool":
		return "true or false"
	case goType == "string":
		return "a single value (text)"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	default:
		return "a mapping of keys (see the configuration reference)"
	}
}

func scrubYAMLError(err error) string {
	return backticked.ReplaceAllString(err.Error(), "a value")
}
