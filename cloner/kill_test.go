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

// childEnv makes the test binary a clone (or rollback) process that stops at a
// given point (see runChild), for a test that kills it with SIGKILL there.
const childEnv = "CLONER_TEST_CHILD"

// Where a child stops, waiting for SIGKILL.
const (
	stopInCopy       = "copy"        // a swap's or in-place clone's load, third table
	stopInForeignKey = "foreign key" // a swap's foreign keys, while tables still load
	stopInSwitch     = "switch"      // inside the switch transaction, everything moved, before commit
	stopInRollback   = "rollback"    // a rollback's restore, before commit
	childStopOutput  = "STOPPED"
)

// runChild clones CLONER_CHILD_PROD into CLONER_CHILD_SBX (or rolls the sandbox
// back) and hangs at CLONER_CHILD_AT, printing STOPPED so the parent knows when to
// kill it.
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
	at := os.Getenv("CLONER_CHILD_AT")
	stop := func() {
		fmt.Println(childStopOutput)
		select {} // wait for SIGKILL
	}
	if at == stopInRollback {
		_, err = c.Rollback(context.Background(), "acme-sandbox", RollbackOptions{Progress: func(p Progress) {
			if p.Phase == "commit" {
				stop()
			}
		}})
		fmt.Println("ERROR rollback finished:", err)
		return 1
	}
	opts := Options{Progress: func(p Progress) {
		switch {
		case at == stopInCopy && p.Phase == "copy" && p.TableIndex >= 3:
			stop()
		}
	}}
	if at == stopInForeignKey {
		opts.beforeForeignKey = stop
	}
	if at == stopInSwitch {
		opts.beforeSwitchCommit = stop
	}
	_, err = c.Clone(context.Background(), "acme-prod", "acme-sandbox", opts)
	fmt.Println("ERROR clone finished:", err)
	return 1
}

// killChild runs a child that stops at at, checks it stopped there and kills it.
func killChild(t *testing.T, e *env, at string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// Its own temporary directory: killed, it leaves its export and spool there.
	cmd.Env = append(os.Environ(), childEnv+"=1", "CLONER_CHILD_PROD="+e.prod, "CLONER_CHILD_SBX="+e.sbx, "CLONER_CHILD_AT="+at, "TMPDIR="+t.TempDir())
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
		if !strings.HasPrefix(s, childStopOutput) {
			cmd.Process.Kill() //nolint:errcheck
			t.Fatalf("child: %q", s)
		}
	case <-time.After(90 * time.Second):
		cmd.Process.Kill() //nolint:errcheck
		t.Fatalf("child never reached %s", at)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait() //nolint:errcheck // killed
}

// retryBusy runs fn until the server has noticed the dead child and freed its lock.
func retryBusy[T any](t *testing.T, fn func() (T, error)) (T, error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		v, err := fn()
		if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
			return v, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// SIGKILL at any moment of a clone leaves the sandbox as it was (before its
// switch commits) and the previous rollback copy in place; the next clone cleans up
// what the dead one staged and succeeds.
func TestKilledCloneLeavesSandboxIntact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ method, at string }{
		{MethodSwap, stopInCopy}, {MethodSwap, stopInForeignKey}, {MethodSwap, stopInSwitch}, {MethodInPlace, stopInCopy},
	} {
		t.Run(tc.method+" "+tc.at, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, nil)
			if tc.method == MethodInPlace {
				execSQL(t, e.sbx, inPlaceSQL)
			}
			ctx := context.Background()
			// A first clone leaves a rollback copy, which the killed one must not lose.
			first, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{})
			if err != nil {
				t.Fatal(err)
			}
			execSQL(t, e.sbx, "INSERT INTO workflows (key, name, status, trigger_event) VALUES ('after-first', 'After the first clone', 'draft', 'x')")
			before, schema := fingerprint(t, e.sbx), schemaDump(t, e.sbx)
			killChild(t, e, tc.at)
			sameFingerprint(t, "sandbox after kill", before, fingerprint(t, e.sbx))
			if got := schemaDump(t, e.sbx); got != schema {
				t.Errorf("the sandbox's schema changed:\n%s", diffLines(schema, got))
			}
			copies, err := e.cloner.RollbackCopies(ctx, "acme-sandbox")
			if err != nil || copies["acme-sandbox"] == nil || copies["acme-sandbox"].CloneID != first.ID {
				t.Errorf("rollback copy after the kill: %+v %v, want the first clone's", copies["acme-sandbox"], err)
			}
			rep, err := retryBusy(t, func() (*Report, error) { return e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{}) })
			if err != nil || !rep.Verification.OK {
				t.Fatalf("rerun: %v", err)
			}
			if n := queryInt(t, connectT(t, e.sbx), "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'clonebot_stage_')"); n != 0 {
				t.Errorf("%d stage schemas left after the rerun", n)
			}
		})
	}
}

// SIGKILL during a rollback leaves the cloned sandbox, and its copy: the rollback
// can be run again.
func TestKilledRollbackLeavesCloneIntact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	original := fingerprint(t, e.sbx)
	if _, err := e.cloner.Clone(ctx, "acme-prod", "acme-sandbox", Options{}); err != nil {
		t.Fatal(err)
	}
	cloned := fingerprint(t, e.sbx)
	killChild(t, e, stopInRollback)
	sameFingerprint(t, "sandbox after a killed rollback", cloned, fingerprint(t, e.sbx))
	rep, err := retryBusy(t, func() (*RollbackReport, error) {
		return e.cloner.Rollback(ctx, "acme-sandbox", RollbackOptions{})
	})
	if err != nil || !rep.OK {
		t.Fatalf("rollback after the kill: %v", err)
	}
	sameFingerprint(t, "sandbox after the rollback", original, fingerprint(t, e.sbx))
}
