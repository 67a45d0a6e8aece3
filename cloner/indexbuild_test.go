package cloner

import (
	"slices"
	"testing"
)

// A GIN build gets its own memory and gives the next builds theirs back; other
// builds run as they are.
func TestIndexBuildMemory(t *testing.T) {
	t.Parallel()
	gin := `CREATE INDEX products_attributes ON "s"."products" USING gin (attributes jsonb_path_ops)`
	want := []string{"SET LOCAL maintenance_work_mem = '16MB'", gin, "SET LOCAL maintenance_work_mem = '64MB'"}
	if got := indexBuild(gin, "gin"); !slices.Equal(got, want) {
		t.Errorf("gin: %q, want %q", got, want)
	}
	for def, method := range map[string]string{
		`CREATE UNIQUE INDEX devices_mac ON "s"."devices" USING btree (mac)`: "btree",
		`CREATE INDEX "x USING gin (" ON "s"."t" USING gist (p)`:             "gist",
	} {
		if got := indexBuild(def, method); !slices.Equal(got, []string{def}) {
			t.Errorf("%s: %q", def, got)
		}
	}
}
