package cloner

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
)

// childEnv makes the test binary a clone process that stops mid-load (see runChild),
// for a test that kills it with SIGKILL.
const childEnv = "CLONER_TEST_CHILD"

// runChild clones CLONER_CHILD_PROD into CLONER_CHILD_SBX and hangs after two
// cloned tables are loaded, printing LOADING so the parent knows when to kill it.
func runChild() int {
	log := logrus.New()
	log.SetOutput(io.Discard)
	c, err := New(Config{
		Instances: []Instance{
			{Name: "acme-prod", Tenant: "acme", Environment: Production, DatabaseURL: os.Getenv("CLONER_CHILD_PROD")},
			{Name: "acme-sandbox", Tenant: "acme", Environment: Sandbox, DatabaseURL: os.Getenv("CLONER_CHILD_SBX")},
		},
		Logger: logrus.NewEntry(log),
	})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	_, err = c.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{Progress: func(p Progress) {
		if p.Phase == "copy" && p.TableIndex == 3 && !p.TableDone {
			fmt.Println("LOADING")
			select {} // wait for SIGKILL
		}
	}})
	fmt.Println("ERROR clone finished:", err)
	return 1
}

func TestKilledCloneLeavesSandboxIntact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	before := fingerprint(t, e.sbx)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CLONER_CHILD_PROD="+e.prod, "CLONER_CHILD_SBX="+e.sbx)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "LOADING") {
			cmd.Process.Kill() //nolint:errcheck
			t.Fatalf("child: %q", s)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatal("child never reached the load")
	}
	// The child's transaction has wiped the sandbox tables: it holds their locks.
	sbx := connectT(t, e.sbx)
	if n := queryInt(t, sbx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = current_database() AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'`); n == 0 {
		t.Error("child holds no table locks: not mid-load")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed

	sameFingerprint(t, "sandbox after kill", before, fingerprint(t, e.sbx))
	var rep *Report
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep, err = e.cloner.Clone(context.Background(), "acme-prod", "acme-sandbox", Options{})
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the server has not yet noticed the dead client
	}
	if err != nil || !rep.Verification.OK {
		t.Fatalf("rerun: %v", err)
	}
}
