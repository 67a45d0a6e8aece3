package parser

import "testing"

func TestCatalogMatch(t *testing.T) {
	t.Parallel()
	reg := catalog{all: corpusOptions().Registry.All(), org: 360099887766}
	tests := []struct {
		in   string
		want []string
	}{
		{"acme-prod", []string{"acme-prod"}},
		{"  ACME-PROD\t", []string{"acme-prod"}},
		{"Sandbox: acme-sandbox.", []string{"acme-sandbox"}},
		{"Sandbox:acme-sandbox", []string{"acme-sandbox"}},
		{"our prod (acme-prod)", []string{"acme-prod"}},
		{"“acme-prod”", []string{"acme-prod"}},
		{"acme–sandbox", []string{"acme-sandbox"}},
		{"https://acme.example-isp.app", []string{"acme-prod"}},
		{"https://acme.example-isp.app/", []string{"acme-prod"}},
		{"http://ACME.example-isp.app:443/settings?tab=1", []string{"acme-prod"}},
		{"acme.example-isp.app/workflows", []string{"acme-prod"}},
		{"<https://acme-uat.sandbox.example-isp.app/x>", []string{"acme-uat"}},
		{"acme-uat.sandbox.example-isp.app", []string{"acme-uat"}},
		{"the acme-prod instance, i.e. https://acme.example-isp.app", []string{"acme-prod"}},
		{"acme-sandbox or acme-uat", []string{"acme-sandbox", "acme-uat"}},
		{"acme-prod, not beta-prod", []string{"acme-prod", "beta-prod"}},
		{"acme", nil},
		{"acme-prod2", nil},
		{"acme-prod.example-isp.app", nil},
		{"https://evil.example.com/acme.example-isp.app", nil},
		{"dana@acme.example-isp.app", nil},
		{"prod", nil},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		for _, in := range reg.match(tt.in) {
			got = append(got, in.Name)
		}
		if len(got) != len(tt.want) {
			t.Errorf("match(%q) = %v, want %v", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("match(%q) = %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}
