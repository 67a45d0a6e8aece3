package parser

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/registry"
)

var update = flag.Bool("update", false, "rewrite the *.want.json golden files of fixtures/tickets")

const corpusDir = "../fixtures/tickets"

// corpusOptions is the configuration the ticket corpus is written against:
// the field ids and tenants of clonebot.yaml's example in the design.
func corpusOptions() Options {
	acme := []int64{360099887766}
	beta := []int64{360011112222, 360011113333}
	reg, err := registry.New([]registry.Instance{
		{Name: "acme-prod", Tenant: "acme", Environment: Production, URL: "https://acme.example-isp.app", OrganizationIDs: acme, DatabaseURL: "postgres://db/acme_prod"},
		{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, URL: "https://acme.sandbox.example-isp.app", OrganizationIDs: acme, DatabaseURL: "postgres://db/acme_sandbox"},
		{Name: "acme-uat", Tenant: "acme", Environment: Sandbox, URL: "https://acme-uat.sandbox.example-isp.app/", OrganizationIDs: acme, DatabaseURL: "postgres://db/acme_uat"},
		{Name: "beta-prod", Tenant: "beta", Environment: Production, URL: "https://beta.example-isp.app", OrganizationIDs: beta, DatabaseURL: "postgres://db/beta_prod"},
		{Name: "beta-sandbox", Tenant: "beta", Environment: Sandbox, URL: "https://beta.sandbox.example-isp.app", OrganizationIDs: beta, DatabaseURL: "postgres://db/beta_sandbox"},
	})
	if err != nil {
		panic(err) // the corpus's own registry
	}
	return Options{
		Fields:   Fields{ProductionInstance: 360042000001, SandboxInstance: 360042000002, WipeConfirmation: 360042000003, Users: 360042000004},
		Registry: reg,
	}
}

// outcome is the golden form of one ticket's result.
type outcome struct {
	DecodeError string        `json:"decode_error,omitempty"`
	Request     *wantRequest  `json:"request,omitempty"`
	Problems    []wantProblem `json:"problems,omitempty"`
}

type wantRequest struct {
	Production     string     `json:"production"`
	Sandbox        string     `json:"sandbox"`
	Tenant         string     `json:"tenant"`
	WipeConfirmed  bool       `json:"wipe_confirmed"`
	Users          []wantUser `json:"users"`
	RequesterID    int64      `json:"requester_id"`
	OrganizationID int64      `json:"organization_id"`
	Fingerprint    string     `json:"fingerprint"`
}

type wantUser struct {
	Name  string `json:"name,omitempty"`
	Email string `json:"email"`
	Role  string `json:"role,omitempty"`
}

type wantProblem struct {
	Field   string `json:"field"`
	Value   string `json:"value,omitempty"`
	Message string `json:"message"`
}

func run(t *testing.T, body []byte, opts Options) outcome {
	t.Helper()
	tk, err := DecodeTicket(body)
	if err != nil {
		return outcome{DecodeError: err.Error()}
	}
	req, problems := Parse(tk, opts)
	checkExactlyOne(t, req, problems)
	if req == nil {
		out := outcome{}
		for _, p := range problems {
			out.Problems = append(out.Problems, wantProblem(p))
		}
		return out
	}
	w := wantRequest{req.Production, req.Sandbox, req.Tenant, req.WipeConfirmed, nil, req.RequesterID, req.OrganizationID, req.Fingerprint}
	for _, u := range req.Users {
		w.Users = append(w.Users, wantUser(u))
	}
	return outcome{Request: &w}
}

func checkExactlyOne(t *testing.T, req *Request, problems []Problem) {
	t.Helper()
	if (req == nil) == (len(problems) == 0) {
		t.Fatalf("Parse returned request %v and %d problems; want exactly one of them", req, len(problems))
	}
}

// TestCorpus parses every ticket of fixtures/tickets and compares the result
// with the golden file beside it; go test ./parser -run TestCorpus -update
// rewrites the golden files, which are then reviewed like code.
func TestCorpus(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no tickets in %s: %v", corpusDir, err)
	}
	for _, path := range paths {
		if strings.HasSuffix(path, ".want.json") {
			continue
		}
		name := strings.TrimSuffix(filepath.Base(path), ".json")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(run(t, body, corpusOptions()), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden(t, strings.TrimSuffix(path, ".json")+".want.json", got)
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("result differs from %s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}
