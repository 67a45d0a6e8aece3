package cloner

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// planSchema compiles docs/plan.schema.json, asserting formats (date-time).
func planSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../docs/plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatalf("plan.schema.json: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("plan.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("plan.schema.json")
	if err != nil {
		t.Fatalf("compile plan.schema.json: %v", err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, what string, b []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("%s does not match docs/plan.schema.json: %v\n%s", what, err, b)
	}
}

func planDocumentJSON(t *testing.T, p *Plan) []byte {
	t.Helper()
	d, err := NewPlanDocument(p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestPlanDocumentSchema(t *testing.T) {
	t.Parallel()
	s := planSchema(t)
	ctx := context.Background()

	t.Run("drifted", func(t *testing.T) {
		t.Parallel()
		e := newDriftEnv(t)
		execSQL(t, e.prod, driftMutations(0.25, "prod"))
		execSQL(t, e.sbx, driftMutations(-0.5, "sbx"))
		p, drift := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
		b := planDocumentJSON(t, p)
		validate(t, s, "a plan with drift", b)
		var doc struct {
			Drift           []Drift         `json:"drift"`
			DriftByCategory []CategoryDrift `json:"drift_by_category"`
			Warnings        []string        `json:"warnings"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.Drift) != len(drift) || len(doc.DriftByCategory) != 4 || doc.Warnings == nil {
			t.Errorf("document: %d drift, %d categories, warnings %v", len(doc.Drift), len(doc.DriftByCategory), doc.Warnings)
		}
		if p.Warnings != nil && len(p.Warnings) == 0 {
			t.Error("the document changed the plan it was made from")
		}
	})
	t.Run("fixture with integrations and markers", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, nil)
		p, _ := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
		if len(p.Integrations) == 0 || p.Source == nil || p.Source.Marker == nil {
			t.Fatalf("the fixture plan should show integrations and markers: %+v", p)
		}
		validate(t, s, "the fixture's plan", planDocumentJSON(t, p))
	})
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		e := newDriftEnv(t)
		p, err := e.cloner.Plan(ctx, "acme-prod", "nowhere")
		if err != nil || p.OK() {
			t.Fatalf("plan into an unknown instance: %v %+v", err, p)
		}
		b := planDocumentJSON(t, p)
		validate(t, s, "a refused plan", b)
		if !bytes.Contains(b, []byte(`"drift": []`)) || bytes.Count(b, []byte(": null")) != 2 {
			t.Errorf("a refused plan's lists must be empty, not null (only source and target are):\n%s", b)
		}
	})
	t.Run("documented example", func(t *testing.T) {
		t.Parallel()
		md, err := os.ReadFile("../docs/plan-json.md")
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile("(?s)## Example\n\n```json\n(.*?)```").FindSubmatch(md)
		if m == nil {
			t.Fatal("docs/plan-json.md has no example")
		}
		validate(t, s, "the example of docs/plan-json.md", m[1])
	})
	t.Run("undocumented field", func(t *testing.T) {
		t.Parallel()
		b := planDocumentJSON(t, &Plan{From: "a", To: "b"})
		b = []byte(strings.Replace(string(b), `"from"`, `"surprise": 1, "from"`, 1))
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(inst) == nil {
			t.Error("the schema accepts a field it does not describe")
		}
	})
}
