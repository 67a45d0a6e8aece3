package zendesksim

import (
	"cmp"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The incremental ticket export (GET /api/v2/incremental/tickets/cursor) as
// Zendesk documents it: tickets ordered by generated_timestamp (the second of
// their last change), those changed within the last minute left out "to ensure
// the accuracy of the data", up to 1000 per page with after_cursor and
// end_of_stream, and a rate limit of 10 requests a minute.
const (
	exportQuietPeriod = time.Minute
	exportMaxPage     = 1000
	exportPerMinute   = 10
)

// exportPosition is where an export stream stands: after the ticket id changed
// at second ts. A start_time T is the position (T-1, max), before every change
// at or after T.
type exportPosition struct {
	ts int64
	id int64
}

func (p exportPosition) before(ts, id int64) bool {
	return p.ts < ts || p.ts == ts && p.id < id
}

func (p exportPosition) cursor() string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.0||%d|", p.ts, p.id))
}

func parseExportCursor(c string) (exportPosition, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return exportPosition{}, false
	}
	ts, rest, ok := strings.Cut(string(b), ".0||")
	id, _, ok2 := strings.Cut(rest, "|")
	p := exportPosition{}
	p.ts, err = strconv.ParseInt(ts, 10, 64)
	if !ok || !ok2 || err != nil {
		return exportPosition{}, false
	}
	if p.id, err = strconv.ParseInt(id, 10, 64); err != nil {
		return exportPosition{}, false
	}
	return p, true
}

func (s *Server) handleTicketExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	defer s.mu.Unlock()
	if wait, limited := s.exportLimitedLocked(); limited {
		w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		writeError(w, http.StatusTooManyRequests, "TooManyRequests", "Rate limit for incremental exports exceeded")
		return
	}
	pos, msg := exportStart(q)
	if msg != "" {
		writeError(w, http.StatusBadRequest, "InvalidPaginationParameter", msg)
		return
	}
	size := exportMaxPage
	if n, err := strconv.Atoi(q.Get("per_page")); err == nil && n > 0 {
		size = min(n, exportMaxPage)
	}
	page, last, more := s.exportPageLocked(pos, size)
	items := make([]any, 0, len(page))
	for _, t := range page {
		items = append(items, s.ticketJSON(baseURL(r), t))
	}
	next := url.Values{"cursor": {last.cursor()}}
	if size != exportMaxPage {
		next.Set("per_page", strconv.Itoa(size))
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tickets": items, "after_cursor": last.cursor(), "before_cursor": pos.cursor(),
		"after_url": pageURL(r, next), "before_url": nil, "end_of_stream": !more,
	})
}

// exportStart reads the position a request starts from: its cursor, or its
// start_time.
func exportStart(q url.Values) (exportPosition, string) {
	if c := q.Get("cursor"); c != "" {
		p, ok := parseExportCursor(c)
		if !ok {
			return p, "cursor is invalid"
		}
		return p, ""
	}
	start, err := strconv.ParseInt(q.Get("start_time"), 10, 64)
	if err != nil || start < 0 {
		return exportPosition{}, "start_time or cursor is required; start_time is a Unix time in seconds"
	}
	return exportPosition{ts: start - 1, id: 1<<63 - 1}, ""
}

// exportPageLocked returns the tickets after pos, oldest change first, leaving out
// those changed within the quiet period; last is the position after the page.
func (s *Server) exportPageLocked(pos exportPosition, size int) (page []*ticket, last exportPosition, more bool) {
	horizon := s.now().Add(-exportQuietPeriod).Unix()
	var all []*ticket
	for _, t := range s.tickets {
		if ts := t.UpdatedAt.Unix(); ts <= horizon && pos.before(ts, t.ID) {
			all = append(all, t)
		}
	}
	slices.SortFunc(all, func(a, b *ticket) int {
		if c := a.UpdatedAt.Compare(b.UpdatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	last = pos
	if len(all) > size {
		all, more = all[:size], true
	}
	if n := len(all); n > 0 {
		last = exportPosition{ts: all[n-1].UpdatedAt.Unix(), id: all[n-1].ID}
	}
	return all, last, more
}

// exportLimitedLocked counts an export request against the per-minute limit and
// says how long to wait when it is over.
func (s *Server) exportLimitedLocked() (time.Duration, bool) {
	now := s.cfg.Now()
	s.exports = slices.DeleteFunc(s.exports, func(at time.Time) bool { return now.Sub(at) >= time.Minute })
	if len(s.exports) >= exportPerMinute {
		return time.Minute - now.Sub(s.exports[0]), true
	}
	s.exports = append(s.exports, now)
	return 0, false
}
