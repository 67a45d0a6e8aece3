package parser

import (
	"net/url"
	"strings"
	"unicode"

	"github.com/gaiia/clonebot/registry"
)

// maxInstanceText bounds an instance answer: a longer text is not a name.
const maxInstanceText = 500

// catalog answers which instances a text names. Matching is done against
// every instance, so that a text naming two is ambiguous even when only one
// of them belongs to the ticket's organization, but messages list only the
// organization's own instances.
type catalog struct {
	all []registry.Instance
	org int64
}

// owned reports whether the ticket's organization may name in.
func (r catalog) owned(in registry.Instance) bool {
	for _, id := range in.OrganizationIDs {
		if id == r.org && id != 0 {
			return true
		}
	}
	return false
}

// ownedNames lists the organization's instances of one environment.
func (r catalog) ownedNames(env string) []string {
	var names []string
	for _, in := range r.all {
		if in.Environment == env && r.owned(in) {
			names = append(names, in.Name)
		}
	}
	return names
}

// match returns the distinct instances a text names. The whole text may be
// a name; otherwise each word is compared with the names, and each URL or
// host name with the instances' URLs. Words that are neither are ignored,
// which is what lets "our prod (acme-prod)" name acme-prod.
func (r catalog) match(text string) []registry.Instance {
	text = foldName(normalizeDashes(text))
	if in, ok := r.byName(text); ok {
		return []registry.Instance{in}
	}
	var found []registry.Instance
	add := func(in registry.Instance) {
		for _, f := range found {
			if f.Name == in.Name {
				return
			}
		}
		found = append(found, in)
	}
	for _, w := range words(text) {
		if in, ok := r.byName(w); ok {
			add(in)
			continue
		}
		for _, in := range r.byURL(w) {
			add(in)
		}
	}
	return found
}

func (r catalog) byName(name string) (registry.Instance, bool) {
	for _, in := range r.all {
		if foldName(in.Name) == name && name != "" {
			return in, true
		}
	}
	return registry.Instance{}, false
}

// byURL returns the instances whose URL the word is, with or without a
// scheme, and possibly a deeper path ("acme.example-isp.app/settings").
func (r catalog) byURL(word string) []registry.Instance {
	if !strings.Contains(word, ".") || strings.Contains(word, "@") {
		return nil
	}
	host, path, ok := splitURL(word)
	if !ok {
		return nil
	}
	var out []registry.Instance
	for _, in := range r.all {
		ih, ip, ok := splitURL(strings.ToLower(in.URL))
		if ok && ih == host && (ip == "" || path == ip || strings.HasPrefix(path, ip+"/")) {
			out = append(out, in)
		}
	}
	return out
}

// splitURL returns the lower-case host (without port) and the path without
// slashes at its ends.
func splitURL(s string) (host, path string, ok bool) {
	if s == "" {
		return "", "", false
	}
	if !strings.Contains(s, "://") {
		s = "//" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Hostname() == "" {
		return "", "", false
	}
	return strings.TrimSuffix(strings.ToLower(u.Hostname()), "."), strings.Trim(u.Path, "/"), true
}

// words splits folded text at characters that cannot be part of a name or
// URL and trims the punctuation that sentences put around them
// ("acme-sandbox." or "(acme-prod)").
func words(text string) []string {
	fields := strings.FieldsFunc(text, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._-:/@?#=&%~+", r))
	})
	var out []string
	for _, f := range fields {
		if !strings.Contains(f, "://") {
			// "Sandbox:acme-sandbox" has no space after the colon.
			out = append(out, trimWords(strings.Split(f, ":"))...)
			continue
		}
		out = append(out, trimWords([]string{f})...)
	}
	return out
}

func trimWords(ws []string) []string {
	out := ws[:0]
	for _, w := range ws {
		if w = strings.Trim(w, ".,:;!?/-_#"); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// normalizeDashes maps the dashes word processors substitute for "-".
func normalizeDashes(s string) string {
	return strings.Map(func(r rune) rune {
		if (r >= '\u2010' && r <= '\u2015') || r == '\u2212' {
			return '-'
		}
		return r
	}, s)
}
