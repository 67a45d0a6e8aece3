package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
)

type cursorMeta struct {
	Meta struct {
		HasMore     bool   `json:"has_more"`
		AfterCursor string `json:"after_cursor"`
	} `json:"meta"`
}

// eachPage reads a list with Zendesk's cursor pagination, 100 items a page, and
// hands each page, decoded, to use; use returns false to stop early.
func eachPage[T any](ctx context.Context, c *Client, path string, q url.Values, use func(T) bool) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("page[size]", "100")
	after := ""
	for {
		if after != "" {
			q.Set("page[after]", after)
		}
		var raw json.RawMessage
		if err := c.do(ctx, "GET", path+"?"+q.Encode(), "", nil, &raw); err != nil {
			return err
		}
		var page T
		var meta cursorMeta
		if err := json.Unmarshal(raw, &page); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return fmt.Errorf("decode answer: %w", err)
		}
		if !use(page) || !meta.Meta.HasMore || meta.Meta.AfterCursor == "" || meta.Meta.AfterCursor == after {
			return nil
		}
		after = meta.Meta.AfterCursor
	}
}
