package cloner

import (
	"archive/zip"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
)

// The sandbox export is one zip archive per category: a JSON Lines file per
// table, a manifest.json with the counts, and a README.txt. Zip because every
// customer can open it without tools and it holds many files, compressed; JSON
// Lines because each row is one line written as it is read (nothing is held in
// memory) and read back line by line, with jsonb, arrays, numbers and NULLs
// keeping their shape, which CSV would flatten. An archive that would pass the
// attachment limit is split into parts, each complete in itself.

// ZendeskAttachmentMaxBytes bounds one archive by default: Zendesk takes ticket
// attachments up to 50 MB and raises that on no plan. Counted in decimal
// megabytes, it is under the limit whichever way Zendesk counts.
const ZendeskAttachmentMaxBytes = 50_000_000

// exportFormat names the archive layout in every manifest.
const exportFormat = "clonebot-sandbox-export/1"

// ArchiveConfig says where and how the sandbox export is written.
type ArchiveConfig struct {
	// Dir receives the archives; it must exist. Files are never overwritten.
	Dir string
	// Instance is the sandbox's name, in file names and manifests.
	Instance string
	// MaxBytes bounds each archive file: 0 means ZendeskAttachmentMaxBytes, a
	// negative value no bound (an operator's directory).
	MaxBytes int64
	// At is the export's time, in file names and manifests; zero means now.
	At time.Time
	// FirstCategory is exported first (the workflows' category), the others in the
	// order of the tables.
	FirstCategory string
}

func (c *ArchiveConfig) check() error {
	switch {
	case c.Dir == "":
		return errors.New("export: no directory")
	case c.Instance == "":
		return errors.New("export: no instance name")
	}
	if fi, err := os.Stat(c.Dir); err != nil {
		return fmt.Errorf("export directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("export directory %s is not a directory", c.Dir)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = ZendeskAttachmentMaxBytes
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	c.At = c.At.UTC().Truncate(time.Second)
	return nil
}

// Archive is one category's export: one file, or numbered parts.
type Archive struct {
	Category string         `json:"category"`
	Files    []ArchiveFile  `json:"files"`
	Tables   []ArchiveTable `json:"tables"`
	Rows     int64          `json:"rows"`
}

// ArchiveFile is one file of an archive.
type ArchiveFile struct {
	Name  string `json:"name"`
	Path  string `json:"-"`
	Bytes int64  `json:"bytes"`
}

// ArchiveTable counts one table's exported rows over all parts.
type ArchiveTable struct {
	Table         string `json:"table"`
	Rows          int64  `json:"rows"`
	OnlyInSandbox int64  `json:"only_in_sandbox"`
	Changed       int64  `json:"changed"`
}

// manifest is manifest.json, describing one archive file.
type manifest struct {
	Format     string          `json:"format"`
	Instance   string          `json:"instance"`
	Category   string          `json:"category"`
	Part       int             `json:"part"`
	ExportedAt time.Time       `json:"exported_at"`
	Tables     []manifestTable `json:"tables"`
}

type manifestTable struct {
	Table         string   `json:"table"`
	File          string   `json:"file"`
	ComparedBy    string   `json:"compared_by"`
	Key           []string `json:"key"`
	LeftOut       []string `json:"left_out,omitempty"` // scrubbed columns, not exported
	Rows          int64    `json:"rows"`
	OnlyInSandbox int64    `json:"only_in_sandbox"`
	Changed       int64    `json:"changed"`
}

// archiveWriter writes the rows of table after table into the archives of their
// categories, starting a new part whenever the next row could pass MaxBytes.
type archiveWriter struct {
	cfg      ArchiveConfig
	archives []Archive
	table    *DriftTable
	part     *archivePart
	parts    []string // the current category's finished parts, under temporary names
	written  []string // every file created, removed if the export fails
}

func newArchiveWriter(cfg ArchiveConfig) *archiveWriter { return &archiveWriter{cfg: cfg} }

func (w *archiveWriter) category() *Archive {
	if len(w.archives) == 0 {
		return nil
	}
	return &w.archives[len(w.archives)-1]
}

// begin starts the rows of t; a table of another category ends the category
// before it.
func (w *archiveWriter) begin(t *DriftTable) error {
	if a := w.category(); a != nil && a.Category != t.Category {
		if err := w.endCategory(); err != nil {
			return err
		}
	}
	w.table = t
	return nil
}

// row writes one line (a JSON object and its newline) of the current table.
func (w *archiveWriter) row(kind changeKind, line []byte) error {
	if a := w.category(); a == nil || a.Category != w.table.Category {
		w.archives = append(w.archives, Archive{Category: w.table.Category})
	}
	if w.part != nil && w.part.rows > 0 && w.cfg.MaxBytes > 0 && w.part.bound(int64(len(line))) > w.cfg.MaxBytes {
		if err := w.endPart(); err != nil {
			return err
		}
	}
	if w.part == nil {
		if err := w.startPart(); err != nil {
			return err
		}
		if w.cfg.MaxBytes > 0 && w.part.bound(int64(len(line))) > w.cfg.MaxBytes {
			return fmt.Errorf("a row of table %s is %s, too large for an archive of at most %s", w.table.qualified(), HumanBytes(int64(len(line))), HumanBytes(w.cfg.MaxBytes))
		}
	}
	if err := w.part.write(w.table, kind, line); err != nil {
		return fmt.Errorf("write export of table %s: %w", w.table.qualified(), err)
	}
	w.count(kind)
	return nil
}

func (w *archiveWriter) count(kind changeKind) {
	a := w.category()
	a.Rows++
	if n := len(a.Tables); n == 0 || a.Tables[n-1].Table != w.table.qualified() {
		a.Tables = append(a.Tables, ArchiveTable{Table: w.table.qualified()})
	}
	t := &a.Tables[len(a.Tables)-1]
	t.Rows++
	if kind == changedRow {
		t.Changed++
	} else {
		t.OnlyInSandbox++
	}
}

func (w *archiveWriter) startPart() error {
	a := w.category()
	name := fmt.Sprintf("%s.part%d.partial", w.baseName(a.Category), len(w.parts)+1)
	p, err := newArchivePart(filepath.Join(w.cfg.Dir, name), a.Category, len(w.parts)+1, w.cfg)
	if err != nil {
		return fmt.Errorf("export %s: %w", a.Category, err)
	}
	w.written = append(w.written, p.path)
	w.part = p
	return nil
}

func (w *archiveWriter) endPart() error {
	if w.part == nil {
		return nil
	}
	p := w.part
	w.part = nil
	if err := p.close(); err != nil {
		return fmt.Errorf("export %s: %w", p.category, err)
	}
	w.parts = append(w.parts, p.path)
	return nil
}

// endCategory closes the category's last part and gives its parts their final
// names: "<instance>-<time>-<category>.zip", or "...-<i>-of-<n>.zip" when split.
func (w *archiveWriter) endCategory() error {
	if err := w.endPart(); err != nil {
		return err
	}
	a := w.category()
	if a == nil || len(w.parts) == 0 {
		return nil
	}
	for i, tmp := range w.parts {
		name := w.baseName(a.Category) + ".zip"
		if len(w.parts) > 1 {
			name = fmt.Sprintf("%s-%d-of-%d.zip", w.baseName(a.Category), i+1, len(w.parts))
		}
		path := filepath.Join(w.cfg.Dir, name)
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("export: %s already exists", path)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		w.written = append(w.written, path)
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		a.Files = append(a.Files, ArchiveFile{Name: name, Path: path, Bytes: fi.Size()})
	}
	w.parts = nil
	return nil
}

func (w *archiveWriter) baseName(category string) string {
	return safeName(w.cfg.Instance) + "-" + w.cfg.At.Format("20060102-150405") + "-" + safeName(category)
}

// close finishes the last archive and returns them all.
func (w *archiveWriter) close() ([]Archive, error) {
	if err := w.endCategory(); err != nil {
		return nil, err
	}
	return w.archives, nil
}

// abort removes everything written: a failed export leaves no archive that
// looks complete.
func (w *archiveWriter) abort() {
	if w.part != nil {
		w.part.file.Close()
		w.part = nil
	}
	for _, path := range w.written {
		os.Remove(path)
	}
}

// safeName keeps letters, digits and ". _ -" of s, so that it is a file name on
// every system; anything else becomes "_".
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-", r) {
			return r
		}
		return '_'
	}, s)
}

// archivePart is one zip file being written.
type archivePart struct {
	path     string
	category string
	file     *os.File
	out      *countingWriter
	zip      *zip.Writer
	entry    io.Writer
	flate    *flate.Writer // the open entry's compressor
	pending  int64         // bytes given to the compressor since its last flush
	flushAt  int64         // flush the compressor when pending reaches it
	rows     int64
	manifest manifest
	names    map[string]bool
}

// flushEvery bounds how far the written size lags behind what was given to the
// compressor, and so how exact the split is, for a few bytes of compression; a
// small limit flushes more often.
const flushEvery = 256 << 10

func flushAt(limit int64) int64 {
	if limit > 0 && limit/16 < flushEvery {
		return max(limit/16, 1)
	}
	return flushEvery
}

func newArchivePart(path, category string, part int, cfg ArchiveConfig) (*archivePart, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	p := &archivePart{path: path, category: category, file: f, out: &countingWriter{w: f}, names: map[string]bool{}, flushAt: flushAt(cfg.MaxBytes),
		manifest: manifest{Format: exportFormat, Instance: cfg.Instance, Category: category, Part: part, ExportedAt: cfg.At}}
	p.zip = zip.NewWriter(p.out)
	p.zip.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		fw, err := flate.NewWriter(w, flate.DefaultCompression)
		p.flate = fw
		return fw, err
	})
	return p, nil
}

// bound is an upper bound of the file's size once a line of n bytes is written
// and the archive closed: what is written, what the compressor holds (deflate
// never grows data by more than a few bytes per block), the line, and the
// central directory, manifest and README still to come.
func (p *archivePart) bound(n int64) int64 {
	size := p.out.n.Load() + p.pending + p.pending/1000 + n + n/1000 + 64
	size += 4096 + int64(len(readme))
	for _, t := range p.manifest.Tables {
		size += 512 + 3*int64(len(t.File)+len(t.Table))
		for _, c := range append(t.Key, t.LeftOut...) {
			size += 8 + int64(len(c))
		}
	}
	return size
}

func (p *archivePart) write(t *DriftTable, kind changeKind, line []byte) error {
	mt := p.current()
	if mt == nil || mt.Table != t.qualified() {
		if err := p.startEntry(t); err != nil {
			return err
		}
		mt = p.current()
	}
	if _, err := p.entry.Write(line); err != nil {
		return err
	}
	p.rows++
	mt.Rows++
	if kind == changedRow {
		mt.Changed++
	} else {
		mt.OnlyInSandbox++
	}
	p.pending += int64(len(line))
	if p.pending >= p.flushAt {
		return p.flush()
	}
	return nil
}

func (p *archivePart) current() *manifestTable {
	if len(p.manifest.Tables) == 0 {
		return nil
	}
	return &p.manifest.Tables[len(p.manifest.Tables)-1]
}

func (p *archivePart) flush() error {
	if p.flate != nil {
		if err := p.flate.Flush(); err != nil {
			return err
		}
	}
	p.pending = 0
	return p.zip.Flush()
}

func (p *archivePart) startEntry(t *DriftTable) error {
	if err := p.flush(); err != nil {
		return err
	}
	name := safeName(t.qualified())
	for i := 2; p.names[name+".jsonl"]; i++ {
		name = fmt.Sprintf("%s~%d", safeName(t.qualified()), i)
	}
	name += ".jsonl"
	p.names[name] = true
	entry, err := p.create(name)
	if err != nil {
		return err
	}
	p.entry = entry
	key := t.Key
	if !t.keyed() {
		key = nil
	}
	p.manifest.Tables = append(p.manifest.Tables, manifestTable{Table: t.qualified(), File: name, ComparedBy: t.comparedBy(), Key: key, LeftOut: t.Scrubbed})
	return nil
}

func (p *archivePart) create(name string) (io.Writer, error) {
	return p.zip.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: p.manifest.ExportedAt})
}

// close writes the manifest and README and ends the zip file.
func (p *archivePart) close() error {
	m, err := json.MarshalIndent(p.manifest, "", "  ")
	if err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		body []byte
	}{{"manifest.json", append(m, '\n')}, {"README.txt", []byte(readme)}} {
		w, err := p.create(f.name)
		if err != nil {
			return err
		}
		if _, err := w.Write(f.body); err != nil {
			return err
		}
	}
	if err := p.zip.Close(); err != nil {
		p.file.Close()
		return err
	}
	if err := p.file.Sync(); err != nil {
		p.file.Close()
		return err
	}
	return p.file.Close()
}

const readme = `This archive holds rows of a sandbox that a production-to-sandbox clone
deleted or overwrote, saved just before the clone so that nothing made in the
sandbox is lost.

manifest.json lists the tables in this file with their row counts. Each
<schema>.<table>.jsonl file has one JSON object per line:

  {"table": "...", "change": "only_in_sandbox" | "changed", "key": {...}, "row": {...}}

"only_in_sandbox": the row existed only in the sandbox, and the clone removed it.
"changed": production has a row with the same key, and the clone replaced the
sandbox's version, which is the one saved here. "key" is the row's primary key
(null for a table without one) and "row" every column as the sandbox had it,
except the columns named under "left_out" in the manifest: those may hold the
sandbox's own secrets and are never exported.

A large category is split into parts ("-1-of-3"), each complete in itself.
`
