package notifier

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// ExportedTicket is what the reconciliation sweep needs of a changed ticket.
type ExportedTicket struct {
	ID     int64
	Status string
	Tags   []string
}

// ExportPage is one page of the incremental ticket export.
type ExportPage struct {
	Tickets []ExportedTicket
	// Cursor resumes the export after this page; keep it for the next sweep.
	Cursor string
	// End is true once the page reaches the present (less the minute Zendesk
	// holds back).
	End bool
}

type exportBody struct {
	Tickets []struct {
		ID     int64    `json:"id"`
		Status string   `json:"status"`
		Tags   []string `json:"tags"`
	} `json:"tickets"`
	AfterCursor string `json:"after_cursor"`
	EndOfStream bool   `json:"end_of_stream"`
}

// exportAnswerLimit is how much of an export page is read: 1,000 tickets of up to
// 256 KB of JSON each.
const exportAnswerLimit = 256 << 20

// TicketsChanged reads one page of the cursor-based incremental ticket export:
// from cursor when it is set, else from the tickets changed at or after since.
// Zendesk allows it to admins, 10 requests a minute.
func (c *Client) TicketsChanged(ctx context.Context, cursor string, since time.Time) (ExportPage, error) {
	q := url.Values{}
	if cursor != "" {
		q.Set("cursor", cursor)
	} else {
		q.Set("start_time", strconv.FormatInt(since.Unix(), 10))
	}
	var b exportBody
	// A page holds up to 1,000 whole tickets, descriptions included: at about 17 KB
	// each it passes 16 MiB, and the sweep would stop at it for good.
	if err := c.do(withAnswerLimit(ctx, exportAnswerLimit), "GET", "/incremental/tickets/cursor.json?"+q.Encode(), "", nil, &b); err != nil {
		return ExportPage{}, fmt.Errorf("export tickets changed: %w", err)
	}
	p := ExportPage{Cursor: b.AfterCursor, End: b.EndOfStream}
	for _, t := range b.Tickets {
		p.Tickets = append(p.Tickets, ExportedTicket{ID: t.ID, Status: t.Status, Tags: t.Tags})
	}
	if p.Cursor == "" {
		p.Cursor = cursor // nothing new: resume where this page started
	}
	return p, nil
}
