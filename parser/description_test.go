package parser

import (
	"strings"
	"testing"
)

func TestReadDescription(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want [numKeys][]string
	}{
		{"plain labels", "Production instance: acme-prod\nSandbox: acme-sandbox\nWipe confirmed: yes\nUsers: a@x.com",
			[numKeys][]string{{"acme-prod"}, {"acme-sandbox"}, {"yes"}, {"a@x.com"}}},
		{"labels case-insensitive, CRLF", "PRODUCTION INSTANCE : acme-prod\r\nsandbox instance:acme-uat\r\n",
			[numKeys][]string{{"acme-prod"}, {"acme-uat"}, nil, nil}},
		{"users continue on bullets", "Users:\n\n- a@x.com\n- b@x.com\nThanks!\nUsers are great: no",
			[numKeys][]string{nil, nil, nil, {"- a@x.com\n- b@x.com"}}},
		{"users inline and continued", "Users to re-invite: a@x.com\nb@x.com\n\nc@x.com",
			[numKeys][]string{nil, nil, nil, {"a@x.com\nb@x.com"}}},
		{"users stop at next label", "Users:\n- a@x.com\nWipe confirmed: yes",
			[numKeys][]string{nil, nil, {"yes"}, {"- a@x.com"}}},
		{"markdown", "- **Sandbox instance:** acme-sandbox\n__Wipe confirmed__: **Yes**",
			[numKeys][]string{nil, {"acme-sandbox"}, {"Yes"}, nil}},
		{"sandbox can be wiped is the wipe answer", "Sandbox can be wiped: yes",
			[numKeys][]string{nil, nil, {"yes"}, nil}},
		{"prose is not a label", "Our production instance is acme-prod and the sandbox is acme-sandbox.\n> Sandbox: quoted-reply",
			[numKeys][]string{}},
		{"full-width colon", "Sandbox：acme-sandbox", [numKeys][]string{nil, {"acme-sandbox"}, nil, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := readDescription(tt.in)
			for k := range numKeys {
				if strings.Join(got[k], "|") != strings.Join(tt.want[k], "|") || len(got[k]) != len(tt.want[k]) {
					t.Errorf("answer %d = %q, want %q", k, got[k], tt.want[k])
				}
			}
		})
	}
}
