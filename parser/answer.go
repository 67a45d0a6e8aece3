package parser

import (
	"encoding/json"
	"fmt"
	"strings"
)

// answer is what a ticket says for one question of the request.
type answer struct {
	value     any  // string, bool or []string; nil when not answered
	fromField bool // the custom field answered, not the description
}

func (a answer) missing() bool { return a.value == nil }

// text returns the answer as text; ok is false for a checkbox value and
// for a JSON object (a lookup field), which must not be mined for names.
func (a answer) text() (string, bool) {
	switch v := a.value.(type) {
	case string:
		return v, !isJSONObject(v)
	case []string:
		return strings.Join(v, "\n"), true
	}
	return "", false
}

// lookup reads one answer: the custom field when it holds anything, since
// the customer can still edit it while the description is fixed once the
// ticket exists; otherwise the labelled line of the description.
func lookup(t Ticket, fieldID int64, desc descAnswers, key answerKey, field string) (answer, *Problem) {
	if fieldID != 0 {
		if v := visible(t.CustomFields[fieldID]); answered(v) {
			return answer{value: v, fromField: true}, nil
		}
	}
	values := distinct(desc[key])
	switch len(values) {
	case 0:
		return answer{}, nil
	case 1:
		return answer{value: values[0]}, nil
	}
	return answer{}, &Problem{field, quote(strings.Join(values, " / ")), fmt.Sprintf(
		"The description answers %q more than once, with different values. Fill in the %s field on the ticket, which takes precedence.", field, field)}
}

// visible is a field's value without the characters a paste slips in unseen
// (see invisible).
func visible(v any) any {
	switch x := v.(type) {
	case string:
		return invisible.Replace(x)
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			out[i] = invisible.Replace(s)
		}
		return out
	}
	return v
}

func isJSONObject(s string) bool {
	s = strings.TrimSpace(s)
	return strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && json.Valid([]byte(s))
}

// answered reports whether a custom field value says anything. An empty
// text or an empty multi-select is no answer; a checkbox always is.
func answered(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.TrimSpace(x) != ""
	case []string:
		for _, s := range x {
			if strings.TrimSpace(s) != "" {
				return true
			}
		}
		return false
	case bool:
		return true
	}
	return false
}

// distinct drops empty values and repeats that differ only in case or spacing.
func distinct(values []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		key := strings.ToLower(strings.Join(strings.Fields(v), " "))
		if key != "" && !seen[key] {
			seen[key] = true
			out = append(out, v)
		}
	}
	return out
}
