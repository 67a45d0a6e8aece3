package parser

import "testing"

func TestIsExplicitYes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want bool
	}{
		{"yes", true}, {"Yes.", true}, {"YES!", true}, {" y ", true}, {"true", true},
		{"confirmed", true}, {"Confirmed.", true}, {"I confirm", true}, {"**yes**", true},
		{"yes, it can be wiped", true}, {"Yes it can be wiped.", true}, {"yes,  confirmed", true},
		{`"yes"`, true}, {"yes, the sandbox can be wiped", true}, {"“yes”", true}, {"‘Yes’", true},
		{"", false}, {"no", false}, {"not yet", false}, {"yes?", false}, {"I think so", false},
		{"yes but keep X", false}, {"yes, but keep the workflows", false}, {"yess", false},
		{"yes no", false}, {"maybe", false}, {"ok", false}, {"n", false}, {"false", false},
		{"yes\nno", false}, {"not confirmed", false}, {"yes - after Friday", false},
	}
	for _, tt := range tests {
		if got := isExplicitYes(tt.in); got != tt.want {
			t.Errorf("isExplicitYes(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
