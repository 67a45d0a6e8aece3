package main

import (
	"context"
	"errors"
	"io"
)

// The subcommands below are wired as their capabilities land.

func runPlan(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return errors.New("plan is not available in this build yet")
}

func runClone(_ context.Context, _ []string, _ func(string) string, _, _ io.Writer) error {
	return errors.New("clone is not available in this build yet")
}
