package cloner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"
)

// ErrEnrollRefused wraps the reasons an enrollment wrote nothing.
var ErrEnrollRefused = errors.New("enrollment refused")

// EnrollOptions tune an enrollment.
type EnrollOptions struct {
	// Force writes over a marker that names another instance, or says another
	// environment or tenant. It never overrides a database that another entry of
	// the registry reaches.
	Force bool
	// Operator is who runs the enrollment, e.g. "alice@ops-host".
	Operator string
	// Version is clonebot's version, kept with the marker.
	Version string
}

// Enrollment is what Enroll did.
type Enrollment struct {
	Marker    Marker  // the database's marker now
	Previous  *Marker // the one it replaced, nil if none
	Unchanged bool    // the database was already enrolled so: nothing written
	// Unchecked are registry instances that did not answer, so they could not be
	// compared with this database.
	Unchecked []string
}

// enrollCheckTimeout bounds the wait for each other instance of the registry.
const enrollCheckTimeout = 10 * time.Second

// Enroll writes the marker of instance name into its database: the proof plan and
// clone ask for. It refuses (ErrEnrollRefused) when another entry of the registry
// reaches the same database, and, without opts.Force, when the database holds the
// marker of another instance, environment or tenant.
func (c *Cloner) Enroll(ctx context.Context, name string, opts EnrollOptions) (*Enrollment, error) {
	in, ok := c.instances[name]
	if !ok {
		return nil, fmt.Errorf("%w: instance %q is not in the registry", ErrEnrollRefused, name)
	}
	conn, err := pgx.Connect(ctx, in.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect to instance %s: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after commit
	e, err := c.enroll(ctx, tx, in, opts)
	if err != nil || e.Unchanged {
		return e, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit the marker of %s: %w", name, err)
	}
	c.log.WithFields(map[string]any{"instance": name, "forced": e.Marker.Forced}).Info("instance enrolled")
	return e, nil
}

func (c *Cloner) enroll(ctx context.Context, tx pgx.Tx, in Instance, opts EnrollOptions) (*Enrollment, error) {
	var got bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1, $2)", lockClass, lockObject).Scan(&got); err != nil {
		return nil, fmt.Errorf("take the clone lock of %s: %w", in.Name, err)
	}
	if !got {
		return nil, fmt.Errorf("%w: a clone into %s is running; enroll it once the clone ends", ErrEnrollRefused, in.Name)
	}
	id, err := readIdentity(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	prev, err := readMarker(ctx, tx, id.Role)
	var hidden *errMarkerHidden
	if errors.As(err, &hidden) {
		return nil, fmt.Errorf("%w: instance %s: %w", ErrEnrollRefused, in.Name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	e := &Enrollment{Previous: prev}
	if prev != nil && prev.agrees(in) && prev.Database.sameAs(id) {
		e.Marker, e.Unchanged = *prev, true
		return e, nil
	}
	named, err := c.overwritten(prev, in, id, opts.Force)
	if err != nil {
		return nil, err
	}
	if e.Unchecked, err = c.checkOthers(ctx, tx, in, id, named); err != nil {
		return nil, err
	}
	e.Marker = Marker{Instance: in.Name, Environment: in.Environment, Tenant: in.Tenant, Operator: opts.Operator, Version: opts.Version, Forced: named != "", Database: id}
	if err := writeMarker(ctx, tx, &e.Marker); err != nil {
		return nil, fmt.Errorf("instance %s: %w", in.Name, err)
	}
	return e, nil
}

// overwritten returns the instance whose marker the enrollment of in replaces, ""
// when there is none or it is in's own (written elsewhere: the database was
// copied or moved); it refuses another instance's marker without force.
func (c *Cloner) overwritten(prev *Marker, in Instance, id Identity, force bool) (string, error) {
	if prev == nil || prev.agrees(in) {
		return "", nil
	}
	if !force {
		return "", fmt.Errorf("%w: %s reaches %s, which is enrolled as %s. If it really is %s's database, run: %s",
			ErrEnrollRefused, in.Name, id, prev, in.Name, c.enrollCommand(in.Name, true))
	}
	return prev.Instance, nil
}

// checkOthers refuses a database that another entry of the registry reaches, and
// returns the entries that did not answer. The entry the old marker names must
// answer: writing over its marker is only safe once its own database is known to
// be another one.
func (c *Cloner) checkOthers(ctx context.Context, tx pgx.Tx, in Instance, id Identity, named string) ([]string, error) {
	p, err := newProbe()
	if err != nil {
		return nil, err
	}
	if err := p.hold(ctx, tx); err != nil {
		return nil, err
	}
	var others []Instance
	for _, o := range c.instances {
		if o.Name != in.Name {
			others = append(others, o)
		}
	}
	slices.SortFunc(others, func(a, b Instance) int { return strings.Compare(a.Name, b.Name) })
	same, unreachable := make([]bool, len(others)), make([]error, len(others))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, o := range others {
		g.Go(func() error {
			same[i], unreachable[i] = reachesDatabase(gctx, o, id, p)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through same and unreachable
	var unchecked []string
	for i, o := range others {
		switch {
		case same[i]:
			return nil, fmt.Errorf("%w: %s and %s reach the same database (%s): correct the database_url of one of them", ErrEnrollRefused, in.Name, o.Name, id)
		case unreachable[i] != nil && o.Name == named:
			return nil, fmt.Errorf("%w: the database is enrolled as %s, which did not answer (%v): enroll %s once %s answers, so that its database is known to be another one",
				ErrEnrollRefused, named, unreachable[i], in.Name, named)
		case unreachable[i] != nil:
			unchecked = append(unchecked, o.Name)
		}
	}
	return unchecked, nil
}

// reachesDatabase reports whether instance o reaches the database of identity id,
// whose transaction holds probe p.
func reachesDatabase(ctx context.Context, o Instance, id Identity, p probe) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, enrollCheckTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, o.DatabaseURL)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "3D000" {
			return false, nil // its database does not exist: it is not this one
		}
		return false, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	oid, err := readIdentity(ctx, conn)
	if err != nil {
		return false, err
	}
	if id.known(oid) {
		return id.sameAs(oid), nil
	}
	return p.seen(ctx, conn)
}

// markerTableDDL is the marker's table; the enrolling role owns it and the schema
// and grants nothing to anyone.
const markerTableDDL = `CREATE TABLE %s (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  instance text NOT NULL,
  environment text NOT NULL,
  tenant text NOT NULL,
  enrolled_at timestamptz NOT NULL DEFAULT now(),
  enrolled_by text NOT NULL DEFAULT current_user,
  operator text NOT NULL,
  version text NOT NULL,
  forced boolean NOT NULL,
  system_identifier text,
  database_oid oid NOT NULL,
  database_name text NOT NULL)`

// createMarkerTable creates what is missing of the schema and the table (CREATE
// SCHEMA IF NOT EXISTS would still ask for CREATE on the database).
func createMarkerTable(ctx context.Context, tx pgx.Tx, id Identity) error {
	var schema, table bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
  EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2)`, Schema, markerTable).Scan(&schema, &table)
	if err != nil {
		return fmt.Errorf("look for schema %s: %w", Schema, err)
	}
	var stmts []string
	if !schema {
		stmts = append(stmts, "CREATE SCHEMA "+col(Schema), "REVOKE ALL ON SCHEMA "+col(Schema)+" FROM PUBLIC")
	}
	if !table {
		stmts = append(stmts, fmt.Sprintf(markerTableDDL, markerIdent()), "REVOKE ALL ON "+markerIdent()+" FROM PUBLIC")
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return ddlError(id, err)
		}
	}
	return nil
}

func writeMarker(ctx context.Context, tx pgx.Tx, m *Marker) error {
	if err := createMarkerTable(ctx, tx, m.Database); err != nil {
		return err
	}
	var sys *string
	if m.Database.SystemIdentifier != "" {
		sys = &m.Database.SystemIdentifier
	}
	err := tx.QueryRow(ctx, `INSERT INTO `+markerIdent()+` (instance, environment, tenant, operator, version, forced, system_identifier, database_oid, database_name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::oid, $9) RETURNING enrolled_at, enrolled_by`,
		m.Instance, m.Environment, m.Tenant, m.Operator, m.Version, m.Forced, sys, m.Database.DatabaseOID, m.Database.Database).Scan(&m.EnrolledAt, &m.EnrolledBy)
	if err != nil {
		return fmt.Errorf("write the marker: %w", err)
	}
	return nil
}

// ddlError explains a role that may not create the marker's schema or table.
func ddlError(id Identity, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		return fmt.Errorf("create the marker's table in schema %s: %w", Schema, err)
	}
	role := pgx.Identifier{id.Role}.Sanitize()
	return fmt.Errorf("%w: role %s may not create the marker (%s). Fix, as a superuser or the database owner: CREATE SCHEMA %s AUTHORIZATION %s (or GRANT CREATE ON DATABASE %s TO %s), then enroll again",
		ErrEnrollRefused, id.Role, pgErr.Message, col(Schema), role, pgx.Identifier{id.Database}.Sanitize(), role)
}
