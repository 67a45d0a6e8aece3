package cloner

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// tableName identifies a table as the catalog does, by its schema and its name: two
// tables never share one, whatever characters their names hold (a dot in a name
// does not make it a schema).
type tableName struct{ schema, name string }

// String is the name as people read it, and as the manifest writes it: a part is
// double-quoted when it holds anything but letters, digits, _ and $.
func (t tableName) String() string { return namePart(t.schema) + "." + namePart(t.name) }

// ident is the name quoted for SQL.
func (t tableName) ident() string { return pgx.Identifier{t.schema, t.name}.Sanitize() }

// columnRef is one column of one table.
type columnRef struct {
	table  tableName
	column string
}

func (c columnRef) String() string { return c.table.String() + "." + namePart(c.column) }

// namePart quotes a name part that would not read back as itself.
func namePart(s string) string {
	for _, r := range s {
		if !(r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// splitName splits a manifest name into its dot-separated parts. A part is taken as
// written, or double-quoted when it holds a dot or a double quote (written twice
// inside the quotes), as in SQL: public."cust.data" is one table of schema public.
func splitName(s string) ([]string, error) {
	var parts []string
	for rest := s; ; {
		part, after, err := namePrefix(rest)
		if err != nil {
			return nil, fmt.Errorf("name %q: %w", s, err)
		}
		parts = append(parts, part)
		if after == "" {
			return parts, nil
		}
		if after[0] != '.' {
			return nil, fmt.Errorf("name %q: want a dot after a quoted part", s)
		}
		rest = after[1:]
	}
}

// namePrefix reads one part from the start of s and returns what follows it.
func namePrefix(s string) (part, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		part, rest, _ = strings.Cut(s, ".")
		if len(part) < len(s) {
			rest = s[len(part):]
		}
		if part == "" {
			return "", "", errors.New("an empty part")
		}
		if strings.Contains(part, `"`) {
			return "", "", errors.New(`a double quote in an unquoted part; quote the part and double the quote ("a""b")`)
		}
		return part, rest, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if b.Len() == 0 {
			return "", "", errors.New("an empty part")
		}
		return b.String(), s[i+1:], nil
	}
	return "", "", errors.New("an unclosed double quote")
}

// parseTable reads "table" (schema public) or "schema.table".
func parseTable(s string) (tableName, error) {
	parts, err := splitName(s)
	if err != nil {
		return tableName{}, err
	}
	switch len(parts) {
	case 1:
		return tableName{"public", parts[0]}, nil
	case 2:
		return tableName{parts[0], parts[1]}, nil
	}
	return tableName{}, fmt.Errorf("table %q: want table or schema.table (quote a part that holds a dot)", s)
}

// parseColumn reads "table.column" or "schema.table.column".
func parseColumn(s string) (columnRef, error) {
	parts, err := splitName(s)
	if err != nil {
		return columnRef{}, fmt.Errorf("scrub: %w", err)
	}
	switch len(parts) {
	case 2:
		return columnRef{tableName{"public", parts[0]}, parts[1]}, nil
	case 3:
		return columnRef{tableName{parts[0], parts[1]}, parts[2]}, nil
	}
	return columnRef{}, fmt.Errorf("scrub %q: want table.column or schema.table.column (quote a part that holds a dot)", s)
}
