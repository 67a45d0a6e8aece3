package notifier

import (
	"context"
	"encoding/json"
	"fmt"
)

// AuditsJSON returns every audit of a ticket as Zendesk sent it, reading all pages,
// for the parser to decode (it is the one place that knows their shapes).
func (c *Client) AuditsJSON(ctx context.Context, ticketID int64) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := eachPage(ctx, c, fmt.Sprintf("/tickets/%d/audits.json", ticketID), nil, func(p struct {
		Audits []json.RawMessage `json:"audits"`
	}) bool {
		out = append(out, p.Audits...)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list audits of ticket %d: %w", ticketID, err)
	}
	return out, nil
}
