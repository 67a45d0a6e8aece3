package notifier

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
)

// StatusTagPrefix starts every status tag; the bot keeps exactly one on a ticket.
const StatusTagPrefix = "clone_status_"

// Announcement is one comment the bot posts, at most once per Key.
type Announcement struct {
	// Key identifies the announcement, e.g. "4821348213/awaiting_approval/3"; a comment
	// carrying its reference is never posted twice.
	Key string
	// Public: a public reply (true) or an internal note (false).
	Public bool
	Body   string
	// StatusTag, if set, becomes the only clone_status_* tag on the ticket.
	StatusTag   string
	Attachments []File
}

// File is an attachment: Data, or else the file at Path, which is streamed
// from disk (never held in memory) and read again if the upload is retried.
// Zero-byte files are skipped.
type File struct {
	Name, ContentType string
	Data              []byte
	Path              string
}

// Announce posts a's comment on the ticket unless a comment with its reference is
// already there (the process may have died after Zendesk accepted it), then sets
// the status tag.
func (c *Client) Announce(ctx context.Context, ticketID int64, a Announcement) error {
	if a.Key == "" || strings.TrimSpace(a.Body) == "" {
		return errors.New("announce: key and body are required")
	}
	ctx = WithTicket(ctx, ticketID) // for the logs of its uploads and retries
	ref := Reference(a.Key)
	posted, err := c.hasComment(ctx, ticketID, ref)
	if err != nil {
		return fmt.Errorf("announce %s on ticket %d: %w", a.Key, ticketID, err)
	}
	if posted {
		c.log.WithFields(map[string]any{"ticket": ticketID, "key": a.Key}).Info("zendesk: announcement already posted")
	} else if err := c.post(ctx, ticketID, a, ref); err != nil {
		return fmt.Errorf("announce %s on ticket %d: %w", a.Key, ticketID, err)
	}
	if a.StatusTag == "" {
		return nil
	}
	if err := c.setStatusTag(ctx, ticketID, a.StatusTag); err != nil {
		return fmt.Errorf("announce %s on ticket %d: %w", a.Key, ticketID, err)
	}
	return nil
}

var unsafeRef = regexp.MustCompile(`[^A-Za-z0-9._:/-]+`)

// Reference is the last line of an announcement's comment, e.g.
// "Ref: clonebot/4821348213/ready". Keys with other characters get a hash suffix so
// distinct keys keep distinct references.
func Reference(key string) string {
	clean := unsafeRef.ReplaceAllString(key, "-")
	if clean != key {
		sum := sha256.Sum256([]byte(key))
		clean += "-" + hex.EncodeToString(sum[:4])
	}
	return "Ref: clonebot/" + clean
}

type commentPage struct {
	Comments []struct {
		Body string `json:"body"`
	} `json:"comments"`
}

// hasComment looks for ref as a line of any comment, newest first, over all pages.
func (c *Client) hasComment(ctx context.Context, ticketID int64, ref string) (bool, error) {
	found := false
	err := eachPage(ctx, c, fmt.Sprintf("/tickets/%d/comments.json", ticketID), url.Values{"sort": {"-created_at"}}, func(p commentPage) bool {
		for _, cm := range p.Comments {
			if hasLine(cm.Body, ref) {
				found = true
				return false
			}
		}
		return true
	})
	if err != nil {
		return false, fmt.Errorf("list comments: %w", err)
	}
	return found, nil
}

func hasLine(body, line string) bool {
	for l := range strings.Lines(body) {
		if strings.TrimSpace(l) == line {
			return true
		}
	}
	return false
}

type commentRequest struct {
	Ticket struct {
		Comment struct {
			Body     string   `json:"body"`
			Public   bool     `json:"public"`
			AuthorID int64    `json:"author_id"`
			Uploads  []string `json:"uploads,omitempty"`
		} `json:"comment"`
	} `json:"ticket"`
}

func (c *Client) post(ctx context.Context, ticketID int64, a Announcement, ref string) error {
	token, err := c.upload(ctx, a.Attachments)
	if err != nil {
		return err
	}
	var req commentRequest
	req.Ticket.Comment.Body = strings.TrimRight(a.Body, "\n") + "\n\n" + ref
	req.Ticket.Comment.Public = a.Public
	req.Ticket.Comment.AuthorID = c.bot
	if token != "" {
		req.Ticket.Comment.Uploads = []string{token}
	}
	if err := c.doJSON(withoutReplay(ctx), "PUT", fmt.Sprintf("/tickets/%d.json", ticketID), req, nil); err != nil {
		return fmt.Errorf("post comment: %w", err)
	}
	return nil
}

// uploadRounds bounds how often the files are uploaded again from the first,
// under a new token, after an upload that joins a token failed in a way that may
// have stored it.
const uploadRounds = 3

// errUploadUnsure marks an upload that joined a token and failed after it may
// have been stored: the token may hold the file already, so the files go again
// under a new one (the old token expires unused).
var errUploadUnsure = errors.New("the upload may have been stored")

// upload sends the files under one upload token (none for no files). The first
// upload of a round makes the token and may be sent again (a lost answer leaves
// an unused token); the others add to it (token=), which Zendesk does not make
// idempotent, so one that failed after it may have been stored is not sent again
// into the same token: the round starts over under a new one.
func (c *Client) upload(ctx context.Context, files []File) (string, error) {
	var err error
	for range uploadRounds {
		var token string
		if token, err = c.uploadRound(ctx, files); !errors.Is(err, errUploadUnsure) {
			return token, err
		}
	}
	return "", err
}

func (c *Client) uploadRound(ctx context.Context, files []File) (string, error) {
	token := ""
	for _, f := range files {
		body, err := f.body()
		if err != nil {
			return "", fmt.Errorf("upload %s: %w", f.Name, err)
		}
		if body.size == 0 {
			c.log.WithFields(map[string]any{"file": f.Name, "ticket": ctx.Value(ticketKey{})}).Warn("zendesk: skipping empty attachment")
			continue
		}
		q := url.Values{"filename": {f.Name}}
		if token != "" {
			q.Set("token", token)
		}
		ct := f.ContentType
		if ct == "" {
			ct = "application/octet-stream"
		}
		var out struct {
			Upload struct {
				Token string `json:"token"`
			} `json:"upload"`
		}
		uctx := ctx
		if token != "" {
			uctx = withoutReplay(ctx)
		}
		if err := c.send(uctx, "POST", "/uploads.json?"+q.Encode(), ct, body, &out); err != nil {
			if token != "" && mayHaveApplied(err) {
				return "", fmt.Errorf("upload %s: %w: %w", f.Name, errUploadUnsure, err)
			}
			return "", fmt.Errorf("upload %s: %w", f.Name, err)
		}
		token = out.Upload.Token
	}
	return token, nil
}

// body is what a request sends: open gives the content from its start, each
// time it is called (a retry sends it again).
type body struct {
	size int64
	open func() (io.ReadCloser, error)
}

func bytesBody(b []byte) body {
	return body{size: int64(len(b)), open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }}
}

// body is the file's content: its Data, or the file at Path.
func (f File) body() (body, error) {
	if len(f.Data) > 0 || f.Path == "" {
		return bytesBody(f.Data), nil
	}
	fi, err := os.Stat(f.Path)
	if err != nil {
		return body{}, err
	}
	return body{size: fi.Size(), open: func() (io.ReadCloser, error) { return os.Open(f.Path) }}, nil
}

// setStatusTag adds tag, then removes every other status tag; other tags stay.
func (c *Client) setStatusTag(ctx context.Context, ticketID int64, tag string) error {
	var cur struct {
		Tags []string `json:"tags"`
	}
	path := fmt.Sprintf("/tickets/%d/tags.json", ticketID)
	if err := c.do(ctx, "GET", path, "", nil, &cur); err != nil {
		return fmt.Errorf("get tags: %w", err)
	}
	if !slices.Contains(cur.Tags, tag) {
		if err := c.doJSON(ctx, "PUT", path, map[string][]string{"tags": {tag}}, nil); err != nil {
			return fmt.Errorf("add tag %s: %w", tag, err)
		}
	}
	var stale []string
	for _, t := range cur.Tags {
		if strings.HasPrefix(t, StatusTagPrefix) && t != tag {
			stale = append(stale, t)
		}
	}
	if len(stale) == 0 {
		return nil
	}
	if err := c.doJSON(ctx, "DELETE", path, map[string][]string{"tags": stale}, nil); err != nil {
		return fmt.Errorf("remove tags %s: %w", strings.Join(stale, " "), err)
	}
	return nil
}

// mayHaveApplied reports whether a request that failed with err may still have
// been carried out: its answer was lost (a transport error) or the server failed
// after taking it (500, 502, 504). A refusal, a rate limit, or the caller's own
// cancellation was not.
func mayHaveApplied(err error) bool {
	var status *StatusError
	var limit *RateLimitError
	switch {
	case errors.As(err, &limit), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &status):
		return status.Status == 500 || status.Status == 502 || status.Status == 504
	}
	return true
}
