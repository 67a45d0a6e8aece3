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
		{"numbered labels, a no-break space before the colon, unseen characters",
			"1. Production\u00a0: acme-prod\n2) \ufeffSandbox: acme-\u200bsandbox\n– Wipe confirmed: yes\u200b",
			[numKeys][]string{{"acme-prod"}, {"acme-sandbox"}, {"yes"}, nil}},
		{"a forwarded message is older", "Please replace acme-uat instead, do not wipe yet.\n\n---------- Forwarded message ---------\nSandbox: acme-sandbox\nWipe confirmed: yes",
			[numKeys][]string{}},
		{"an Outlook original message", "Sandbox: acme-uat\n\n-----Original Message-----\nFrom: Dana\nSent: Monday\nSandbox: acme-sandbox",
			[numKeys][]string{nil, {"acme-uat"}, nil, nil}},
		{"an Outlook header block", "Sandbox: acme-uat\n________________________________\nSandbox: acme-sandbox",
			[numKeys][]string{nil, {"acme-uat"}, nil, nil}},
		{"an Outlook header without a separator", "Sandbox: acme-uat\n\nFrom: Dana Whitfield <dana@acme.example>\nDate: Mon, 30 Nov 2026\nSandbox: acme-sandbox",
			[numKeys][]string{nil, {"acme-uat"}, nil, nil}},
		{"a reply quoted after 'On ... wrote:'", "Wipe confirmed: no\n\nOn Mon, 30 Nov 2026 at 10:02, Dana <dana@acme.example> wrote:\nWipe confirmed: yes",
			[numKeys][]string{nil, nil, {"no"}, nil}},
		{"a From: line alone is the customer's own text", "From: the platform team\nSandbox: acme-sandbox",
			[numKeys][]string{nil, {"acme-sandbox"}, nil, nil}},
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
