// Package natsort orders names the way people read lists: runs of digits by their
// numeric value ("Flow 2" before "Flow 10"), letters without regard to case.
package natsort

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Compare returns -1, 0 or +1 as a sorts before, equal to or after b. Digit runs
// compare by value, whatever their length; other characters compare by their
// lower case. Names equal that way are ordered by their leading zeros ("7" before
// "07"), then byte by byte, so that the order is total and only equal strings
// compare equal.
func Compare(a, b string) int {
	if c, tie := compare(a, b); c != 0 {
		return c
	} else if tie != 0 {
		return tie
	}
	return strings.Compare(a, b)
}

// Less reports whether a sorts before b.
func Less(a, b string) bool { return Compare(a, b) < 0 }

// Strings sorts s in place.
func Strings(s []string) { slices.SortFunc(s, Compare) }

// By sorts s in place by the name of each element; equal names keep their order.
func By[T any](s []T, name func(T) string) {
	slices.SortStableFunc(s, func(x, y T) int { return Compare(name(x), name(y)) })
}

// compare walks both strings run by run. It returns the first difference of
// value or letter, and separately the first difference in leading zeros, which
// decides only between names that are otherwise equal.
func compare(a, b string) (c, tie int) {
	for a != "" && b != "" {
		if isDigit(a[0]) && isDigit(b[0]) {
			var da, db string
			da, a = digits(a)
			db, b = digits(b)
			if c := compareNumbers(da, db); c != 0 {
				return c, 0
			}
			if tie == 0 {
				tie = cmp(len(da), len(db))
			}
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if c := cmp(unicode.ToLower(ra), unicode.ToLower(rb)); c != 0 {
			return c, 0
		}
		a, b = a[na:], b[nb:]
	}
	return cmp(len(a), len(b)), tie
}

// compareNumbers compares two runs of ASCII digits by value, without converting
// them: the one with more significant digits is larger.
func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if c := cmp(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func digits(s string) (run, rest string) {
	i := 0
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func cmp[T int | rune](x, y T) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
