package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/gaiia/clonebot/config"
)

// runHealth asks a running serve whether it is ready: exit 0 when /readyz answers
// 200, 1 otherwise. The container image has no shell or curl, so its HEALTHCHECK
// runs this.
func runHealth(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs, path := newFlags("health")
	target := fs.String("url", "", "the URL to check (default /readyz on the configuration's listen port, on 127.0.0.1)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	url := *target
	if url == "" {
		var err error
		if url, err = readyzURL(*path, getenv); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	status, err := probe(ctx, url)
	if err != nil {
		return fmt.Errorf("not ready: %s: %w", url, err)
	}
	fmt.Fprintln(stdout, status)
	return nil
}

// readyzURL is /readyz on the port serve listens on, per the configuration.
func readyzURL(flagValue string, getenv func(string) string) (string, error) {
	path, source := configPath(flagValue, getenv)
	listen, err := config.ReadListen(path, getenv)
	switch {
	case errors.Is(err, fs.ErrNotExist) && source == "the default":
		listen = ":8080"
	case err != nil: // not ready as far as anyone can tell; Docker reserves exit 2
		return "", fmt.Errorf("not ready: %w", err)
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("not ready: %s: listen %q is not HOST:PORT", path, listen)
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// probe GETs url and returns its status, or an error with the reason serve gave.
func probe(ctx context.Context, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct{ Status, Reason string }
	_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		if body.Reason != "" {
			return "", fmt.Errorf("%s (HTTP %d)", body.Reason, resp.StatusCode)
		}
		return "", fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if body.Status == "" {
		body.Status = "ok"
	}
	return body.Status, nil
}
