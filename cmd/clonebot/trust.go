package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"time"
)

// runTrust says whether this binary trusts a certificate chain: the server's at
// --url, or a PEM file's (leaf first, as `openssl s_client -showcerts` prints it).
// The roots are the system's or, where the system has none (the container image),
// the bundled Mozilla roots. Use it when calls to Zendesk fail with "certificate
// signed by unknown authority", e.g. behind a proxy that re-signs TLS.
func runTrust(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("trust")
	pemFile := fs.String("pem", "", "a PEM file holding the chain to check, leaf first")
	target := fs.String("url", "", "an https:// URL whose server chain to check")
	at := fs.String("at", "", "check the PEM chain's validity at this time (RFC 3339) instead of now")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*pemFile == "") == (*target == "") {
		return usageError("trust", "give either --pem or --url")
	}
	var chain []*x509.Certificate
	var err error
	if *pemFile != "" {
		chain, err = verifyPEM(*pemFile, *at)
	} else {
		chain, err = verifyServer(ctx, *target)
	}
	if err != nil {
		return fmt.Errorf("not trusted: %w", err)
	}
	root := chain[len(chain)-1]
	fmt.Fprintf(stdout, "trusted: %s chains to the root %q\n", name(chain[0]), name(root))
	return nil
}

func name(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return c.Subject.String()
}

// verifyPEM verifies the file's first certificate, with the others as
// intermediates, against the trusted roots.
func verifyPEM(path, at string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for block, rest := pem.Decode(data); block != nil; block, rest = pem.Decode(rest) {
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	opts := x509.VerifyOptions{Intermediates: x509.NewCertPool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if at != "" {
		if opts.CurrentTime, err = time.Parse(time.RFC3339, at); err != nil {
			return nil, &exitError{code: 2, err: fmt.Errorf("trust: --at: %w", err)}
		}
	}
	chains, err := certs[0].Verify(opts)
	if err != nil {
		return nil, err
	}
	return chains[0], nil
}

// verifyServer opens a TLS connection as Zendesk calls do and returns the chain
// that verified.
func verifyServer(ctx context.Context, raw string) ([]*x509.Certificate, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return nil, &exitError{code: 2, err: errors.New("trust: --url must be like https://acme.zendesk.com")}
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	d := tls.Dialer{Config: &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	chains := conn.(*tls.Conn).ConnectionState().VerifiedChains
	if len(chains) == 0 {
		return nil, errors.New("no verified chain")
	}
	return chains[0], nil
}
