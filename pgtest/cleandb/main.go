// Command cleandb drops the template databases that tests build on the test server
// (clonebot_tpl_*). `make test` runs it at the end, as `make clean-db` does; the
// next run builds them again. Copies in progress are waited for, and a template
// in use is left.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gaiia/clonebot/pgtest"
)

func main() {
	dropped, size, err := pgtest.DropTemplates(context.Background(), pgtest.AdminURL(), "")
	fmt.Printf("dropped %d template databases (%.1f MB)\n", len(dropped), float64(size)/1e6)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cleandb:", err)
		os.Exit(1)
	}
}
