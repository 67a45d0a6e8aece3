package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// TagChange is one addition or removal of a tag, read from the ticket's audits.
type TagChange struct {
	AuthorID int64
	Added    bool // false: removed
	At       time.Time
	// ViaTrigger: a business rule made the change (via channel "rule"), even if
	// AuthorID is a person; it is not that person's decision.
	ViaTrigger bool
}

type auditPage struct {
	Audits []struct {
		AuthorID  int64     `json:"author_id"`
		CreatedAt time.Time `json:"created_at"`
		Via       via       `json:"via"`
		Events    []struct {
			Type          string          `json:"type"`
			FieldName     string          `json:"field_name"`
			Value         json.RawMessage `json:"value"`
			PreviousValue json.RawMessage `json:"previous_value"`
			Via           *via            `json:"via"`
		} `json:"events"`
	} `json:"audits"`
	Meta struct {
		HasMore     bool   `json:"has_more"`
		AfterCursor string `json:"after_cursor"`
	} `json:"meta"`
}

type via struct {
	Channel string `json:"channel"`
}

// TagAdditions lists, oldest first, every audit event that added or removed tag on
// the ticket, reading all pages of its audits.
func (c *Client) TagAdditions(ctx context.Context, id int64, tag string) ([]TagChange, error) {
	var out []TagChange
	after := ""
	for {
		q := url.Values{"page[size]": {"100"}}
		if after != "" {
			q.Set("page[after]", after)
		}
		var page auditPage
		if err := c.do(ctx, "GET", fmt.Sprintf("/tickets/%d/audits.json?%s", id, q.Encode()), "", nil, &page); err != nil {
			return nil, fmt.Errorf("list audits of ticket %d: %w", id, err)
		}
		out = append(out, tagChanges(page, tag)...)
		if !page.Meta.HasMore || page.Meta.AfterCursor == "" || page.Meta.AfterCursor == after {
			return out, nil
		}
		after = page.Meta.AfterCursor
	}
}

func tagChanges(page auditPage, tag string) []TagChange {
	var out []TagChange
	for _, a := range page.Audits {
		for _, e := range a.Events {
			if e.FieldName != "tags" || (e.Type != "Change" && e.Type != "Create") {
				continue
			}
			now, before := hasTag(e.Value, tag), hasTag(e.PreviousValue, tag)
			if now == before {
				continue
			}
			trigger := a.Via.Channel == "rule" || e.Via != nil && e.Via.Channel == "rule"
			out = append(out, TagChange{AuthorID: a.AuthorID, Added: now, At: a.CreatedAt, ViaTrigger: trigger})
		}
	}
	return out
}

// hasTag reads a tag list given as a JSON array or a space-separated string.
func hasTag(raw json.RawMessage, tag string) bool {
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return slices.Contains(list, tag)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return slices.Contains(strings.Fields(s), tag)
	}
	return false
}
