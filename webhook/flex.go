package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
)

// The errors name no value: a body never reaches the logs, not even in part.
var (
	errNotInteger = errors.New("an id is not an integer")
	errNotText    = errors.New("a text field is neither a string nor a number")
)

// flexInt is an id that Zendesk may send as a JSON number or as text ("4821348213"): event
// subscriptions send ids as strings and trigger placeholders render everything as
// text. Null and the empty string (an empty placeholder) are zero.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		*f = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
		if s == "" {
			*f = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errNotInteger
	}
	*f = flexInt(n)
	return nil
}

// flexString is text that may arrive as a JSON string, number or null.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*f = flexString(b)
	default:
		return errNotText
	}
	return nil
}
