package rules

import (
	"regexp"
	"testing"
)

// Reasons are stored: each is a short code of its own, with wording apart.
func TestReasonsAreShortCodesWithWording(t *testing.T) {
	code := regexp.MustCompile(`^[a-z][a-z_]{2,23}$`)
	seen := map[Reason]bool{}
	for _, r := range Reasons() {
		if !code.MatchString(string(r)) {
			t.Errorf("reason %q is not a short snake_case code", r)
		}
		if seen[r] {
			t.Errorf("reason %q is listed twice", r)
		}
		seen[r] = true
		if r.Text() == string(r) || r.Text() == "" {
			t.Errorf("reason %q has no wording", r)
		}
	}
	if got := Reason("request valid, awaiting approval").Text(); got != "request valid, awaiting approval" {
		t.Errorf("an unknown reason reads %q, want itself", got)
	}
}
