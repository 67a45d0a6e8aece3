package parser

import "strings"

// isExplicitYes is the wipe-confirmation rule for text answers. The
// answer, lower-cased, with runs of spaces collapsed, surrounding quotes or
// markdown emphasis removed, and trailing "." or "!" dropped, must be one
// of a short list of phrases that can only mean yes. Anything else, even
// "yes but keep X", "yes?" or "I think so", is not a confirmation: the
// clone destroys the sandbox, so a doubtful answer is asked again.
func isExplicitYes(answer string) bool {
	a := strings.ToLower(strings.Join(strings.Fields(answer), " "))
	a = strings.Trim(a, "\"'`*_ “”‘’")
	a = strings.TrimRight(a, ".!")
	switch a {
	case "yes", "y", "true", "confirmed", "confirm", "i confirm",
		"yes, confirmed", "yes confirmed",
		"yes, it can be wiped", "yes it can be wiped",
		"yes, the sandbox can be wiped", "yes the sandbox can be wiped",
		"yes, wipe it", "yes wipe it":
		return true
	}
	return false
}
