package zendesksim

import (
	"errors"
	"io"
	"time"

	"github.com/sirupsen/logrus"
)

// WebhookStyle says how the simulated account's webhook is connected.
type WebhookStyle string

const (
	// TriggerStyle is a trigger-connected webhook whose admin-written JSON body holds
	// only strings, e.g. {"ticket_id":"123","tags":"a b",...}.
	TriggerStyle WebhookStyle = "trigger"
	// EventStyle is an event-subscription webhook (zen:event-type:ticket.*).
	EventStyle WebhookStyle = "event"
)

// Config configures a Server. The zero value of every field is usable.
type Config struct {
	// Logger receives the simulator's logs. Default: discarded.
	Logger *logrus.Entry
	// Now is the clock for timestamps. Default: time.Now.
	Now func() time.Time
	// AccountID is sent in X-Zendesk-Account-Id and event payloads. Default 10928374.
	AccountID int64

	// Email and APIToken accept Basic "Email/token:APIToken". Requests made this
	// way (and with OAuth tokens) act as the user whose email is Email, or as the
	// system user -1 when there is none.
	Email    string
	APIToken string
	// OAuthClients maps client_id to client_secret for the client_credentials grant.
	OAuthClients map[string]string
	// TokenTTL is the lifetime of issued OAuth access tokens. Default 30 minutes.
	TokenTTL time.Duration
	// AccessTokens are static bearer tokens that never expire.
	AccessTokens []string

	// WebhookURLs receive a signed webhook after every ticket change. WebhookURL is
	// a shorthand for one URL. None: no webhooks.
	WebhookURL  string
	WebhookURLs []string
	// WebhookSecret is the signing secret, used as its literal string bytes.
	WebhookSecret string
	// WebhookStyle defaults to TriggerStyle.
	WebhookStyle WebhookStyle
	// WebhookID is sent in X-Zendesk-Webhook-Id. Default 01F1KRFQ6BG29CNWFR60NK5FNY.
	WebhookID string
	// TriggerTag, when set, makes trigger-style webhooks fire only for tickets that
	// carry the tag (the trigger's condition). Event style always fires.
	TriggerTag string
	// WebhookTimeout bounds one delivery attempt. Default 10 s, like Zendesk.
	WebhookTimeout time.Duration
	// WebhookAttempts bounds the attempts per invocation: timeouts and connection
	// errors are retried, a 409 up to three times, a 429 or 503 only when it
	// carries a Retry-After under 60 s; nothing else is. Default 4.
	WebhookAttempts int
	// WebhookRetryDelay is the pause before the first retry of a timeout or a 409,
	// doubled each time. Default 1 s; tests set it small. A Retry-After is always
	// waited out in full.
	WebhookRetryDelay time.Duration

	// NumericCustomFields makes custom field values that are numbers (Go numbers or
	// strings of digits) come back as JSON numbers, a shape go-zendesk fails on.
	NumericCustomFields bool
	// CustomFieldIDs are listed in every ticket's custom_fields (null when unset),
	// as Zendesk lists every field of the form.
	CustomFieldIDs []int64
	// PageSize is the default page size of list endpoints. Default 100.
	PageSize int
}

func (c Config) withDefaults() (Config, error) {
	if c.Logger == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		c.Logger = logrus.NewEntry(l)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.AccountID == 0 {
		c.AccountID = 10928374
	}
	if c.TokenTTL == 0 {
		c.TokenTTL = 30 * time.Minute
	}
	if c.WebhookURL != "" {
		c.WebhookURLs = append([]string{c.WebhookURL}, c.WebhookURLs...)
	}
	if c.WebhookStyle == "" {
		c.WebhookStyle = TriggerStyle
	}
	if c.WebhookStyle != TriggerStyle && c.WebhookStyle != EventStyle {
		return c, errors.New("zendesksim: WebhookStyle must be \"trigger\" or \"event\"")
	}
	if c.WebhookID == "" {
		c.WebhookID = "01F1KRFQ6BG29CNWFR60NK5FNY"
	}
	if c.WebhookTimeout == 0 {
		c.WebhookTimeout = 10 * time.Second
	}
	if c.WebhookAttempts == 0 {
		c.WebhookAttempts = 4
	}
	if c.WebhookRetryDelay == 0 {
		c.WebhookRetryDelay = time.Second
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	return c, nil
}
