package notifier

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/nukosuke/go-zendesk/zendesk"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/parser"
)

// Client talks to one Zendesk account on behalf of the bot. It is safe for
// concurrent use.
type Client struct {
	zd   *zendesk.Client
	http *http.Client
	api  string // <url>/api/v2
	bot  int64
	log  *logrus.Entry
}

// New builds a Client; it makes no request.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base := baseTransport{client: cfg.HTTPClient, fallback: newDefaultTransport()}
	hc := &http.Client{
		Transport: &retryTransport{next: newAuthTransport(cfg, base), cfg: cfg},
		Timeout:   cfg.Timeout,
	}
	zd, err := zendesk.NewClient(hc)
	if err != nil {
		return nil, fmt.Errorf("notifier: build zendesk client: %w", err)
	}
	api := cfg.URL + "/api/v2"
	if err := zd.SetEndpointURL(api); err != nil {
		return nil, fmt.Errorf("notifier: zendesk url %s: %w", cfg.URL, err)
	}
	return &Client{zd: zd, http: hc, api: api, bot: cfg.BotUserID, log: cfg.Logger}, nil
}

// Calls are the method and route of every call the client makes, as Observer
// reports them, so that metrics can export each at zero from the start.
func Calls() [][2]string {
	return [][2]string{
		{"GET", "/api/v2/tickets/:id"}, {"PUT", "/api/v2/tickets/:id"}, {"GET", "/api/v2/tickets/:id/comments"},
		{"GET", "/api/v2/tickets/:id/audits"}, {"GET", "/api/v2/tickets/:id/tags"}, {"PUT", "/api/v2/tickets/:id/tags"},
		{"DELETE", "/api/v2/tickets/:id/tags"}, {"POST", "/api/v2/uploads"}, {"GET", "/api/v2/users/:id"},
		{"GET", "/api/v2/users/:id/organization_memberships"}, {"GET", "/api/v2/incremental/tickets/cursor"},
	}
}

// Ticket reads GET /api/v2/tickets/{id}.json, decoded by the parser (go-zendesk
// cannot decode numeric custom field values). A deleted ticket is ErrNotFound; a
// body that is no ticket is ErrMalformed.
func (c *Client) Ticket(ctx context.Context, id int64) (parser.Ticket, error) {
	body, err := c.zd.Get(ctx, fmt.Sprintf("/tickets/%d.json", id))
	if err != nil {
		return parser.Ticket{}, fmt.Errorf("get ticket %d: %w", id, classify(err))
	}
	t, err := parser.DecodeTicket(body)
	if err != nil {
		return parser.Ticket{}, fmt.Errorf("get ticket %d: %w: %w", id, ErrMalformed, err)
	}
	return t, nil
}

// do sends a request with a JSON or raw body and decodes a JSON answer into out
// (if not nil); any status outside 2xx is a *StatusError.
func (c *Client) do(ctx context.Context, method, path, contentType string, raw []byte, out any) error {
	var b body
	if raw != nil {
		b = bytesBody(raw)
	}
	return c.send(ctx, method, path, contentType, b, out)
}

// An answer is read whole, up to 16 MiB; a call that may get more says how much
// (withAnswerLimit). A longer answer would fail to decode.
const defaultAnswerLimit = 16 << 20

type answerLimitKey struct{}

func withAnswerLimit(ctx context.Context, n int64) context.Context {
	return context.WithValue(ctx, answerLimitKey{}, n)
}

func answerLimit(ctx context.Context) int64 {
	if n, ok := ctx.Value(answerLimitKey{}).(int64); ok {
		return n
	}
	return defaultAnswerLimit
}

// send is do with a body that may be streamed: its length is announced, and the
// retrying transport reopens it for each attempt.
func (c *Client) send(ctx context.Context, method, path, contentType string, b body, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.api+path, nil)
	if err != nil {
		return err
	}
	if b.open != nil {
		if req.Body, err = b.open(); err != nil {
			return fmt.Errorf("open request body: %w", err)
		}
		req.GetBody, req.ContentLength = b.open, b.size
		if b.size == 0 {
			req.Body.Close()
			req.Body, req.GetBody = http.NoBody, nil
		}
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, answerLimit(ctx)))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return newStatusError(resp.StatusCode, answer)
	}
	if out == nil || len(answer) == 0 {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	return c.do(ctx, method, path, "application/json", body, out)
}
