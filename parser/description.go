package parser

import (
	"regexp"
	"strings"
)

// answerKey identifies one of the four answers of a clone request.
type answerKey int

const (
	keyProduction answerKey = iota
	keySandbox
	keyWipe
	keyUsers
	numKeys
)

// labelRE matches a labelled line of a description, such as
// "Sandbox instance: acme-sandbox", "- **Users:** a@b.com" or
// "Wipe confirmed: yes". Longer labels come first so that "Sandbox
// instance" is not read as "Sandbox" followed by text.
var labelRE = regexp.MustCompile(`(?i)^[ \t]*(?:(?:[-*•+–—]|\d{1,3}[.)])[ \t]+)?(?:\*\*|__)?[ \t]*(` +
	`production instance name|production instance|prod instance|production|prod|` +
	`sandbox instance to replace|sandbox instance name|sandbox instance|sandbox to replace|sandbox can be wiped|sandbox|` +
	`wipe confirmed|wipe confirmation|confirm wipe|` +
	`users to re-invite|users to reinvite|users to invite|users` +
	`)[ \t]*(?:\*\*|__)?[ \t]*[:：](.*)$`)

// labelKey maps a lower-cased label to its answer.
func labelKey(label string) answerKey {
	switch {
	case strings.HasPrefix(label, "prod"):
		return keyProduction
	case label == "sandbox can be wiped" || strings.Contains(label, "wipe"):
		return keyWipe
	case strings.HasPrefix(label, "sandbox"):
		return keySandbox
	default:
		return keyUsers
	}
}

// descAnswers holds every value the description gives for each answer;
// more than one distinct value is a conflict for Parse to report.
type descAnswers [numKeys][]string

// invisible are characters an editor or a mail client slips into text unseen
// (zero-width spaces and joiners, a byte order mark): dropped before reading.
// No-break spaces (before a French colon, say) read as spaces.
var invisible = strings.NewReplacer("\r\n", "\n", "\r", "\n",
	"\u200b", "", "\u200c", "", "\u200d", "", "\u2060", "", "\ufeff", "",
	"\u00a0", " ", "\u202f", " ", "\u2007", " ")

// quotedStartRE matches the line where a mail client starts quoting or
// forwarding an earlier message: what follows is older than what the customer
// wrote above it, and is not read.
var quotedStartRE = regexp.MustCompile(`(?i)^[ \t]*(?:` +
	`-{2,}[ \t]*(?:original message|forwarded message)[ \t]*-{2,}|` +
	`begin forwarded message:|` +
	`on .{1,200} wrote:|` +
	`_{10,}` +
	`)[ \t]*$`)

// outlookHeaderRE is the first line of an Outlook-style quoted header block
// ("From: ..." followed by "Sent:" or "Date:").
var outlookHeaderRE = regexp.MustCompile(`(?i)^[ \t]*\*{0,2}from:\*{0,2}[ \t]+\S`)
var outlookDateRE = regexp.MustCompile(`(?i)^[ \t]*\*{0,2}(?:sent|date):\*{0,2}[ \t]+\S`)

// ownLines are the lines of a description up to where an earlier, quoted or
// forwarded message starts.
func ownLines(desc string) []string {
	lines := strings.Split(invisible.Replace(desc), "\n")
	for i, line := range lines {
		if quotedStartRE.MatchString(line) {
			return lines[:i]
		}
		if outlookHeaderRE.MatchString(line) {
			for _, next := range lines[i+1 : min(i+4, len(lines))] {
				if outlookDateRE.MatchString(next) {
					return lines[:i]
				}
			}
		}
	}
	return lines
}

// readDescription collects the labelled answers of a description, above any
// quoted or forwarded earlier message. The user list may continue on the lines
// after its label (see userLines).
func readDescription(desc string) descAnswers {
	var out descAnswers
	lines := ownLines(desc)
	for i := 0; i < len(lines); i++ {
		m := labelRE.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		key := labelKey(strings.ToLower(m[1]))
		value := cleanValue(m[2])
		if key == keyUsers {
			var more []string
			more, i = userLines(lines, i+1, value == "")
			value = strings.Join(append([]string{value}, more...), "\n")
		}
		out[key] = append(out[key], strings.TrimSpace(value))
	}
	return out
}

// cleanValue strips the markdown emphasis people put around answers.
func cleanValue(s string) string {
	return strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "*_"))
}

// userLines returns the continuation lines of a "Users:" label starting at
// lines[from], and the index of the last line consumed. Blank lines are
// skipped only before the first user; after that a blank line, another
// label, a signature separator or a line that is neither a bullet nor
// holds an "@" ends the list, so a closing "Thanks!" is not read as a user.
func userLines(lines []string, from int, leadingBlanksOK bool) ([]string, int) {
	var out []string
	last := from - 1
	for i := from; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		switch {
		case line == "" && leadingBlanksOK && len(out) == 0:
			continue
		case line == "", line == "--", labelRE.MatchString(lines[i]):
			return out, last
		case !isBullet(line) && !strings.Contains(line, "@"):
			return out, last
		}
		out = append(out, line)
		last = i
	}
	return out, last
}

var bulletRE = regexp.MustCompile(`^(?:[-*•·+–—]|\d{1,3}[.)])[ \t]+`)

func isBullet(line string) bool { return bulletRE.MatchString(line) }
