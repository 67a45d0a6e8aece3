package cloner

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"strings"

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
	// Scrub lists columns ("table.column" or "schema.table.column") of cloned
	// tables whose values never leave production: the copy leaves them out, so the
	// sandbox gets the column's default, or NULL when it has none.
	Scrub []string `yaml:"scrub"`
	// Integrations, when set, names the table of installed integrations and the
	// columns that name one (never a credential column).
	Integrations *IntegrationsSpec `yaml:"integrations"`
	// Workflows, when set, lets the cloner match workflows across instances and
	// find those that depend on an integration.
	Workflows *WorkflowsSpec `yaml:"workflows"`
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

func (m *Manifest) validate() error {
	seen := map[string]string{}
	var errs []error
	for _, group := range []Categories{m.Cloned, m.Excluded} {
		for _, c := range group {
			if c.Name == "" {
				errs = append(errs, errors.New("a category has no name"))
			}
			for _, t := range c.Tables {
				q := qualify(t)
				if prev, ok := seen[q]; ok {
					errs = append(errs, fmt.Errorf("table %s is in categories %s and %s", q, prev, c.Name))
				}
				seen[q] = c.Name
			}
		}
	}
	r := m.resolve()
	for _, s := range m.Scrub {
		col, err := parseColumn(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !r.isCloned(col.table) {
			errs = append(errs, fmt.Errorf("scrub %s: table %s is not in a cloned category", s, col.table))
		}
	}
	if i := m.Integrations; i != nil {
		if i.Table == "" || i.Label == "" {
			errs = append(errs, errors.New("integrations: table and label are required"))
		} else if r.isCloned(qualify(i.Table)) || r.category[qualify(i.Table)] == "" {
			errs = append(errs, fmt.Errorf("integrations: table %s must be in an excluded category", qualify(i.Table)))
		}
	}
	if w := m.Workflows; w != nil {
		errs = append(errs, w.validate(r, m.Integrations != nil)...)
	}
	return errors.Join(errs...)
}

func (w *WorkflowsSpec) validate(r resolved, haveIntegrations bool) []error {
	var errs []error
	if w.Table == "" || len(w.Key) == 0 || w.Name == "" {
		errs = append(errs, errors.New("workflows: table, key and name are required"))
	} else if !r.isCloned(qualify(w.Table)) {
		errs = append(errs, fmt.Errorf("workflows: table %s must be in a cloned category", qualify(w.Table)))
	}
	for _, s := range w.Steps {
		if s.Table == "" || s.Workflow == "" {
			errs = append(errs, errors.New("workflows.steps: table and workflow are required"))
			continue
		}
		if !r.isCloned(qualify(s.Table)) {
			errs = append(errs, fmt.Errorf("workflows.steps: table %s must be in a cloned category", qualify(s.Table)))
		}
		if s.Integration != "" && !haveIntegrations {
			errs = append(errs, fmt.Errorf("workflows.steps: %s.integration needs an integrations section", qualify(s.Table)))
		}
	}
	return errs
}

// resolved maps qualified table names to their category.
type resolved struct {
	category map[string]string
	cloned   map[string]bool
}

func (m *Manifest) resolve() resolved {
	r := resolved{category: map[string]string{}, cloned: map[string]bool{}}
	for _, c := range m.Cloned {
		for _, t := range c.Tables {
			r.category[qualify(t)] = c.Name
			r.cloned[qualify(t)] = true
		}
	}
	for _, c := range m.Excluded {
		for _, t := range c.Tables {
			r.category[qualify(t)] = c.Name
		}
	}
	return r
}

func (r resolved) isCloned(table string) bool { return r.cloned[table] }

// qualify turns "table" into "public.table"; names with a dot are schema-qualified.
func qualify(t string) string {
	if strings.Contains(t, ".") {
		return t
	}
	return "public." + t
}

type columnRef struct{ table, column string }

func parseColumn(s string) (columnRef, error) {
	parts := strings.Split(s, ".")
	switch len(parts) {
	case 2:
		return columnRef{"public." + parts[0], parts[1]}, nil
	case 3:
		return columnRef{parts[0] + "." + parts[1], parts[2]}, nil
	}
	return columnRef{}, fmt.Errorf("scrub %q: want table.column or schema.table.column", s)
}
