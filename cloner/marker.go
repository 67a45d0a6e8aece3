package cloner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Marker is what `clonebot enroll` wrote inside an instance's database: which
// instance of the registry the database is, and who said so when. It lives in the
// clonebot schema, owned by the enrolling role and granted to no one, where the
// application does not look; each enrollment adds a row, the newest one counts.
type Marker struct {
	Instance    string    `json:"instance"`
	Environment string    `json:"environment"`
	Tenant      string    `json:"tenant"`
	EnrolledAt  time.Time `json:"enrolled_at"`
	EnrolledBy  string    `json:"enrolled_by"` // the database role
	Operator    string    `json:"operator"`    // who ran the command: OS user@host
	Version     string    `json:"version"`     // clonebot's
	Forced      bool      `json:"forced"`      // written over another instance's marker
	// Database is the identity of the database the marker was written in; a marker
	// that travelled in a dump or a copy no longer matches its database.
	Database Identity `json:"database"`
}

// agrees reports whether the marker says what the registry says of in.
func (m *Marker) agrees(in Instance) bool {
	return m.Instance == in.Name && m.Environment == in.Environment && m.Tenant == in.Tenant
}

func (m *Marker) String() string {
	return fmt.Sprintf("%s instance %s of tenant %s, enrolled %s by role %s (%s)",
		m.Environment, m.Instance, m.Tenant, m.EnrolledAt.UTC().Format("2006-01-02 15:04 MST"), m.EnrolledBy, m.Operator)
}

const markerTable = "enrollment"

// markerAccessSQL finds the marker table and whether the role may read it, without
// an error that would abort the caller's transaction.
const markerAccessSQL = `SELECT pg_get_userbyid(n.nspowner)::text, c.oid IS NOT NULL,
       has_schema_privilege(n.oid, 'USAGE'), c.oid IS NULL OR has_table_privilege(c.oid, 'SELECT')
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = $2 AND c.relkind = 'r'
WHERE n.nspname = $1`

const markerSQL = `SELECT instance, environment, tenant, enrolled_at, enrolled_by, operator, version, forced,
       coalesce(system_identifier, ''), database_oid, database_name
FROM clonebot.enrollment ORDER BY id DESC LIMIT 1`

// errMarkerHidden is a marker the role may not read.
type errMarkerHidden struct{ owner, role string }

func (e *errMarkerHidden) Error() string {
	q := pgx.Identifier{e.role}.Sanitize()
	return fmt.Sprintf("role %s may not read the enrollment marker in schema %s (owned by role %s, who enrolled the database): connect as that role, or make role %s the owner. Fix: ALTER SCHEMA %s OWNER TO %s; ALTER TABLE %s OWNER TO %s",
		e.role, Schema, e.owner, e.role, col(Schema), q, markerIdent(), q)
}

func markerIdent() string { return pgx.Identifier{Schema, markerTable}.Sanitize() }

// readMarker returns the database's newest marker, nil when it was never enrolled.
func readMarker(ctx context.Context, q querier, role string) (*Marker, error) {
	var owner string
	var exists, usage, sel bool
	err := q.QueryRow(ctx, markerAccessSQL, Schema, markerTable).Scan(&owner, &exists, &usage, &sel)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find the enrollment marker: %w", err)
	}
	if !usage || !sel {
		return nil, &errMarkerHidden{owner: owner, role: role}
	}
	if !exists {
		return nil, nil
	}
	m := &Marker{}
	err = q.QueryRow(ctx, markerSQL).Scan(&m.Instance, &m.Environment, &m.Tenant, &m.EnrolledAt, &m.EnrolledBy, &m.Operator, &m.Version, &m.Forced,
		&m.Database.SystemIdentifier, &m.Database.DatabaseOID, &m.Database.Database)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the enrollment marker: %w", err)
	}
	return m, nil
}

// Evidence is what one instance's database says about itself.
type Evidence struct {
	Instance string   `json:"instance"`
	Database Identity `json:"database"`
	Marker   *Marker  `json:"marker"` // nil when the database was never enrolled, or hidden

	hidden *errMarkerHidden // a marker the role may not read
}

// enrollProblem says why an instance's marker does not prove that its database is
// in, and what to run; "" when it does.
func (c *Cloner) enrollProblem(in Instance, ev *Evidence) string {
	m := ev.Marker
	who := in.Environment + " " + in.Name
	switch {
	case ev.hidden != nil:
		return who + ": " + ev.hidden.Error()
	case m == nil:
		return fmt.Sprintf("%s is not enrolled: nothing in %s says it is %s. Check that its database_url reaches %s's database, then run: %s",
			who, ev.Database, in.Name, in.Name, c.enrollCommand(in.Name, false))
	case m.agrees(in) && m.Database.sameAs(ev.Database):
		return ""
	case m.agrees(in):
		return fmt.Sprintf("%s's marker was written in %s, but this is %s: the database is a copy, or was moved. Check that its database_url reaches %s's database, then run: %s",
			who, m.Database, ev.Database, in.Name, c.enrollCommand(in.Name, false))
	case m.Environment == Production && in.Environment == Sandbox:
		return c.productionMarkerProblem(in, ev)
	}
	return fmt.Sprintf("%s reaches %s, which is enrolled as %s, not as %s %s of tenant %s: its database_url may reach another instance's database; correct it. Only if this database really is %s's, run: %s",
		who, ev.Database, m, in.Environment, in.Name, in.Tenant, in.Name, c.enrollCommand(in.Name, true))
}

// productionMarkerProblem refuses a sandbox whose database says it is production:
// the one mistake a clone must never make.
func (c *Cloner) productionMarkerProblem(in Instance, ev *Evidence) string {
	m := ev.Marker
	if m.Database.sameAs(ev.Database) {
		return fmt.Sprintf("sandbox %s reaches %s, which is enrolled as %s: a clone never writes a production database. %s's database_url reaches a production database; correct it. Only if this database was enrolled as production by mistake, run: %s",
			in.Name, ev.Database, m, in.Name, c.enrollCommand(in.Name, true))
	}
	return fmt.Sprintf("sandbox %s reaches %s, which carries the marker of %s, written in %s: it is a copy of a production database. Only if it was restored to become %s (the clone wipes its customer data), run: %s",
		in.Name, ev.Database, m, m.Database, in.Name, c.enrollCommand(in.Name, true))
}

// enrollCommand is the exact command that enrolls instance name.
func (c *Cloner) enrollCommand(name string, force bool) string {
	parts := []string{"clonebot", "enroll", "--instance", shellWord(name)}
	if c.configFile != "" {
		parts = append(parts, "--config", shellWord(c.configFile))
	}
	if force {
		parts = append(parts, "--force")
	}
	return strings.Join(parts, " ")
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@%+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
