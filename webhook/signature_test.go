package webhook

import (
	"errors"
	"testing"
	"time"
)

// The reference's vector: Zendesk's public test secret, used as plain text.
func TestSignReferenceVector(t *testing.T) {
	t.Parallel()
	got := Sign(TestSecret, "2025-03-04T10:01:02Z", []byte(`{"ticket_id":"48213"}`))
	if want := "KiZZol9QISOph0iCsVHWC+IHs+zKP6oMq4HgiCAFbYg="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC)
	body := []byte(`{"ticket_id":"48213"}`)
	ts := now.Format(time.RFC3339)
	v := verifier{secrets: []string{"old-secret", "new-secret"}, maxAge: 5 * time.Minute, now: func() time.Time { return now }}
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	tests := []struct {
		name     string
		sig, ts  string
		body     []byte
		wantErr  error
		wantPass bool
	}{
		{name: "first secret", sig: Sign("old-secret", ts, body), ts: ts, body: body, wantPass: true},
		{name: "second secret", sig: Sign("new-secret", ts, body), ts: ts, body: body, wantPass: true},
		{name: "fraction in timestamp", sig: Sign("new-secret", "2025-03-04T10:01:02.5Z", body), ts: "2025-03-04T10:01:02.5Z", body: body, wantPass: true},
		{name: "edge of window past", sig: Sign("new-secret", at(-5*time.Minute), body), ts: at(-5 * time.Minute), body: body, wantPass: true},
		{name: "edge of window future", sig: Sign("new-secret", at(5*time.Minute), body), ts: at(5 * time.Minute), body: body, wantPass: true},
		{name: "stale", sig: Sign("new-secret", at(-5*time.Minute-time.Second), body), ts: at(-5*time.Minute - time.Second), body: body, wantErr: ErrStaleTimestamp},
		{name: "future", sig: Sign("new-secret", at(6*time.Minute), body), ts: at(6 * time.Minute), body: body, wantErr: ErrStaleTimestamp},
		{name: "unix seconds timestamp", sig: Sign("new-secret", "1741082462", body), ts: "1741082462", body: body, wantErr: ErrBadTimestamp},
		{name: "unknown secret", sig: Sign("other", ts, body), ts: ts, body: body, wantErr: ErrBadSignature},
		{name: "test secret not configured", sig: Sign(TestSecret, ts, body), ts: ts, body: body, wantErr: ErrBadSignature},
		{name: "body changed", sig: Sign("new-secret", ts, body), ts: ts, body: []byte(`{"ticket_id":"48214"}`), wantErr: ErrBadSignature},
		{name: "timestamp changed", sig: Sign("new-secret", ts, body), ts: at(time.Second), body: body, wantErr: ErrBadSignature},
		{name: "body then timestamp", sig: Sign("new-secret", "", append(append([]byte{}, body...), ts...)), ts: ts, body: body, wantErr: ErrBadSignature},
		{name: "not base64", sig: "%%%", ts: ts, body: body, wantErr: ErrBadSignature},
		{name: "no signature", ts: ts, body: body, wantErr: ErrMissingSignature},
		{name: "no timestamp", sig: Sign("new-secret", "", body), body: body, wantErr: ErrMissingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.verify(tt.sig, tt.ts, tt.body)
			if tt.wantPass {
				if err != nil {
					t.Fatalf("verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestVerifyAcceptsTestSecretOnlyWhenListed(t *testing.T) {
	t.Parallel()
	ts := "2025-03-04T10:01:02Z"
	now := func() time.Time { return time.Date(2025, 3, 4, 10, 1, 2, 0, time.UTC) }
	body := []byte(`{"ticket_id":"48213"}`)
	sig := "KiZZol9QISOph0iCsVHWC+IHs+zKP6oMq4HgiCAFbYg="
	if err := (verifier{secrets: []string{"real"}, maxAge: time.Minute, now: now}).verify(sig, ts, body); !errors.Is(err, ErrBadSignature) {
		t.Errorf("test secret accepted without being configured: %v", err)
	}
	if err := (verifier{secrets: []string{"real", TestSecret}, maxAge: time.Minute, now: now}).verify(sig, ts, body); err != nil {
		t.Errorf("configured test secret refused: %v", err)
	}
}
