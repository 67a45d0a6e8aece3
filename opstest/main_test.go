// Package opstest runs real `clonebot serve` processes against a real PostgreSQL and
// the Zendesk simulator, and proves the service under replicas, crashes and faults:
// two replicas sharing one bot database, a replica killed mid-clone or mid-rollback,
// the bot database going away during intake, an instance database unreachable at
// clone time, and Zendesk down for a while. Each scenario logs its timings as "outcome:" lines
// (go test -v ./opstest/).
package opstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the race-enabled clonebot built once for all scenarios.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clonebot-opstest")
	if err != nil {
		fmt.Fprintln(os.Stderr, "temp dir:", err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "clonebot")
	build := exec.Command("go", "build", "-race", "-o", binary, "../cmd/clonebot")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build clonebot:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
