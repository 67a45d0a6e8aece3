package cloner

import (
	"context"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// BenchmarkDrift compares the drift of every cloned table with reading both sides
// once: each table's compared columns streamed by COPY from production and the
// sandbox at the same time and thrown away, the least any comparison must do.
// It reports both times, their ratio and the peak Go heap during the drift.
//
// By default it runs on the small test schema. bench/drift.sh runs it on
// gigabyte instances: CLONEBOT_BENCH_DRIFT_PROD and CLONEBOT_BENCH_DRIFT_SANDBOX
// name two enrolled databases of the built-in manifest's schema, or of the
// manifest CLONEBOT_BENCH_DRIFT_MANIFEST names.
func BenchmarkDrift(b *testing.B) {
	c := benchCloner(b)
	ctx := context.Background()
	p, err := c.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !p.OK() {
		b.Fatalf("plan: %v %v", err, p.Problems)
	}
	tables := p.driftTables()
	prod, sbx := connectT(b, c.instances["acme-prod"].DatabaseURL), connectT(b, c.instances["acme-sandbox"].DatabaseURL)
	var refTotal, driftTotal time.Duration
	var peak uint64
	var read, rows int64
	b.ResetTimer()
	for i := range b.N {
		// Alternate which goes first, so that caches and a shared machine's noise
		// favour neither.
		runs := []func(){
			func() {
				t, _ := timed(b, prod, sbx, func(pt, st pgx.Tx) { read = readBoth(b, pt, st, tables) })
				refTotal += t
			},
			func() {
				var d []Drift
				t, pk := timed(b, prod, sbx, func(pt, st pgx.Tx) {
					var err error
					if d, err = driftTables(ctx, pt, st, tables, lookupMaxKeys); err != nil {
						b.Fatal(err)
					}
				})
				driftTotal += t
				peak = max(peak, pk)
				rows = 0
				for _, x := range d {
					rows += x.Rows()
				}
			},
		}
		if i%2 == 1 {
			runs[0], runs[1] = runs[1], runs[0]
		}
		runs[0]()
		runs[1]()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(refTotal.Seconds()/n, "read-both-s/op")
	b.ReportMetric(driftTotal.Seconds()/n, "drift-s/op")
	b.ReportMetric(driftTotal.Seconds()/refTotal.Seconds(), "ratio")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(read)/(1<<20), "read-MB")
	b.ReportMetric(float64(rows), "drift-rows")
}

// BenchmarkExport times the sandbox export (the drift, then every row to save
// read back and written into the archives) beside the drift alone, with the
// peak Go heap and the archives' size, on the instances of BenchmarkDrift.
func BenchmarkExport(b *testing.B) {
	c := benchCloner(b)
	ctx := context.Background()
	p, err := c.Plan(ctx, "acme-prod", "acme-sandbox")
	if err != nil || !p.OK() {
		b.Fatalf("plan: %v %v", err, p.Problems)
	}
	tables := p.driftTables()
	prod, sbx := connectT(b, c.instances["acme-prod"].DatabaseURL), connectT(b, c.instances["acme-sandbox"].DatabaseURL)
	var driftTotal, exportTotal, checkTotal time.Duration
	var peak uint64
	var rows, size int64
	b.ResetTimer()
	for range b.N {
		var x *SandboxExport
		t, _ := timed(b, prod, sbx, func(pt, st pgx.Tx) {
			if _, err := driftTables(ctx, pt, st, tables, lookupMaxKeys); err != nil {
				b.Fatal(err)
			}
		})
		driftTotal += t
		dir := b.TempDir()
		t, pk := timed(b, prod, sbx, func(pt, st pgx.Tx) {
			var err error
			if x, err = exportSandboxWork(ctx, pt, st, tables, ArchiveConfig{Dir: dir, Instance: "acme-sandbox"}, lookupMaxKeys); err != nil {
				b.Fatal(err)
			}
			rows, size = x.Rows(), 0
			for _, a := range x.Archives {
				for _, f := range a.Files {
					size += f.Bytes
				}
			}
		})
		exportTotal += t
		peak = max(peak, pk)
		os.RemoveAll(dir)
		checkTotal += timeCheck(b, sbx, x)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(driftTotal.Seconds()/n, "drift-s/op")
	b.ReportMetric(exportTotal.Seconds()/n, "export-s/op")
	b.ReportMetric(float64(rows), "exported-rows")
	b.ReportMetric(float64(size)/(1<<20), "archives-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
	b.ReportMetric(checkTotal.Seconds()/float64(b.N), "switch-check-s/op")
}

// timeCheck times what a swap's switch checks before it moves anything: that
// every cloned table still holds the rows x saw (nothing wrote meanwhile).
func timeCheck(b *testing.B, sbx *pgx.Conn, x *SandboxExport) time.Duration {
	ctx := context.Background()
	tx, err := sbx.Begin(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only
	r := &run{exported: x, report: &Report{To: "acme-sandbox"}}
	start := time.Now()
	if err := r.checkUnchanged(ctx, tx); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// timed runs f on fresh snapshots of both sides and returns its duration and the
// peak heap seen meanwhile.
func timed(b *testing.B, prod, sbx *pgx.Conn, f func(pt, st pgx.Tx)) (time.Duration, uint64) {
	ctx := context.Background()
	pt, err := prod.BeginTx(ctx, snapshotTx)
	if err != nil {
		b.Fatal(err)
	}
	defer pt.Rollback(ctx) //nolint:errcheck // read only
	st, err := sbx.BeginTx(ctx, snapshotTx)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Rollback(ctx) //nolint:errcheck // read only
	runtime.GC()
	stop := make(chan struct{})
	var peak atomic.Uint64
	var wg sync.WaitGroup
	wg.Go(func() { samplePeak(stop, &peak) })
	start := time.Now()
	f(pt, st)
	d := time.Since(start)
	close(stop)
	wg.Wait()
	return d, peak.Load()
}

// samplePeak records the largest heap in use until stop closes.
func samplePeak(stop <-chan struct{}, peak *atomic.Uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64() + s[1].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// readBoth streams each table's compared columns from both sides at once, as
// the drift reads them, and returns the bytes read.
func readBoth(b *testing.B, pt, st pgx.Tx, tables []DriftTable) int64 {
	ctx := context.Background()
	var total atomic.Int64
	for i := range tables {
		t := &tables[i]
		var wg sync.WaitGroup
		for _, side := range []struct {
			conn       *pgconn.PgConn
			production bool
		}{{pt.Conn().PgConn(), true}, {st.Conn().PgConn(), false}} {
			wg.Go(func() {
				cw := &countingWriter{w: io.Discard}
				if _, err := side.conn.CopyTo(ctx, cw, readSQL(t, side.production)); err != nil {
					b.Error(err)
				}
				total.Add(cw.n.Load())
			})
		}
		wg.Wait()
	}
	return total.Load()
}

func readSQL(t *DriftTable, production bool) string {
	cols := ""
	for i, c := range t.Columns {
		if i > 0 {
			cols += ", "
		}
		if production && c.Nulled {
			cols += "NULL::" + c.Type
		} else {
			cols += "r." + col(c.Name)
		}
	}
	return "COPY (SELECT " + cols + " FROM " + t.from() + " r) TO STDOUT (FORMAT binary)"
}

func benchCloner(b *testing.B) *Cloner {
	prod, sbx := os.Getenv("CLONEBOT_BENCH_DRIFT_PROD"), os.Getenv("CLONEBOT_BENCH_DRIFT_SANDBOX")
	if prod == "" || sbx == "" {
		e := newDriftEnv(b)
		execSQL(b, e.prod, driftMutations(0.25, "prod"))
		execSQL(b, e.sbx, driftMutations(-0.5, "sbx"))
		return e.cloner
	}
	// The instances of bench/drift.sh, enrolled there under these names.
	var m *Manifest
	if path := os.Getenv("CLONEBOT_BENCH_DRIFT_MANIFEST"); path != "" {
		var err error
		if m, err = LoadManifest(path); err != nil {
			b.Fatal(err)
		}
	}
	return newClonerOf(b, m, []Instance{
		{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: prod},
		{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, DatabaseURL: sbx},
	})
}
