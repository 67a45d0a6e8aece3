package webhook

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/sirupsen/logrus"

	"github.com/gaiia/clonebot/metrics"
)

// Path is where Zendesk posts webhooks.
const Path = "/webhooks/zendesk"

// MaxBody is the largest body accepted; Zendesk's own payloads are a few KiB.
const MaxBody = 1 << 20

// deliverTimeout bounds the hand-off to the Sink well inside Zendesk's 10 s timeout,
// so a stuck database answers 503 (retried) rather than a Zendesk-side timeout.
const deliverTimeout = 5 * time.Second

// Config configures a Handler.
type Config struct {
	// Secrets are the webhook signing secrets accepted; list two during a rotation.
	// Required. Zendesk's public test secret (TestSecret) works only if listed.
	Secrets []string
	// MaxAge is how far the signed timestamp may be from now, either way. Default 5m.
	MaxAge time.Duration
	// BotUserID is the bot's own Zendesk user; events it caused are ignored. Required.
	BotUserID int64
	// RequestTag marks a ticket as a clone request. Default "sandbox_clone".
	RequestTag string
	// RollbackTag asks for a ready clone's rollback: a ticket event carrying it
	// concerns the bot even once the request tag is gone. Default "clone_rollback".
	RollbackTag string
	// Sink makes accepted events durable, normally an *Intake. Required.
	Sink Sink
	// Logger receives one line per refused or failed request. Default: discarded.
	Logger *logrus.Entry
	// Metrics counts requests and latency. Default: a private, unexported registry.
	Metrics *metrics.Metrics
	// Now is the clock for the timestamp window. Default time.Now.
	Now func() time.Time
	// RetryAfter is sent with every 503 (the bot database is down): Zendesk retries
	// a 503 only when its Retry-After is under 60 s, and drops it otherwise. Whole
	// seconds from 1 s to 59 s; default 20 s.
	RetryAfter time.Duration
}

// DefaultRetryAfter is the Retry-After of a 503 unless configured.
const DefaultRetryAfter = 20 * time.Second

// Handler answers Zendesk webhook requests.
type Handler struct {
	retryAfter string // seconds, for 503s
	verifier   verifier
	botUserID  int64
	requestTag string
	// rollbackTag also makes a ticket event the bot's.
	rollbackTag string
	sink        Sink
	log         *logrus.Entry
	metrics     *metrics.Metrics
}

// New validates cfg, applies its defaults and returns a Handler.
func New(cfg Config) (*Handler, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("webhook config: %w", err)
	}
	cfg.applyDefaults()
	for _, s := range cfg.Secrets {
		if s == TestSecret {
			cfg.Logger.Warn("webhook: Zendesk's public test secret is configured; anyone can sign requests with it. Remove it outside testing.")
		}
	}
	return &Handler{
		retryAfter:  strconv.Itoa(int(cfg.RetryAfter / time.Second)),
		verifier:    verifier{secrets: append([]string(nil), cfg.Secrets...), maxAge: cfg.MaxAge, now: cfg.Now},
		botUserID:   cfg.BotUserID,
		requestTag:  cfg.RequestTag,
		rollbackTag: cfg.RollbackTag,
		sink:        cfg.Sink,
		log:         cfg.Logger,
		metrics:     cfg.Metrics,
	}, nil
}

func (c Config) validate() error {
	var problems []string
	if len(c.Secrets) == 0 {
		problems = append(problems, "Secrets: at least one signing secret is required (Zendesk Admin Center > Webhooks > Reveal secret)")
	}
	for i, s := range c.Secrets {
		if strings.TrimSpace(s) == "" {
			problems = append(problems, fmt.Sprintf("Secrets[%d]: is empty", i))
		}
	}
	if c.MaxAge < 0 {
		problems = append(problems, "MaxAge: must be positive, e.g. 5m")
	}
	if c.BotUserID <= 0 {
		problems = append(problems, "BotUserID: required, the bot's Zendesk user id, so its own updates are ignored")
	}
	if strings.ContainsAny(c.RequestTag, " \t,") {
		problems = append(problems, "RequestTag: a Zendesk tag has no spaces or commas")
	}
	if strings.ContainsAny(c.RollbackTag, " \t,") {
		problems = append(problems, "RollbackTag: a Zendesk tag has no spaces or commas")
	}
	if c.Sink == nil {
		problems = append(problems, "Sink: required, e.g. NewIntake(pool, riverClient)")
	}
	if c.RetryAfter != 0 && (c.RetryAfter < time.Second || c.RetryAfter >= time.Minute || c.RetryAfter%time.Second != 0) {
		problems = append(problems, "RetryAfter: whole seconds from 1s to 59s (Zendesk drops a 503 whose Retry-After is 60 s or more)")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func (c *Config) applyDefaults() {
	if c.MaxAge == 0 {
		c.MaxAge = 5 * time.Minute
	}
	if c.RequestTag == "" {
		c.RequestTag = "sandbox_clone"
	}
	if c.RollbackTag == "" {
		c.RollbackTag = "clone_rollback"
	}
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Logger = logrus.NewEntry(l)
	}
	if c.Metrics == nil {
		c.Metrics = metrics.New()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
}

// Register adds POST /webhooks/zendesk to e.
func (h *Handler) Register(e *echo.Echo) {
	e.POST(Path, h.serve)
}

// answer is the result of one request: its status, the word in the response body, the
// metric outcome, and for refusals the reason logged.
type answer struct {
	status  int
	word    string
	outcome string
	reason  string
	err     error
}

func (h *Handler) serve(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	inv := identity(req.Header.Get(HeaderInvocationID))
	ev, a := h.handle(req.Context(), req, inv)
	h.record(c, ev, inv, a)
	h.metrics.WebhookRequests.WithLabelValues(strconv.Itoa(a.status), a.outcome).Inc()
	h.metrics.WebhookLatency.Observe(time.Since(start).Seconds())
	if a.status == http.StatusServiceUnavailable {
		// Without it (or with 60 s or more) Zendesk drops the delivery for good.
		c.Response().Header().Set("Retry-After", h.retryAfter)
	}
	return c.JSONBlob(a.status, []byte(`{"status":"`+a.word+`"}`))
}

// handle reads, verifies, decodes and delivers one request. It is the whole decision;
// serve only reports it.
func (h *Handler) handle(ctx context.Context, req *http.Request, inv string) (Event, answer) {
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
	if err != nil {
		return Event{}, refuse(http.StatusBadRequest, "malformed", fmt.Errorf("read body: %w", err))
	}
	if len(body) > MaxBody {
		return Event{}, refuse(http.StatusRequestEntityTooLarge, "too_large", fmt.Errorf("body over %d bytes", MaxBody))
	}
	if err := h.verifier.verify(req.Header.Get(HeaderSignature), req.Header.Get(HeaderTimestamp), body); err != nil {
		return Event{}, refuse(http.StatusUnauthorized, "unauthorized", err)
	}
	d, err := decode(body, h.requestTag, h.rollbackTag)
	if err != nil {
		return d.ev, refuse(http.StatusBadRequest, "malformed", err)
	}
	d.ev.InvocationID = inv
	if d.ignore == "" && d.ev.ActorID == h.botUserID {
		d.ignore = "the bot's own update"
	}
	if d.ignore != "" {
		return d.ev, answer{status: http.StatusOK, word: "ignored", outcome: "ignored", reason: d.ignore}
	}
	ctx, cancel := context.WithTimeout(ctx, deliverTimeout)
	defer cancel()
	switch out, err := h.sink.Deliver(ctx, d.ev); {
	case err != nil:
		return d.ev, answer{status: http.StatusServiceUnavailable, word: "unavailable", outcome: "unavailable", reason: "could not store the delivery", err: err}
	case out == Duplicate:
		return d.ev, answer{status: http.StatusOK, word: "duplicate", outcome: "duplicate"}
	default:
		return d.ev, answer{status: http.StatusAccepted, word: "accepted", outcome: "accepted"}
	}
}

// Answers are the status and outcome pairs the handler answers with, so that
// metrics can export each at zero from the start.
func Answers() [][2]string {
	return [][2]string{{"202", "accepted"}, {"200", "duplicate"}, {"200", "ignored"}, {"503", "unavailable"},
		{"400", "refused"}, {"401", "refused"}, {"413", "refused"}}
}

func refuse(status int, word string, err error) answer {
	return answer{status: status, word: word, outcome: "refused", reason: err.Error(), err: err}
}

// record logs the request without its body or any secret: refusals as warnings,
// failures as errors, accepted deliveries at info (so one ticket can be followed
// from its webhook on), ignored and duplicate ones at debug.
func (h *Handler) record(c echo.Context, ev Event, inv string, a answer) {
	level := logrus.DebugLevel
	switch {
	case a.status == http.StatusAccepted:
		level = logrus.InfoLevel
	case a.status >= 500:
		level = logrus.ErrorLevel
	case a.status >= 400:
		level = logrus.WarnLevel
	}
	if !h.log.Logger.IsLevelEnabled(level) {
		return
	}
	fields := logrus.Fields{"status": a.status, "outcome": a.outcome, "invocation_id": inv, "remote_addr": c.Request().RemoteAddr}
	if a.reason != "" {
		fields["reason"] = a.reason
	}
	if ev.TicketID != 0 {
		fields["ticket"] = ev.TicketID
	}
	if a.err != nil && a.status >= 500 {
		fields["error"] = a.err.Error()
	}
	h.log.WithFields(fields).Log(level, "webhook "+a.word)
}
