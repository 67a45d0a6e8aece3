package lifecycle

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/gaiia/clonebot/lifecycle/rules"
)

// Before the wipe the clone posts the sandbox export on the ticket: a public
// comment listing it by category with counts, a zip per category attached,
// workflows first; the ready notice points back at it and the stored report keeps
// the drift and what was exported.
func TestCloneAttachesTheSandboxExport(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	id := h.scheduled()
	if err := h.runClone(id); err != nil {
		t.Fatal(err)
	}
	h.wantState(id, rules.Ready)
	h.post(id)
	var export, ready int
	var files []string
	for i, c := range h.sim.Comments(id) {
		switch {
		case len(c.Attachments) > 0:
			export = i
			if !c.Public || !strings.Contains(c.Body, "**What is saved**") || !strings.Contains(c.Body, "- Workflows (including drafts and disabled ones): ") {
				t.Errorf("export comment:\n%s", c.Body)
			}
			for _, a := range c.Attachments {
				files = append(files, a.FileName)
				if _, err := zip.NewReader(bytes.NewReader(a.Data), int64(len(a.Data))); err != nil || a.ContentType != "application/zip" {
					t.Errorf("%s (%s) is not a zip archive: %v", a.FileName, a.ContentType, err)
				}
				if !strings.Contains(c.Body, a.FileName) {
					t.Errorf("the comment does not name %s", a.FileName)
				}
			}
		case strings.Contains(c.Body, "Your new sandbox is ready"):
			ready = i
			if !strings.Contains(c.Body, "attached to an earlier comment") {
				t.Errorf("the ready notice does not point at the export:\n%s", c.Body)
			}
		}
	}
	if len(files) == 0 || !strings.HasSuffix(files[0], "-workflows.zip") || export > ready {
		t.Fatalf("export %v (comment %d, ready notice %d): want archives, workflows first, before the ready notice", files, export, ready)
	}
	var raw []byte
	if err := h.pool.QueryRow(h.ctx, "SELECT report FROM clone_requests WHERE ticket_id = $1::bigint", id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	var report struct {
		Drift  []json.RawMessage `json:"drift"`
		Export struct {
			Rows     int64             `json:"rows"`
			Archives []json.RawMessage `json:"archives"`
		} `json:"export"`
	}
	if err := json.Unmarshal(raw, &report); err != nil || len(report.Drift) == 0 || report.Export.Rows == 0 || len(report.Export.Archives) == 0 {
		t.Errorf("stored report: %v %s", err, raw)
	}
}
