package parser

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// quoteLimit is how many characters of an input a problem quotes.
const quoteLimit = 80

// quote prepares customer input for a Problem.Value: valid UTF-8, one
// line, no control characters, and short enough for a comment.
func quote(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return -1
		}
		return r
	}, s)
	return truncate(s, quoteLimit)
}

// truncate shortens s to at most n runes, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return string(runes[:n-1]) + "…"
}
