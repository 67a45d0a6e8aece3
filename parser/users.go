package parser

import (
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on the user list. A sandbox is for a team, not a company
// directory; larger lists are almost always a paste gone wrong.
const (
	MaxUsers         = 200
	MaxAddressLength = 320    // RFC 5321: 64 local + @ + 255 domain
	MaxUsersText     = 40_000 // bytes of the whole answer
	maxNameLength    = 200    // runes of a display name
	maxRoleLength    = 64     // runes of a role
	maxEntryProblems = 5      // invalid entries quoted one by one before a summary
)

// userEntry is one parsed entry, or the reason it could not be parsed.
type userEntry struct {
	user User
	raw  string
	err  string
}

// readUsers parses the answer to "Users to re-invite": entries separated
// by new lines, commas or semicolons, each "email", "Name <email>",
// "email (role)" or "Name <email> (role)".
func readUsers(text string) ([]User, []Problem) {
	if len(text) > MaxUsersText {
		return nil, []Problem{{FieldUsers, quote(text), fmt.Sprintf(
			"The list is %d characters long; the limit is %d. List only the people who need the sandbox, one address per line.", len(text), MaxUsersText)}}
	}
	var users []User
	var problems []Problem
	index := map[string]int{}
	bad := 0
	for _, raw := range splitEntries(text) {
		e := parseEntry(raw)
		if e.err == "" {
			e.err = merge(&users, index, e.user)
		}
		if e.err != "" {
			bad++
			if bad <= maxEntryProblems {
				problems = append(problems, Problem{FieldUsers, quote(e.raw), e.err})
			}
		}
	}
	return users, append(problems, userListProblems(users, bad)...)
}

// userListProblems reports problems of the list as a whole.
func userListProblems(users []User, bad int) []Problem {
	var out []Problem
	if bad > maxEntryProblems {
		more := fmt.Sprintf("%d more entries are", bad-maxEntryProblems)
		if bad-maxEntryProblems == 1 {
			more = "1 more entry is"
		}
		out = append(out, Problem{FieldUsers, "", more + " not valid either. Write one address per line, as name@company.com, Name <name@company.com> or name@company.com (role)."})
	}
	if len(users) > MaxUsers {
		out = append(out, Problem{FieldUsers, "", fmt.Sprintf(
			"The list names %d users; at most %d can be re-invited by this request. Shorten the list; your admins can invite more people after the clone.", len(users), MaxUsers)})
	}
	if len(users) == 0 && bad == 0 {
		out = append(out, Problem{FieldUsers, "", "List at least one person to re-invite to the new sandbox (it starts with no users), one email address per line."})
	}
	return out
}

// merge adds u unless its address is already listed. Repeating a person is
// harmless; giving one person two different roles is a question for the
// customer.
func merge(users *[]User, index map[string]int, u User) string {
	i, seen := index[u.Email]
	if !seen {
		index[u.Email] = len(*users)
		*users = append(*users, u)
		return ""
	}
	have := &(*users)[i]
	if have.Role != "" && u.Role != "" && !strings.EqualFold(have.Role, u.Role) {
		return fmt.Sprintf("%s is listed twice with different roles (%s and %s). List each person once with the role they should have.", u.Email, have.Role, u.Role)
	}
	if have.Role == "" {
		have.Role = u.Role
	}
	if have.Name == "" {
		have.Name = u.Name
	}
	return ""
}

// splitEntries cuts text at new lines, commas and semicolons, except inside
// <...>, (...) or "...", so "\"Doe, Jane\" <jane@acme.com>" stays whole.
func splitEntries(text string) []string {
	var out []string
	var cur strings.Builder
	depth, quoted := 0, false
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			out = append(out, s)
		}
		cur.Reset()
	}
	for _, r := range text {
		switch {
		case r == '"':
			quoted = !quoted
		case r == '<' || r == '(':
			depth++
		case (r == '>' || r == ')') && depth > 0:
			depth--
		case r == '\n':
			// A line break always ends an entry, so one stray quote or
			// bracket cannot swallow the rest of the list.
			depth, quoted = 0, false
			flush()
			continue
		case (r == ',' || r == ';') && depth == 0 && !quoted:
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}

var mailtoRE = regexp.MustCompile(`(?i)^mailto:`)

// parseEntry reads one entry of the list.
func parseEntry(raw string) userEntry {
	e := userEntry{raw: raw}
	s := strings.TrimSpace(bulletRE.ReplaceAllString(strings.TrimSpace(raw), ""))
	if utf8.RuneCountInString(s) > MaxAddressLength+maxNameLength+maxRoleLength+8 {
		e.err = "This entry is too long to be one person. Write one address per line."
		return e
	}
	s, e.user.Role, e.err = cutRole(s)
	if e.err != "" {
		return e
	}
	var email string
	email, e.user.Name, e.err = cutName(s)
	if e.err != "" {
		return e
	}
	email = mailtoRE.ReplaceAllString(email, "")
	if e.err = checkEmail(email); e.err != "" {
		return e
	}
	e.user.Email = strings.ToLower(email)
	return e
}

// cutRole splits "rest (role)" into rest and the role.
func cutRole(s string) (rest, role, msg string) {
	if !strings.HasSuffix(s, ")") {
		if strings.Contains(s, "(") {
			return "", "", "This entry has a \"(\" without a closing \")\". Write the role as name@company.com (role)."
		}
		return s, "", ""
	}
	open := strings.LastIndex(s, "(")
	if open < 0 {
		return "", "", "This entry has a \")\" without \"(\". Write the role as name@company.com (role)."
	}
	role = strings.Join(strings.Fields(s[open+1:len(s)-1]), " ")
	if utf8.RuneCountInString(role) > maxRoleLength || strings.ContainsFunc(role, notRoleRune) {
		return "", "", fmt.Sprintf("The role in parentheses must be a short role name (letters, digits, spaces, at most %d characters), e.g. name@company.com (admin).", maxRoleLength)
	}
	return strings.TrimSpace(s[:open]), role, ""
}

func notRoleRune(r rune) bool {
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune(" -_/&.", r))
}

// cutName splits "Name <email>" into the address and the name.
func cutName(s string) (email, name, msg string) {
	if !strings.ContainsAny(s, "<>") {
		return s, "", ""
	}
	open := strings.LastIndex(s, "<")
	if open < 0 || !strings.HasSuffix(s, ">") || strings.Count(s, "<") != 1 || strings.Count(s, ">") != 1 {
		return "", "", "Write a name with its address as Name <name@company.com>."
	}
	name = strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(s[:open]), "\"'")), " ")
	if utf8.RuneCountInString(name) > maxNameLength || strings.ContainsFunc(name, unicode.IsControl) {
		return "", "", fmt.Sprintf("The name before <address> is too long or has control characters (at most %d characters).", maxNameLength)
	}
	return strings.TrimSpace(s[open+1 : len(s)-1]), name, ""
}

// checkEmail validates an address with net/mail plus the checks a mail
// server would apply to a real recipient: one @, a dotted domain of sane
// labels, no spaces or quoted local parts. It returns the customer-facing
// reason, or "" when the address is fine.
func checkEmail(email string) string {
	const how = " Write a full address such as name@company.com."
	switch {
	case email == "":
		return "This entry has no email address." + how
	case len(email) > MaxAddressLength:
		return fmt.Sprintf("This address is longer than %d characters.", MaxAddressLength) + how
	case !strings.Contains(email, "@"):
		return "This entry has no email address." + how
	case strings.Count(email, "@") != 1:
		return "An email address has exactly one @." + how
	case strings.ContainsFunc(email, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
		return "An email address cannot contain spaces; separate people with new lines, commas or semicolons." + how
	}
	local, domain, _ := strings.Cut(email, "@")
	if msg := checkLocal(local); msg != "" {
		return msg + how
	}
	if msg := checkDomain(domain); msg != "" {
		return msg + how
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || !strings.EqualFold(a.Address, email) {
		return "This is not a valid email address." + how
	}
	return ""
}

func checkLocal(local string) string {
	switch {
	case local == "":
		return "Nothing comes before the @."
	case len(local) > 64:
		return "The part before the @ is longer than 64 characters."
	case strings.ContainsAny(local, `"\(),:;<>[]`):
		return "The part before the @ has characters addresses do not use."
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return "The part before the @ cannot start or end with a dot or have two dots in a row."
	}
	return ""
}

func checkDomain(domain string) string {
	if !strings.Contains(domain, ".") {
		return fmt.Sprintf("The domain %q has no dot.", truncate(domain, 40))
	}
	labels := strings.Split(domain, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") || strings.ContainsFunc(l, notDomainRune) {
			return fmt.Sprintf("The domain %q is not a valid domain name.", truncate(domain, 40))
		}
	}
	if tld := labels[len(labels)-1]; utf8.RuneCountInString(tld) < 2 || !strings.ContainsFunc(tld, unicode.IsLetter) {
		return fmt.Sprintf("The domain %q does not end in a valid top-level domain.", truncate(domain, 40))
	}
	return ""
}

func notDomainRune(r rune) bool {
	return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')
}
