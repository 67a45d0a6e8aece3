package parser

import (
	"strconv"
	"strings"
	"testing"
)

func TestReadUsers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		want     []User
		problems int
	}{
		{"one per line", "a@acme.com\nb@acme.com", []User{{Email: "a@acme.com"}, {Email: "b@acme.com"}}, 0},
		{"commas and semicolons", "a@acme.com, b@acme.com;c@acme.com", []User{{Email: "a@acme.com"}, {Email: "b@acme.com"}, {Email: "c@acme.com"}}, 0},
		{"name and role", "Jane Doe <Jane@Acme.com> (Billing  Admin)", []User{{"Jane Doe", "jane@acme.com", "Billing Admin"}}, 0},
		{"quoted name with comma", `"Doe, Jane" <jane@acme.com>`, []User{{"Doe, Jane", "jane@acme.com", ""}}, 0},
		{"bullets", "- a@acme.com\n* b@acme.com\n• c@acme.com\n1. d@acme.com\n2) e@acme.com",
			[]User{{Email: "a@acme.com"}, {Email: "b@acme.com"}, {Email: "c@acme.com"}, {Email: "d@acme.com"}, {Email: "e@acme.com"}}, 0},
		{"mailto", "mailto:a@acme.com", []User{{Email: "a@acme.com"}}, 0},
		{"duplicates fold", "a@acme.com\nA@ACME.COM (admin)\nAnn <a@acme.com>", []User{{"Ann", "a@acme.com", "admin"}}, 0},
		{"same role twice", "a@acme.com (Admin)\na@acme.com (admin)", []User{{Email: "a@acme.com", Role: "Admin"}}, 0},
		{"conflicting roles", "a@acme.com (admin)\na@acme.com (viewer)", nil, 1},
		{"blank lines and trailing separators", "\n\na@acme.com,,;\n\n", []User{{Email: "a@acme.com"}}, 0},
		{"empty", "  \n ,; ", nil, 1},
		{"no dot in domain", "a@localhost", nil, 1},
		{"space inside", "a b@acme.com", nil, 1},
		{"two ats", "a@b@acme.com", nil, 1},
		{"dot at end of local", "a.@acme.com", nil, 1},
		{"hyphen label", "a@-acme.com", nil, 1},
		{"numeric tld", "a@10.0.0.1", nil, 1},
		{"ip literal", "a@[10.0.0.1]", nil, 1},
		{"quoted local", `"a b"@acme.com`, nil, 1},
		{"two brackets", "A <a@acme.com> <b@acme.com>", nil, 1},
		{"unclosed bracket", "A <a@acme.com", nil, 1},
		{"bad role", "a@acme.com (<script>)", nil, 1},
		{"non-ascii name", "Zoë Ådahl <zoe@acme.com>", []User{{"Zoë Ådahl", "zoe@acme.com", ""}}, 0},
		{"idn domain", "a@exämple.com", []User{{Email: "a@exämple.com"}}, 0},
		{"control char", "a\x00@acme.com", nil, 1},
		{"valid and invalid", "a@acme.com\nnot-an-address", []User{{Email: "a@acme.com"}}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, problems := readUsers(tt.in)
			if len(problems) != tt.problems {
				t.Fatalf("readUsers(%q) problems = %v, want %d", tt.in, problems, tt.problems)
			}
			if tt.problems > 0 && tt.want == nil {
				return
			}
			if len(got) != len(tt.want) {
				t.Fatalf("readUsers(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("readUsers(%q)[%d] = %+v, want %+v", tt.in, i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadUsersLimits(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range MaxUsers {
		b.WriteString(strings.Repeat("x", i%5+1) + "." + string(rune('a'+i%26)) + strconv.Itoa(i) + "@acme.com\n")
	}
	if users, problems := readUsers(b.String()); len(users) != MaxUsers || len(problems) != 0 {
		t.Fatalf("%d users: got %d users and problems %v", MaxUsers, len(users), problems)
	}
	b.WriteString("one.more@acme.com")
	if _, problems := readUsers(b.String()); len(problems) != 1 {
		t.Fatalf("%d users: problems %v, want one", MaxUsers+1, problems)
	}
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("e", 62) + ".com"
	if _, problems := readUsers(long); len(problems) != 1 || len([]rune(problems[0].Value)) > quoteLimit {
		t.Fatalf("long address: problems %v, want one with a truncated value", problems)
	}
}
