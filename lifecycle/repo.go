package lifecycle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/parser"
)

// row is a clone_requests row as the workers use it.
type row struct {
	Record
	TicketID            int64
	Production, Sandbox string
	Tenant              string
	FailedAt            time.Time
	TicketUpdatedAt     time.Time
	ScheduledFor        time.Time
	Attempts            int
	Request             *parser.Request
}

const selectRow = `SELECT ticket_id, state, coalesce(production, ''), coalesce(sandbox, ''), coalesce(tenant, ''),
	coalesce(fingerprint, ''), coalesce(approved_fingerprint, ''), approval_audit_id, coalesce(approved_by, 0), approvals_after, failed_at,
	refused_audits, coalesce(problems->>'key', ''), acknowledged, last_audit_id, ticket_updated_at, scheduled_for, attempts, request
	FROM clone_requests WHERE ticket_id = $1::bigint`

// loadForUpdate reads and locks the request of a ticket; nil when there is none.
func loadForUpdate(ctx context.Context, tx pgx.Tx, ticketID int64) (*row, error) {
	var (
		r                         row
		failed, updated, schedule *time.Time
		request                   []byte
	)
	err := tx.QueryRow(ctx, selectRow+" FOR UPDATE", ticketID).Scan(&r.TicketID, &r.State, &r.Production, &r.Sandbox, &r.Tenant,
		&r.Fingerprint, &r.ApprovedFingerprint, &r.ApprovalAudit, &r.ApprovedBy, &r.ApprovalsAfter, &failed,
		&r.RefusedApprovals, &r.ProblemsKey, &r.Acknowledged, &r.LastAuditID, &updated, &schedule, &r.Attempts, &request)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load request of ticket %d: %w", ticketID, err)
	}
	r.FailedAt, r.TicketUpdatedAt, r.ScheduledFor = deref(failed), deref(updated), deref(schedule)
	if len(request) > 0 {
		r.Request = &parser.Request{}
		if err := json.Unmarshal(request, r.Request); err != nil {
			return nil, fmt.Errorf("decode request of ticket %d: %w", ticketID, err)
		}
	}
	return &r, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// insertReceived creates the request of a ticket seen for the first time.
func insertReceived(ctx context.Context, tx pgx.Tx, ticketID int64) (*row, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO clone_requests (ticket_id, state) VALUES ($1::bigint, $2::text)`, ticketID, Received); err != nil {
		return nil, fmt.Errorf("create request of ticket %d: %w", ticketID, err)
	}
	if _, err := appendAudit(ctx, tx, ticketID, "", Received, "clone request tag seen", 0, nil); err != nil {
		return nil, err
	}
	return &row{TicketID: ticketID, Record: Record{State: Received}}, nil
}

// save writes r back.
func save(ctx context.Context, tx pgx.Tx, r *row, problems any) error {
	var request []byte
	if r.Request != nil {
		var err error
		if request, err = json.Marshal(r.Request); err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
	}
	problemsJSON, err := json.Marshal(map[string]any{"key": r.ProblemsKey, "items": problems})
	if err != nil {
		return fmt.Errorf("encode problems: %w", err)
	}
	_, err = tx.Exec(ctx, `UPDATE clone_requests SET state = $2::text, production = nullif($3::text, ''), sandbox = nullif($4::text, ''),
		tenant = nullif($5::text, ''), fingerprint = nullif($6::text, ''), approved_fingerprint = nullif($7::text, ''),
		approval_audit_id = $8::bigint, approvals_after = $9::bigint, failed_at = $10::timestamptz, refused_audits = $11::bigint[],
		problems = $12::jsonb, acknowledged = $13::boolean, last_audit_id = $14::bigint, ticket_updated_at = $15::timestamptz,
		scheduled_for = $16::timestamptz, attempts = $17::integer, request = $18::jsonb, approved_by = nullif($19::bigint, 0),
		updated_at = now()
		WHERE ticket_id = $1::bigint`,
		r.TicketID, r.State, r.Production, r.Sandbox, r.Tenant, r.Fingerprint, r.ApprovedFingerprint,
		r.ApprovalAudit, r.ApprovalsAfter, nullTime(r.FailedAt), nonNil(r.RefusedApprovals),
		problemsJSON, r.Acknowledged, r.LastAuditID, nullTime(r.TicketUpdatedAt),
		nullTime(r.ScheduledFor), r.Attempts, request, r.ApprovedBy)
	if err != nil {
		return fmt.Errorf("save request of ticket %d: %w", r.TicketID, err)
	}
	return nil
}

// appendAudit records one transition; the table refuses updates and deletes.
// It returns the entry's id, which keys the announcements of the transition.
func appendAudit(ctx context.Context, tx pgx.Tx, ticketID int64, from, to State, reason string, actor int64, detail any) (int64, error) {
	var detailJSON []byte
	if detail != nil {
		var err error
		if detailJSON, err = json.Marshal(detail); err != nil {
			return 0, fmt.Errorf("encode audit detail: %w", err)
		}
	}
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO audit_log (ticket_id, from_state, to_state, reason, actor_id, detail)
		VALUES ($1::bigint, nullif($2::text, ''), $3::text, $4::text, nullif($5::bigint, 0), $6::jsonb) RETURNING id`, ticketID, string(from), string(to), reason, actor, detailJSON).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("append audit for ticket %d: %w", ticketID, err)
	}
	return id, nil
}

// outboxItem is one comment to post.
type outboxItem struct {
	Key         string
	Public      bool
	Body        string
	StatusTag   string
	Attachments []attachment
}

type attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Data        []byte `json:"data"`
}

// enqueueOutbox stores items to post, in order, exactly once per key.
func enqueueOutbox(ctx context.Context, tx pgx.Tx, ticketID int64, items []outboxItem) error {
	for _, it := range items {
		var att []byte
		if len(it.Attachments) > 0 {
			var err error
			if att, err = json.Marshal(it.Attachments); err != nil {
				return fmt.Errorf("encode attachments: %w", err)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO outbox (ticket_id, key, public, body, status_tag, attachments)
			VALUES ($1::bigint, $2::text, $3::boolean, $4::text, nullif($5::text, ''), $6::jsonb) ON CONFLICT (ticket_id, key) DO NOTHING`,
			ticketID, it.Key, it.Public, it.Body, it.StatusTag, att)
		if err != nil {
			return fmt.Errorf("queue announcement %s for ticket %d: %w", it.Key, ticketID, err)
		}
	}
	return nil
}

// problemsKey identifies a set of problems, so the same set is announced once.
func problemsKey(ps []parser.Problem) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Field + "\x00" + p.Value + "\x00" + p.Message
	}
	return hashStrings(parts)
}

func planKey(problems []string) string { return hashStrings(problems) }

func hashStrings(parts []string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x01")))
	return hex.EncodeToString(sum[:8])
}

// nonNil makes an empty list an empty array, not NULL.
func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}
