package notifier

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gaiia/clonebot/parser"
)

// Audits returns every audit of a ticket, reading all pages, decoded by the parser
// (the one place that knows their shapes). A deleted ticket is ErrNotFound; an
// audit that cannot be decoded is ErrMalformed.
func (c *Client) Audits(ctx context.Context, ticketID int64) ([]parser.Audit, error) {
	var out []parser.Audit
	var decodeErr error
	err := eachPage(ctx, c, fmt.Sprintf("/tickets/%d/audits.json", ticketID), nil, func(p struct {
		Audits []json.RawMessage `json:"audits"`
	}) bool {
		for _, raw := range p.Audits {
			a, err := parser.DecodeAudit(raw)
			if err != nil {
				decodeErr = fmt.Errorf("ticket %d: %w: %w", ticketID, ErrMalformed, err)
				return false
			}
			out = append(out, a)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("list audits of ticket %d: %w", ticketID, err)
	}
	return out, decodeErr
}
