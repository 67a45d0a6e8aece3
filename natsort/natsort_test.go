package natsort

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"numbers by value", []string{"Flow 10", "Flow 2", "Flow 1"}, []string{"Flow 1", "Flow 2", "Flow 10"}},
		{"case ignored", []string{"beta", "Alpha", "alpha 2", "Gamma"}, []string{"Alpha", "alpha 2", "beta", "Gamma"}},
		{"several runs", []string{"v1.10.0", "v1.2.10", "v1.2.9", "v1.2"}, []string{"v1.2", "v1.2.9", "v1.2.10", "v1.10.0"}},
		{"prefix first", []string{"Flow 1a", "Flow 1", "Flow"}, []string{"Flow", "Flow 1", "Flow 1a"}},
		{"leading zeros only break ties", []string{"item 010", "item 9", "item 08", "item 8"}, []string{"item 8", "item 08", "item 9", "item 010"}},
		{"numbers past 64 bits", []string{"n 100000000000000000000000", "n 99999999999999999999999"}, []string{"n 99999999999999999999999", "n 100000000000000000000000"}},
		{"non-ASCII letters fold too", []string{"Élan 2", "élan 10", "élan 1"}, []string{"élan 1", "Élan 2", "élan 10"}},
		{"equal but for case: upper first", []string{"flow", "Flow"}, []string{"Flow", "flow"}},
		{"digits before letters", []string{"Flow b", "Flow 3"}, []string{"Flow 3", "Flow b"}},
		{"empty first", []string{"a", ""}, []string{"", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := slices.Clone(tt.in)
			Strings(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Strings(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestBy(t *testing.T) {
	t.Parallel()
	type wf struct {
		name string
		id   int
	}
	s := []wf{{"Flow 10", 1}, {"Flow 2", 2}, {"flow 2", 3}, {"Flow 2", 4}}
	By(s, func(w wf) string { return w.name })
	var ids []int
	for _, w := range s {
		ids = append(ids, w.id)
	}
	if want := []int{2, 4, 3, 1}; !slices.Equal(ids, want) {
		t.Errorf("order of ids %v, want %v (stable among equal names)", ids, want)
	}
}

// TestCompareIsATotalOrder checks the properties sorting relies on over random
// names built from a small alphabet, so that ties and shared prefixes are frequent.
func TestCompareIsATotalOrder(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"0", "1", "2", "9", "00", "a", "A", "b", " ", "é", "É", "."}
	names := make([]string, 300)
	for i := range names {
		for n := r.IntN(6); n > 0; n-- {
			names[i] += alphabet[r.IntN(len(alphabet))]
		}
	}
	for _, a := range names {
		for _, b := range names {
			ab, ba := Compare(a, b), Compare(b, a)
			if ab != -ba {
				t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
			}
			if (ab == 0) != (a == b) {
				t.Fatalf("Compare(%q, %q) = %d", a, b, ab)
			}
		}
	}
	Strings(names)
	for i := 1; i < len(names); i++ {
		for j := i; j < len(names); j++ {
			if Compare(names[i-1], names[j]) > 0 {
				t.Fatalf("not transitive: %q sorted before %q but compares after it", names[i-1], names[j])
			}
		}
	}
}

func FuzzCompare(f *testing.F) {
	f.Add("Flow 2", "Flow 10")
	f.Add("a01", "a1")
	f.Add("É", "e")
	f.Fuzz(func(t *testing.T, a, b string) {
		if Compare(a, b) != -Compare(b, a) {
			t.Fatalf("Compare(%q, %q) is not antisymmetric", a, b)
		}
		if (Compare(a, b) == 0) != (a == b) {
			t.Fatalf("Compare(%q, %q) = 0 for different strings", a, b)
		}
	})
}
