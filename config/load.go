package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
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

// Load reads the file at path, expands ${VAR} from getenv, applies defaults and
// validates it.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	cfg, err := Parse(data, getenv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Manifest != "" && !filepath.IsAbs(cfg.Manifest) {
		cfg.Manifest = filepath.Join(filepath.Dir(path), cfg.Manifest)
	}
	return cfg, nil
}

// Parse decodes a configuration document; see Load.
func Parse(data []byte, getenv func(string) string) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not valid YAML: %s", scrubYAMLError(err))
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{Key: "(file)", Message: "the file is empty; see the configuration reference in README.md"}}
	}
	var problems Errors
	expandNode(doc.Content[0], "", getenv, &problems)
	if len(problems) > 0 {
		return nil, problems
	}
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, fmt.Errorf("re-encode configuration: %w", err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expanded))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		problems = decodeError(err)
		// Decode again leniently, so one run reports unknown keys and missing
		// values together.
		cfg = Config{}
		if yaml.Unmarshal(expanded, &cfg) != nil {
			return nil, problems
		}
	}
	cfg.applyDefaults()
	problems = append(problems, cfg.validate()...)
	if len(problems) > 0 {
		return nil, problems
	}
	return &cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandNode replaces ${VAR} in every scalar value, recording unset variables by key.
func expandNode(n *yaml.Node, key string, getenv func(string) string, problems *Errors) {
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

var (
	unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	backticked   = regexp.MustCompile("`[^`]*`")
)

// decodeError turns yaml's messages into ones that name the key and hide values.
func decodeError(err error) Errors {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return Errors{{Key: "(file)", Message: scrubYAMLError(err)}}
	}
	var problems Errors
	for _, msg := range te.Errors {
		if m := unknownField.FindStringSubmatch(msg); m != nil {
			problems = append(problems, Error{Key: m[2], Message: "unknown key (line " + m[1] + "); check its spelling against the configuration reference"})
			continue
		}
		problems = append(problems, Error{Key: "(value)", Message: backticked.ReplaceAllString(msg, "a value") + "; check the value's type"})
	}
	return problems
}

func scrubYAMLError(err error) string {
	return backticked.ReplaceAllString(err.Error(), "a value")
}
