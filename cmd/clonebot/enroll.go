package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/gaiia/clonebot/cloner"
)

// runEnroll writes an instance's marker into its database: the proof that plan and
// clone ask for before they touch it.
func runEnroll(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("enroll")
	name := fs.String("instance", "", "the instance whose database to enroll (required)")
	force := fs.Bool("force", false, "write over a marker that names another instance, environment or tenant")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *name == "" {
		return usageError("enroll", "--instance is required")
	}
	c, err := newCloner(*path, getenv, newConsole(stderr))
	if err != nil {
		return err
	}
	e, err := c.Enroll(ctx, *name, cloner.EnrollOptions{Force: *force, Operator: operator(), Version: version})
	if errors.Is(err, cloner.ErrEnrollRefused) {
		return &exitError{code: 2, err: err}
	}
	if err != nil {
		return interrupted(ctx, fmt.Errorf("enroll %s: %w", *name, err), "enroll")
	}
	return writeEnrollment(stdout, e)
}

func writeEnrollment(w io.Writer, e *cloner.Enrollment) error {
	m := e.Marker
	var b strings.Builder
	if e.Unchanged {
		fmt.Fprintf(&b, "%s is already enrolled: nothing written.\n", m.Instance)
	} else {
		fmt.Fprintf(&b, "%s enrolled.\n", m.Instance)
	}
	fmt.Fprintf(&b, "  marker: %s\n  in %s\n", m.String(), m.Database)
	if e.Previous != nil && !e.Unchanged {
		fmt.Fprintf(&b, "  replaced: %s\n", e.Previous.String())
	}
	if len(e.Unchecked) > 0 {
		fmt.Fprintf(&b, "  warning: %s did not answer, so they could not be checked to reach other databases; run serve or enroll again once they answer\n", strings.Join(e.Unchecked, ", "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// operator names who runs the command, for the marker: OS user and host.
func operator() string {
	name := fmt.Sprintf("uid %d", os.Getuid())
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, err := os.Hostname()
	if err != nil {
		host = "unknown host"
	}
	return name + "@" + host
}
