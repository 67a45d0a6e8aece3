package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/notifier"
	"github.com/gaiia/clonebot/parser"
)

// judgement is the role of a tag audit's author, judged when the bot first saw
// the audit and kept: a role read at every sync would let an end user's old tag
// become an approval once that user is promoted.
type judgement struct {
	AuditID, AuthorID int64
	Role              parser.Role // RoleNone when the user could not act (suspended, deleted)
}

// querier runs a query on a pool, a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// judgeMissing judges the authors of the audits not in roles from their current
// user (roleOf), adds them to roles and returns them, to be stored.
func judgeMissing(ctx context.Context, roles map[int64]parser.Role, audits []tagAuthor, roleOf func(context.Context, int64) (parser.Role, error)) ([]judgement, error) {
	var fresh []judgement
	for _, a := range audits {
		if _, ok := roles[a.AuditID]; ok {
			continue
		}
		role, err := roleOf(ctx, a.AuthorID)
		if err != nil {
			return nil, err
		}
		roles[a.AuditID] = role
		fresh = append(fresh, judgement{AuditID: a.AuditID, AuthorID: a.AuthorID, Role: role})
	}
	return fresh, nil
}

func auditIDs(audits []tagAuthor) []int64 {
	ids := make([]int64, len(audits))
	for i, a := range audits {
		ids[i] = a.AuditID
	}
	return ids
}

// currentRole is a user's role if the user can act now: "" when suspended,
// deleted or gone.
func (s *Service) currentRole(ctx context.Context, userID int64) (parser.Role, error) {
	u, err := s.cfg.Zendesk.User(ctx, userID)
	if errors.Is(err, notifier.ErrNotFound) {
		return parser.RoleNone, nil
	}
	if err != nil {
		return parser.RoleNone, fromZendesk(fmt.Errorf("read user %d: %w", userID, err))
	}
	if !u.Active || u.Suspended {
		return parser.RoleNone, nil
	}
	return u.Role, nil
}

func loadRoles(ctx context.Context, q querier, ticketID int64, auditIDs []int64) (map[int64]parser.Role, error) {
	roles := map[int64]parser.Role{}
	if len(auditIDs) == 0 {
		return roles, nil
	}
	rows, err := q.Query(ctx, `SELECT audit_id, role FROM tag_authors WHERE ticket_id = $1::bigint AND audit_id = ANY($2::bigint[])`, ticketID, auditIDs)
	if err != nil {
		return nil, fmt.Errorf("read judged authors of ticket %d: %w", ticketID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var role parser.Role
		if err := rows.Scan(&id, &role); err != nil {
			return nil, fmt.Errorf("read judged authors of ticket %d: %w", ticketID, err)
		}
		roles[id] = role
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read judged authors of ticket %d: %w", ticketID, err)
	}
	return roles, nil
}

// storeRoles keeps fresh judgements; one stored first by another sync wins.
func storeRoles(ctx context.Context, tx pgx.Tx, ticketID int64, fresh []judgement) error {
	for _, j := range fresh {
		_, err := tx.Exec(ctx, `INSERT INTO tag_authors (ticket_id, audit_id, author_id, role) VALUES ($1::bigint, $2::bigint, $3::bigint, $4::text)
			ON CONFLICT (ticket_id, audit_id) DO NOTHING`, ticketID, j.AuditID, j.AuthorID, string(j.Role))
		if err != nil {
			return fmt.Errorf("store judged author of audit %d of ticket %d: %w", j.AuditID, ticketID, err)
		}
	}
	return nil
}
