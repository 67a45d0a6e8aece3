package cloner

import (
	"archive/zip"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/pgtest"
	"github.com/jackc/pgx/v5"
)

// exportLine is one line of a table's JSON Lines file.
type exportLine struct {
	Table  string          `json:"table"`
	Change string          `json:"change"`
	Key    json.RawMessage `json:"key"`
	Row    json.RawMessage `json:"row"`
}

// readFile is what one archive file holds.
type readFile struct {
	manifest manifest
	lines    map[string][]exportLine // by table
	entries  []string
	text     string // every entry's content, for searching
}

func readArchive(t testing.TB, path string) readFile {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	out := readFile{lines: map[string][]exportLine{}}
	var all strings.Builder
	files := map[string]string{} // entry name -> table, from the manifest
	var bodies = map[string][]byte{}
	for _, f := range zr.File {
		out.entries = append(out.entries, f.Name)
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s in %s: %v", f.Name, path, err)
		}
		all.Write(b)
		bodies[f.Name] = b
	}
	if err := json.Unmarshal(bodies["manifest.json"], &out.manifest); err != nil {
		t.Fatalf("manifest of %s: %v", path, err)
	}
	for _, mt := range out.manifest.Tables {
		files[mt.File] = mt.Table
		sc := bufio.NewScanner(strings.NewReader(string(bodies[mt.File])))
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var l exportLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s in %s: line %q: %v", mt.File, path, sc.Text(), err)
			}
			if l.Table != mt.Table {
				t.Errorf("%s holds a row of %s, the manifest says %s", mt.File, l.Table, mt.Table)
			}
			out.lines[mt.Table] = append(out.lines[mt.Table], l)
		}
	}
	for _, name := range out.entries {
		if _, ok := files[name]; !ok && name != "manifest.json" && name != "README.txt" {
			t.Errorf("%s: entry %s is not in the manifest", path, name)
		}
	}
	out.text = all.String()
	return out
}

// export runs the export of e's tables into a new directory.
func runExport(t testing.TB, c *Cloner, from, to string, cfg ArchiveConfig) (*SandboxExport, error) {
	t.Helper()
	ctx := context.Background()
	p, err := c.Plan(ctx, from, to)
	if err != nil || !p.OK() {
		t.Fatalf("plan: %v %v", err, p.Problems)
	}
	prod, sbx := connectT(t, c.instances[from].DatabaseURL), connectT(t, c.instances[to].DatabaseURL)
	prodTx, err := prod.BeginTx(ctx, snapshotTx)
	if err != nil {
		t.Fatal(err)
	}
	defer prodTx.Rollback(ctx) //nolint:errcheck // read only
	sbxTx, err := sbx.BeginTx(ctx, snapshotTx)
	if err != nil {
		t.Fatal(err)
	}
	defer sbxTx.Rollback(ctx) //nolint:errcheck // read only
	if cfg.Instance == "" {
		cfg.Instance = to
	}
	return exportSandboxWork(ctx, prodTx, sbxTx, p.driftTables(), cfg, c.lookupKeys)
}

func mutatedDriftEnv(t *testing.T) *driftEnv {
	e := newDriftEnv(t)
	execSQL(t, e.prod, driftMutations(0.25, "prod"))
	execSQL(t, e.sbx, driftMutations(-0.5, "sbx"))
	execSQL(t, e.sbx, `UPDATE plain SET owner_id = 1, name = name || ' (sandbox)' WHERE id % 97 = 0;
UPDATE plain SET secret = 'sandbox-secret-' || id;
INSERT INTO plain (id, name, secret) VALUES (7001, 'sandbox only', 'sandbox-secret-7001');`)
	return e
}

// shrinkSandbox leaves the sandbox a small fraction of production's rows, as real
// sandboxes hold, so that the drift reads production at the sandbox's keys
// (drift_lookup.go); production gets its statistics, which that choice reads.
func shrinkSandbox(t *testing.T, e *driftEnv) {
	t.Helper()
	execSQL(t, e.sbx, `DELETE FROM plain WHERE id % 25 <> 0 AND id <> 7001;
DELETE FROM pairs WHERE code > 5;
DELETE FROM uuids WHERE note <> 'new' AND left(id::text, 1) <> 'a';
DELETE FROM stamps WHERE at < '2029-01-01' AND extract(doy FROM at)::int % 20 <> 0;
DELETE FROM smalls WHERE id > -32000 AND id % 20 <> 0;
DELETE FROM "Odd Schema"."select/ä""q" WHERE "Key Col" NOT LIKE 'k 3_E' AND "Key Col" NOT LIKE 'sbx %';
DELETE FROM parted WHERE id < 1000 AND id % 20 <> 0;`)
	// Keys that must survive the trip into the lookup's query: a quote, a
	// backslash, a non-ASCII letter; on both sides, so the lookup has to find them.
	both := `INSERT INTO pairs VALUES ('it''s \ östlich', 1, 'same');
INSERT INTO "Odd Schema"."select/ä""q" VALUES ('k 3 \'' é', '{1}', 'same');`
	execSQL(t, e.prod, both)
	execSQL(t, e.sbx, both)
	execSQL(t, e.prod, "ANALYZE")
}

func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	t.Run("production streamed", func(t *testing.T) {
		t.Parallel()
		e := mutatedDriftEnv(t)
		e.cloner.lookupKeys = 0
		testExportRoundTrip(t, e)
	})
	t.Run("production read at the sandbox's keys", func(t *testing.T) {
		t.Parallel()
		e := mutatedDriftEnv(t)
		shrinkSandbox(t, e)
		testExportRoundTrip(t, e)
	})
}

func testExportRoundTrip(t *testing.T, e *driftEnv) {
	dir := t.TempDir()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	x, err := runExport(t, e.cloner, "acme-prod", "acme-sandbox", ArchiveConfig{Dir: dir, At: at, FirstCategory: "odd"})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	_, drift := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	byTable := map[string]Drift{}
	for _, d := range drift {
		byTable[d.Table] = d
	}
	if len(x.Drift) != len(drift) {
		t.Fatalf("export compared %d tables, the drift %d", len(x.Drift), len(drift))
	}
	for _, d := range x.Drift {
		if d != byTable[d.Table] {
			t.Errorf("export's drift of %s %+v, the drift's %+v", d.Table, d, byTable[d.Table])
		}
	}
	var cats []string
	for _, a := range x.Archives {
		cats = append(cats, a.Category)
	}
	if want := []string{"odd", "catalog", "loose_things", "kinds"}; !slices.Equal(cats, want) {
		t.Errorf("archives %v, want %v (the first category first, then manifest order)", cats, want)
	}

	lines := map[string][]exportLine{}
	for _, a := range x.Archives {
		if len(a.Files) != 1 || a.Files[0].Name != "acme-sandbox-20260304-050607-"+a.Category+".zip" {
			t.Errorf("archive %s files %+v", a.Category, a.Files)
		}
		f := readArchive(t, a.Files[0].Path)
		if f.manifest.Category != a.Category || f.manifest.Instance != "acme-sandbox" || f.manifest.Part != 1 || !f.manifest.ExportedAt.Equal(at) || f.manifest.Format != exportFormat {
			t.Errorf("manifest of %s: %+v", a.Category, f.manifest)
		}
		if strings.Contains(f.text, "sandbox-secret-") {
			t.Errorf("archive %s holds a scrubbed column's value", a.Category)
		}
		for _, mt := range f.manifest.Tables {
			d := byTable[mt.Table]
			got := f.lines[mt.Table]
			if mt.Rows != int64(len(got)) || mt.OnlyInSandbox != d.OnlyInSandbox || mt.Changed != d.Changed || mt.ComparedBy != d.ComparedBy {
				t.Errorf("manifest of %s: %+v, %d lines, drift %+v", mt.Table, mt, len(got), d)
			}
			lines[mt.Table] = got
		}
	}
	for _, d := range drift {
		if n := int64(len(lines[d.Table])); n != d.OnlyInSandbox+d.Changed {
			t.Errorf("%s: %d rows exported, drift %+v", d.Table, n, d)
		}
	}
	for _, l := range lines["public.plain"] {
		var row map[string]any
		if err := json.Unmarshal(l.Row, &row); err != nil {
			t.Fatal(err)
		}
		if _, ok := row["secret"]; ok {
			t.Fatalf("plain row exported with its scrubbed column: %s", l.Row)
		}
		if _, ok := row["name_len"]; ok {
			t.Fatalf("plain row exported with its generated column: %s", l.Row)
		}
		if string(l.Key) != `{"id" : `+jsonNumber(row["id"])+`}` {
			t.Errorf("key %s of row %s", l.Key, l.Row)
		}
	}
	if l := lines["public.loose"]; len(l) == 0 || string(l[0].Key) != "null" {
		t.Errorf("rows of a table without a primary key have a key: %+v", l)
	}

	// Every exported row goes back into an empty copy of its table, and the copy
	// then holds exactly the sandbox rows the clone would delete or overwrite.
	empty := pgtest.NewDatabase(t)
	execSQL(t, empty, strings.ReplaceAll(driftSchema, "REFERENCES people (id)", ""))
	conn := connectT(t, empty)
	p, _ := planDrift(t, e.cloner, "acme-prod", "acme-sandbox")
	for _, dt := range p.driftTables() {
		cols := make([]string, len(dt.Columns))
		for i, c := range dt.Columns {
			cols[i] = col(c.Name)
		}
		insert := "INSERT INTO " + dt.ident() + " (" + strings.Join(cols, ", ") + ") SELECT " + strings.Join(cols, ", ") +
			" FROM json_populate_record(NULL::" + dt.ident() + ", $1::json)"
		for _, l := range lines[dt.qualified()] {
			if _, err := conn.Exec(context.Background(), insert, string(l.Row)); err != nil {
				t.Fatalf("re-insert into %s: %s: %v", dt.qualified(), l.Row, err)
			}
		}
		got := rowTexts(t, conn, dt, "")
		want := expectedExport(t, e.prod, e.sbx, dt)
		if !slices.Equal(got, want) {
			t.Errorf("%s: re-inserted rows\n%q\nwant the sandbox's\n%q", dt.qualified(), got, want)
		}
	}
}

// jsonNumber prints a decoded JSON number as the sandbox writes integers.
func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// rowTexts returns the compared columns of every row of dt, as text, sorted.
func rowTexts(t testing.TB, conn *pgx.Conn, dt DriftTable, where string) []string {
	t.Helper()
	cols := make([]string, len(dt.Columns))
	for i, c := range dt.Columns {
		cols[i] = col(c.Name)
	}
	var out []string
	rows, err := conn.Query(context.Background(), "SELECT ROW("+strings.Join(cols, ", ")+")::text FROM "+dt.ident()+where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// expectedExport finds the sandbox rows to export independently of the drift:
// by key, those production lacks or has otherwise; without a key, the copies
// production has fewer of.
func expectedExport(t testing.TB, prodURL, sbxURL string, dt DriftTable) []string {
	t.Helper()
	prod, sbx := rowsByKey(t, prodURL, dt, true, dt.keyed()), rowsByKey(t, sbxURL, dt, false, dt.keyed())
	var out []string
	for k, sv := range sbx {
		pv := prod[k]
		switch {
		case !dt.keyed() && len(sv) > len(pv):
			out = append(out, sv[len(pv):]...)
		case !dt.keyed():
		case pv == nil || pv[0] != sv[0]:
			out = append(out, sv[0])
		}
	}
	slices.Sort(out)
	return out
}

// TestExportSplits: under a small limit a category is split into parts, each
// below the limit, complete with its manifest, together holding every row once.
func TestExportSplits(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	// Incompressible content, so that the parts fill up.
	execSQL(t, e.sbx, `UPDATE plain SET body = jsonb_build_object('draft', md5(random()::text) || md5(random()::text)) WHERE id BETWEEN 1 AND 600`)
	dir := t.TempDir()
	const limit = 24 << 10
	x, err := runExport(t, e.cloner, "acme-prod", "acme-sandbox", ArchiveConfig{Dir: dir, MaxBytes: limit, At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if len(x.Archives) != 1 || x.Archives[0].Category != "catalog" || x.Archives[0].Rows != 600 {
		t.Fatalf("archives: %+v", x.Archives)
	}
	a := x.Archives[0]
	if len(a.Files) < 3 {
		t.Fatalf("600 rows of ~150 incompressible bytes in %d files under %d bytes", len(a.Files), limit)
	}
	seen := map[string]bool{}
	name := regexp.MustCompile(`^acme-sandbox-20260102-030405-catalog-(\d+)-of-(\d+)\.zip$`)
	for i, f := range a.Files {
		if m := name.FindStringSubmatch(f.Name); m == nil || m[1] != itoa(i+1) || m[2] != itoa(len(a.Files)) {
			t.Errorf("file %d is named %s", i+1, f.Name)
		}
		fi, err := os.Stat(f.Path)
		if err != nil || fi.Size() != f.Bytes || f.Bytes > limit {
			t.Errorf("%s: %d bytes (reported %d, limit %d), %v", f.Name, fi.Size(), f.Bytes, limit, err)
		}
		if i < len(a.Files)-1 && f.Bytes < limit/2 {
			t.Errorf("%s: %d bytes, less than half the limit %d: the split wastes attachments", f.Name, f.Bytes, limit)
		}
		rf := readArchive(t, f.Path)
		if rf.manifest.Part != i+1 || len(rf.manifest.Tables) != 1 || rf.manifest.Tables[0].Rows != int64(len(rf.lines["public.plain"])) {
			t.Errorf("%s: manifest %+v with %d lines", f.Name, rf.manifest, len(rf.lines["public.plain"]))
		}
		for _, l := range rf.lines["public.plain"] {
			if seen[string(l.Key)] {
				t.Errorf("row %s exported twice", l.Key)
			}
			seen[string(l.Key)] = true
		}
	}
	if len(seen) != 600 {
		t.Errorf("%d distinct rows in the parts, want 600", len(seen))
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(a.Files) {
		t.Errorf("the directory holds %d files, the archive %d: no partial file may stay", len(entries), len(a.Files))
	}
}

func itoa(i int) string { return strings.TrimSpace(jsonNumber(i)) }

// TestExportRowTooLarge: a row that cannot fit an attachment stops the export
// with the table named, and nothing is left behind.
func TestExportRowTooLarge(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	execSQL(t, e.sbx, `UPDATE "Odd Schema"."select/ä""q" SET "Mixed Case" = repeat('x', 20000) WHERE "Key Col" = 'k 1E';
UPDATE plain SET name = 'edited' WHERE id = 5;`)
	dir := t.TempDir()
	_, err := runExport(t, e.cloner, "acme-prod", "acme-sandbox", ArchiveConfig{Dir: dir, MaxBytes: 16 << 10})
	if err == nil || !strings.Contains(err.Error(), `a row of table "Odd Schema"."select/ä""q" is`) {
		t.Fatalf("export of a row over the limit: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed export left %d files", len(entries))
	}
}

func TestExportNothingToSave(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	execSQL(t, e.prod, `INSERT INTO plain (id, name) VALUES (9001, 'only in production')`)
	dir := t.TempDir()
	x, err := runExport(t, e.cloner, "acme-prod", "acme-sandbox", ArchiveConfig{Dir: dir})
	if err != nil || len(x.Archives) != 0 || x.Rows() != 0 || x.Drift[0].OnlyInProduction != 1 {
		t.Fatalf("export with nothing only in the sandbox: %+v, %v", x, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("an empty export wrote %d files", len(entries))
	}
}

func TestExportConfig(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  ArchiveConfig
		want string
	}{
		{ArchiveConfig{Instance: "x"}, "no directory"},
		{ArchiveConfig{Dir: t.TempDir()}, "no instance"},
		{ArchiveConfig{Dir: filepath.Join(t.TempDir(), "missing"), Instance: "x"}, "no such file"},
		{ArchiveConfig{Dir: file, Instance: "x"}, "not a directory"},
	}
	for _, tt := range tests {
		if err := tt.cfg.check(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.cfg, err, tt.want)
		}
	}
	ok := ArchiveConfig{Dir: t.TempDir(), Instance: "x"}
	if err := ok.check(); err != nil || ok.MaxBytes != ZendeskAttachmentMaxBytes || ok.At.IsZero() {
		t.Errorf("defaults: %+v, %v", ok, err)
	}
}

// TestExportMissingRow: a row gone between the comparison and the read (the
// sandbox changed under a transaction that does not keep its snapshot) stops
// the export instead of saving less than the clone deletes.
func TestExportMissingRow(t *testing.T) {
	t.Parallel()
	e := newDriftEnv(t)
	ctx := context.Background()
	conn := connectT(t, e.sbx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var oid uint32
	if err := tx.QueryRow(ctx, "SELECT 'smalls'::regclass::oid").Scan(&oid); err != nil {
		t.Fatal(err)
	}
	dt := DriftTable{Schema: "public", Name: "smalls", Category: "c", Key: []string{"id"},
		Columns: []DriftColumn{{Name: "id", Type: "smallint", Hash: "hashtextextended"}, {Name: "v", Type: "text", Hash: "hashtextextended"}}}
	w := newArchiveWriter(ArchiveConfig{Dir: t.TempDir(), Instance: "x", MaxBytes: -1, At: time.Now()})
	if err := w.begin(&dt); err != nil {
		t.Fatal(err)
	}
	batch := []spooled{{kind: changedRow, loc: rowLoc{table: oid, block: 0, offset: 1}}, {kind: changedRow, loc: rowLoc{table: oid, block: 4000, offset: 1}}}
	err = fetchRows(ctx, tx, fetchSQL(&dt), &dt, batch, []byte(`{"table":"x","change":"`), w)
	if err == nil || !strings.Contains(err.Error(), "changed while it was being exported") {
		t.Errorf("a row that is not where the comparison found it: %v", err)
	}
	w.abort()
}
