package cloner

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

//go:embed default_manifest.yaml
var defaultManifestYAML []byte

// Manifest classifies every table of an instance schema and says what the cloner may
// show about integrations and workflows. See MANIFEST.md for the file format.
type Manifest struct {
	// Cloned and Excluded map category names to tables, in file order.
	Cloned   Categories `yaml:"cloned"`
	Excluded Categories `yaml:"excluded"`
	// Scrub lists columns ("table.column" or "schema.table.column", a part
	// double-quoted when it holds a dot) of cloned
	// tables whose values never leave production: the copy leaves them out, so the
	// sandbox gets the column's default, or NULL when it has none.
	Scrub []string `yaml:"scrub"`
	// Integrations, when set, names the table of installed integrations and the
	// columns that name one (never a credential column).
	Integrations *IntegrationsSpec `yaml:"integrations"`
	// Workflows, when set, lets the cloner match workflows across instances and
	// find those that depend on an integration.
	Workflows *WorkflowsSpec `yaml:"workflows"`
	// CustomerCategories are the excluded categories that hold customers' data: a
	// plan warns when the sandbox holds many of their rows, as production does.
	// Empty means every excluded category.
	CustomerCategories []string `yaml:"customer_categories"`
}

// Category is a named group of tables.
type Category struct {
	Name   string
	Tables []string
}

// IntegrationsSpec names the integrations table and its naming columns.
type IntegrationsSpec struct {
	Table string `yaml:"table"`
	Label string `yaml:"label"`
	Kind  string `yaml:"kind"` // optional
}

// WorkflowsSpec says how to read workflows.
type WorkflowsSpec struct {
	Table string      `yaml:"table"`
	Key   []string    `yaml:"key"`  // natural key, equal across instances
	Name  string      `yaml:"name"` // shown to people
	Steps []StepsSpec `yaml:"steps"`
}

// StepsSpec is a table of rows that belong to a workflow, exported with it; when
// Integration is set, a non-NULL value there makes the workflow depend on that
// integration.
type StepsSpec struct {
	Table       string `yaml:"table"`
	Workflow    string `yaml:"workflow"`    // column referencing the workflow's primary key
	Integration string `yaml:"integration"` // optional column referencing the integration's primary key
}

// DefaultManifest returns the built-in manifest of the platform's instance schema
// (package fixtures).
func DefaultManifest() *Manifest {
	m, err := ParseManifest(defaultManifestYAML)
	if err != nil {
		panic(fmt.Sprintf("cloner: built-in manifest: %v", err))
	}
	return m
}

// LoadManifest reads and checks the manifest file at path.
func LoadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

// ParseManifest decodes a manifest strictly (an unknown key is an error naming it)
// and checks it.
func ParseManifest(b []byte) (*Manifest, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Categories is a YAML mapping of category names to table lists, kept in file order.
type Categories []Category

// UnmarshalYAML decodes "name: [tables]" pairs, keeping their order.
func (cs *Categories) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of category names to table lists", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		c := Category{Name: n.Content[i].Value}
		if err := n.Content[i+1].Decode(&c.Tables); err != nil {
			return fmt.Errorf("category %s: %w", c.Name, err)
		}
		*cs = append(*cs, c)
	}
	return nil
}

// Schema is where clonebot keeps its own tables inside an instance's database (the
// enrollment marker): never classified, wiped, exported or counted.
const Schema = "clonebot"

func (m *Manifest) validate() error {
	r, errs := m.parse()
	for _, s := range m.Scrub {
		if col, err := parseColumn(s); err == nil && !r.isCloned(col.table) {
			errs = append(errs, fmt.Errorf("scrub %s: table %s is not in a cloned category", s, col.table))
		}
	}
	if i := m.Integrations; i != nil {
		if i.Table == "" || i.Label == "" {
			errs = append(errs, errors.New("integrations: table and label are required"))
		} else if t, ok := r.names[i.Table]; ok && (r.isCloned(t) || r.category[t] == "") {
			errs = append(errs, fmt.Errorf("integrations: table %s must be in an excluded category", t))
		}
	}
	if w := m.Workflows; w != nil {
		errs = append(errs, w.validate(r, m.Integrations != nil)...)
	}
	errs = append(errs, m.validateCustomerCategories()...)
	return errors.Join(errs...)
}

func (m *Manifest) validateCustomerCategories() []error {
	var errs []error
	for _, name := range m.CustomerCategories {
		found := false
		for _, c := range m.Excluded {
			found = found || c.Name == name
		}
		if !found {
			errs = append(errs, fmt.Errorf("customer_categories: %q is not an excluded category", name))
		}
	}
	return errs
}

func (w *WorkflowsSpec) validate(r resolved, haveIntegrations bool) []error {
	var errs []error
	if w.Table == "" || len(w.Key) == 0 || w.Name == "" {
		errs = append(errs, errors.New("workflows: table, key and name are required"))
	} else if t, ok := r.names[w.Table]; ok && !r.isCloned(t) {
		errs = append(errs, fmt.Errorf("workflows: table %s must be in a cloned category", t))
	}
	for _, s := range w.Steps {
		if s.Table == "" || s.Workflow == "" {
			errs = append(errs, errors.New("workflows.steps: table and workflow are required"))
			continue
		}
		t, ok := r.names[s.Table]
		if ok && !r.isCloned(t) {
			errs = append(errs, fmt.Errorf("workflows.steps: table %s must be in a cloned category", t))
		}
		if s.Integration != "" && !haveIntegrations {
			errs = append(errs, fmt.Errorf("workflows.steps: %s.integration needs an integrations section", t))
		}
	}
	return errs
}

// resolved is the manifest read into table identities: every name it spells,
// parsed, and the category of each table.
type resolved struct {
	category map[tableName]string
	cloned   map[tableName]bool
	names    map[string]tableName // the manifest's spellings
}

// parse reads every table name of m, reporting the names that do not parse, a
// table classified twice and a table in clonebot's own schema.
func (m *Manifest) parse() (resolved, []error) {
	r := resolved{category: map[tableName]string{}, cloned: map[tableName]bool{}, names: map[string]tableName{}}
	var errs []error
	name := func(s string) (tableName, bool) {
		t, err := parseTable(s)
		if err != nil {
			errs = append(errs, err)
			return t, false
		}
		r.names[s] = t
		return t, true
	}
	for i, group := range []Categories{m.Cloned, m.Excluded} {
		for _, c := range group {
			if c.Name == "" {
				errs = append(errs, errors.New("a category has no name"))
			}
			for _, s := range c.Tables {
				t, ok := name(s)
				switch {
				case !ok:
					continue
				case isBotSchema(t.schema):
					errs = append(errs, fmt.Errorf("table %s: schema %s is clonebot's own and never classified", t, t.schema))
				case r.category[t] != "":
					errs = append(errs, fmt.Errorf("table %s is in categories %s and %s", t, r.category[t], c.Name))
				}
				r.category[t], r.cloned[t] = c.Name, i == 0
			}
		}
	}
	if in := m.Integrations; in != nil && in.Table != "" {
		name(in.Table)
	}
	if w := m.Workflows; w != nil {
		for _, s := range append([]string{w.Table}, stepTables(w)...) {
			if s != "" {
				name(s)
			}
		}
	}
	for _, s := range m.Scrub {
		if _, err := parseColumn(s); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errs
}

func stepTables(w *WorkflowsSpec) []string {
	var out []string
	for _, s := range w.Steps {
		out = append(out, s.Table)
	}
	return out
}

func (m *Manifest) resolve() resolved {
	r, _ := m.parse()
	return r
}

func (r resolved) isCloned(t tableName) bool { return r.cloned[t] }

// table is the identity of a manifest spelling (validated when the Cloner was built).
func (r resolved) table(s string) tableName { return r.names[s] }
