package zendesksim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(w, r)
	if t == nil {
		return
	}
	items := make([]any, 0, len(t.comments))
	for _, c := range t.comments {
		items = append(items, commentJSON(baseURL(r), c))
	}
	writeJSON(w, http.StatusOK, s.paginate(r, "comments", items))
}

func (s *Server) handleListAudits(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(w, r)
	if t == nil {
		return
	}
	items := make([]any, 0, len(t.audits))
	for _, a := range t.audits {
		items = append(items, auditJSON(t.ID, a))
	}
	writeJSON(w, http.StatusOK, s.paginate(r, "audits", items))
}

// paginate answers a list the way Zendesk does: cursor pagination (meta.has_more,
// links.next, after_cursor) when page[size] or page[after] is given, offset
// pagination (next_page, previous_page, count) otherwise. sort_order=desc or
// sort=-created_at list newest first.
func (s *Server) paginate(r *http.Request, key string, items []any) map[string]any {
	q := r.URL.Query()
	if q.Get("sort_order") == "desc" || q.Get("sort") == "-created_at" {
		slices.Reverse(items)
	}
	if q.Has("page[size]") || q.Has("page[after]") {
		return s.cursorPage(r, key, items)
	}
	return s.offsetPage(r, key, items)
}

func (s *Server) cursorPage(r *http.Request, key string, items []any) map[string]any {
	q := r.URL.Query()
	size := pageSize(q.Get("page[size]"), s.cfg.PageSize)
	start := decodeCursor(q.Get("page[after]"))
	start = min(start, len(items))
	end := min(start+size, len(items))
	hasMore := end < len(items)
	meta := map[string]any{"has_more": hasMore, "after_cursor": nil, "before_cursor": nil}
	links := map[string]any{"next": nil, "prev": nil}
	if end > start {
		meta["after_cursor"], meta["before_cursor"] = encodeCursor(end), encodeCursor(start)
	}
	if hasMore {
		q.Set("page[after]", encodeCursor(end))
		links["next"] = pageURL(r, q)
	}
	return map[string]any{key: items[start:end], "meta": meta, "links": links}
}

func (s *Server) offsetPage(r *http.Request, key string, items []any) map[string]any {
	q := r.URL.Query()
	size := pageSize(q.Get("per_page"), s.cfg.PageSize)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	start := min((page-1)*size, len(items))
	end := min(start+size, len(items))
	out := map[string]any{key: items[start:end], "next_page": nil, "previous_page": nil, "count": len(items)}
	if end < len(items) {
		q.Set("page", strconv.Itoa(page+1))
		out["next_page"] = pageURL(r, q)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page-1))
		out["previous_page"] = pageURL(r, q)
	}
	return out
}

func pageSize(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		n = def
	}
	return min(n, 100)
}

func pageURL(r *http.Request, q url.Values) string {
	return fmt.Sprintf("%s%s?%s", baseURL(r), r.URL.Path, q.Encode())
}

func encodeCursor(i int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(i)))
}

func decodeCursor(c string) int {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "o:"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
