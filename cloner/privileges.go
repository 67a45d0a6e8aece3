package cloner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/gaiia/clonebot/natsort"
)

// A privilege check is one kind of thing a clone does in a database, checked in the
// preflight so that a clone the role could not finish is refused before anything
// is exported or posted. Each check names what its role may not do and the
// statements that fix it. The lists grow with what a clone does.
type privilegeCheck struct {
	what    string                                    // "wipe the manifest tables (TRUNCATE)"
	missing func(a *access) (objects, fixes []string) // nil when nothing is missing
}

// sandboxChecks are what a clone does in the sandbox, in the order it does it.
var sandboxChecks = []privilegeCheck{
	{"reach the schemas of the manifest tables (USAGE)", grantOnSchemas("USAGE", func(a *access) []uint32 { return a.wiped }, func(n nsAccess) bool { return n.usage })},
	{"read the manifest tables (SELECT: counts, the export, the verification)", grantOn("SELECT", "", func(a *access) []uint32 { return a.wiped }, relAccess.canSelect)},
	{"read and restore every row of the manifest tables: row-level security would hide rows from it (BYPASSRLS)", bypassRLS(func(a *access) []uint32 { return a.wiped })},
	{"silence triggers during the load (SET session_replication_role)", missingReplicationRole},
	{"drop and rebuild the cloned tables' indexes and constraints, and restart the identities the wipe resets (ownership)", missingOwnership},
	{"wipe the manifest tables (TRUNCATE)", grantOn("TRUNCATE", "", func(a *access) []uint32 { return a.wiped }, relAccess.canTruncate)},
	{"rebuild the cloned tables' indexes (CREATE on their schemas)", grantOnSchemas("CREATE", func(a *access) []uint32 { return a.indexed }, func(n nsAccess) bool { return n.create })},
	{"load the cloned tables (INSERT)", grantOn("INSERT", "", func(a *access) []uint32 { return a.cloned }, relAccess.canInsert)},
	{"re-add the foreign keys (REFERENCES on the tables they reference)", grantOn("REFERENCES", "", func(a *access) []uint32 { return a.referenced }, relAccess.canReference)},
	{"move sequences past the copied ids (SELECT and UPDATE)", grantOn("SELECT, UPDATE", "SEQUENCE ", func(a *access) []uint32 { return a.sequences }, relAccess.canSetSequence)},
	{"create tables in schema " + Schema + " (the record of the kept copy)", missingSchemaCreate},
	{"create the schemas that hold staged tables and the pre-clone copy kept for rollback (CREATE on the database)", missingDatabaseCreate},
}

// productionChecks are what a clone reads in production.
var productionChecks = []privilegeCheck{
	{"reach the schemas of the cloned tables (USAGE)", grantOnSchemas("USAGE", func(a *access) []uint32 { return a.cloned }, func(n nsAccess) bool { return n.usage })},
	{"read the cloned tables (SELECT)", grantOn("SELECT", "", func(a *access) []uint32 { return a.cloned }, relAccess.canSelect)},
	{"read every row of the cloned tables: row-level security would hide rows from it (BYPASSRLS)", bypassRLS(func(a *access) []uint32 { return a.cloned })},
	{"read the names of the integrations and workflows (SELECT)", missingColumns},
}

// access is what the connected role may do to the objects a clone touches in one
// database.
type access struct {
	role            string
	superuser       bool
	replicationRole bool // may SET session_replication_role
	parameterGrants bool // the server grants SET on parameters (PostgreSQL 15 and later)
	rels            map[uint32]relAccess
	namespaces      map[uint32]nsAccess
	// The objects the clone touches, by what it does to them.
	wiped, cloned, altered, indexed, referenced, sequences, ownedSequences []uint32
	schemaOwner                                                            string // of schema clonebot; "" when it does not exist
	schemaCreate                                                           bool
	database                                                               string
	databaseCreate                                                         bool
	columns                                                                []columnAccess
}

type relAccess struct {
	oid                                         uint32
	name                                        tableName
	namespace                                   uint32
	owner                                       string
	owns, sel, ins, trunc, refs, seqSel, seqUpd bool
	// rls: the table's row-level security applies to the role (it is enabled, and
	// forced or the role is not the owner, and the role neither a superuser nor
	// BYPASSRLS): its reads would skip rows.
	rls bool
}

type nsAccess struct {
	oid           uint32
	name          string
	usage, create bool
}

func (r relAccess) canSelect() bool      { return r.sel }
func (r relAccess) canTruncate() bool    { return r.trunc }
func (r relAccess) canInsert() bool      { return r.ins }
func (r relAccess) canReference() bool   { return r.refs }
func (r relAccess) canSetSequence() bool { return r.seqSel && r.seqUpd }

// columnAccess is a column the plan reads in an excluded table.
type columnAccess struct {
	ref columnRef
	sel bool
}

// grantOn checks one table privilege on a set of objects; the fix grants it.
func grantOn(privilege, kind string, objects func(*access) []uint32, ok func(relAccess) bool) func(*access) ([]string, []string) {
	return func(a *access) ([]string, []string) {
		var missing []tableName
		for _, oid := range uniq(objects(a)) {
			if r := a.rels[oid]; !ok(r) {
				missing = append(missing, r.name)
			}
		}
		if len(missing) == 0 {
			return nil, nil
		}
		sortNames(missing)
		names, idents := make([]string, len(missing)), make([]string, len(missing))
		for i, t := range missing {
			names[i], idents[i] = t.String(), t.ident()
		}
		return names, []string{fmt.Sprintf("GRANT %s ON %s%s TO %s", privilege, kind, strings.Join(idents, ", "), a.roleIdent())}
	}
}

// bypassRLS checks that no table of a set hides rows from the role by row-level
// security: a copy, an export or a rollback that skipped rows would be incomplete,
// and the verification, reading through the same policies, would agree with it.
// (Every session of the cloner also sets row_security off, so such a read fails
// rather than filters.) The fix lets the role bypass row-level security.
func bypassRLS(tables func(*access) []uint32) func(*access) ([]string, []string) {
	return func(a *access) ([]string, []string) {
		var names []string
		for _, oid := range uniq(tables(a)) {
			if r := a.rels[oid]; r.rls {
				names = append(names, r.name.String())
			}
		}
		if len(names) == 0 {
			return nil, nil
		}
		natsort.Strings(names)
		return names, []string{"ALTER ROLE " + a.roleIdent() + " BYPASSRLS"}
	}
}

// grantOnSchemas checks one schema privilege on the schemas of a set of tables.
func grantOnSchemas(privilege string, tables func(*access) []uint32, ok func(nsAccess) bool) func(*access) ([]string, []string) {
	return func(a *access) ([]string, []string) {
		seen := map[uint32]bool{}
		var names []string
		for _, oid := range uniq(tables(a)) {
			ns := a.rels[oid].namespace
			if n := a.namespaces[ns]; !seen[ns] && !ok(n) {
				names = append(names, n.name)
			}
			seen[ns] = true
		}
		if len(names) == 0 {
			return nil, nil
		}
		natsort.Strings(names)
		idents := make([]string, len(names))
		for i, n := range names {
			idents[i] = col(n)
		}
		return prefixAll("schema ", names), []string{fmt.Sprintf("GRANT %s ON SCHEMA %s TO %s", privilege, strings.Join(idents, ", "), a.roleIdent())}
	}
}

func prefixAll(prefix string, items []string) []string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = prefix + s
	}
	return out
}

func missingReplicationRole(a *access) ([]string, []string) {
	if a.replicationRole {
		return nil, nil
	}
	if a.parameterGrants {
		return []string{"session_replication_role"}, []string{"GRANT SET ON PARAMETER session_replication_role TO " + a.roleIdent()}
	}
	return []string{"session_replication_role"}, []string{"ALTER ROLE " + a.roleIdent() + " SUPERUSER (before PostgreSQL 15 only a superuser may set it)"}
}

// missingOwnership groups the objects the role does not own by owner: membership
// in the owner role gives the owner's rights.
func missingOwnership(a *access) ([]string, []string) {
	byOwner := map[string][]tableName{}
	for _, oid := range uniq(append(slices.Clone(a.altered), a.ownedSequences...)) {
		if r := a.rels[oid]; !r.owns {
			byOwner[r.owner] = append(byOwner[r.owner], r.name)
		}
	}
	var objects, fixes []string
	for _, owner := range sortedKeys(byOwner) {
		names := sortNames(byOwner[owner])
		strs := make([]string, len(names))
		for i, t := range names {
			strs[i] = t.String()
		}
		objects = append(objects, fmt.Sprintf("%s (owned by %s)", strings.Join(strs, ", "), owner))
		fixes = append(fixes, fmt.Sprintf("GRANT %s TO %s", pgx.Identifier{owner}.Sanitize(), a.roleIdent()))
	}
	return objects, fixes
}

func missingSchemaCreate(a *access) ([]string, []string) {
	if a.schemaOwner == "" || a.schemaCreate {
		return nil, nil // a missing schema is the enrollment's problem
	}
	return []string{fmt.Sprintf("schema %s (owned by %s)", Schema, a.schemaOwner)},
		[]string{fmt.Sprintf("ALTER SCHEMA %s OWNER TO %s", col(Schema), a.roleIdent())}
}

func missingDatabaseCreate(a *access) ([]string, []string) {
	if a.databaseCreate {
		return nil, nil
	}
	return []string{"database " + a.database},
		[]string{fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s", col(a.database), a.roleIdent())}
}

func missingColumns(a *access) ([]string, []string) {
	byTable := map[tableName][]string{}
	var order []tableName
	for _, c := range a.columns {
		if c.sel {
			continue
		}
		if byTable[c.ref.table] == nil {
			order = append(order, c.ref.table)
		}
		byTable[c.ref.table] = append(byTable[c.ref.table], c.ref.column)
	}
	var objects, fixes []string
	for _, t := range order {
		cols := make([]string, len(byTable[t]))
		for i, c := range byTable[t] {
			cols[i] = col(c)
			objects = append(objects, columnRef{t, c}.String())
		}
		fixes = append(fixes, fmt.Sprintf("GRANT SELECT (%s) ON %s TO %s", strings.Join(cols, ", "), t.ident(), a.roleIdent()))
	}
	return objects, fixes
}

func (a *access) roleIdent() string { return pgx.Identifier{a.role}.Sanitize() }

// checkAccess runs the checks against a and adds a problem per check that fails.
func checkAccess(p *Plan, where string, a *access, checks []privilegeCheck) {
	for _, c := range checks {
		objects, fixes := c.missing(a)
		if len(objects) == 0 {
			continue
		}
		p.Problems = append(p.Problems, fmt.Sprintf("%s: role %s may not %s on %s. Fix: %s",
			where, a.role, c.what, strings.Join(objects, ", "), strings.Join(fixes, "; ")))
	}
}

// sortNames sorts by schema, then name, in natural order.
func sortNames(names []tableName) []tableName {
	slices.SortFunc(names, func(a, b tableName) int {
		return cmp.Or(natsort.Compare(a.schema, b.schema), natsort.Compare(a.name, b.name))
	})
	return names
}

func uniq(oids []uint32) []uint32 {
	out := slices.Clone(oids)
	slices.Sort(out)
	return slices.Compact(out)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	natsort.Strings(keys)
	return keys
}

const roleSQL = `SELECT current_user::text, r.rolsuper, current_setting('server_version_num')::int >= 150000
FROM pg_roles r WHERE r.rolname = current_user`

const relAccessSQL = `SELECT c.oid, n.nspname::text, c.relname::text, c.relnamespace, pg_get_userbyid(c.relowner)::text, pg_has_role(c.relowner, 'USAGE'),
  CASE WHEN c.relkind = 'S' THEN false ELSE has_table_privilege(c.oid, 'SELECT') END,
  CASE WHEN c.relkind = 'S' THEN false ELSE has_table_privilege(c.oid, 'INSERT') END,
  CASE WHEN c.relkind = 'S' THEN false ELSE has_table_privilege(c.oid, 'TRUNCATE') END,
  CASE WHEN c.relkind = 'S' THEN false ELSE has_table_privilege(c.oid, 'REFERENCES') END,
  CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'SELECT') ELSE false END,
  CASE WHEN c.relkind = 'S' THEN has_sequence_privilege(c.oid, 'UPDATE') ELSE false END,
  c.relrowsecurity AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
    AND NOT (SELECT r.rolsuper OR r.rolbypassrls FROM pg_roles r WHERE r.rolname = current_user)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ANY($1::oid[])`

const nsAccessSQL = `SELECT n.oid, n.nspname::text, has_schema_privilege(n.oid, 'USAGE'), has_schema_privilege(n.oid, 'CREATE')
FROM pg_namespace n WHERE n.oid = ANY($1::oid[])`

// ownedSequencesSQL finds the sequences owned by columns of the tables (serial and
// identity ones): TRUNCATE ... RESTART IDENTITY resets them, which takes ownership.
const ownedSequencesSQL = `SELECT d.objid FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') AND d.refobjid = ANY($1::oid[])`

const schemaAccessSQL = `SELECT pg_get_userbyid(n.nspowner)::text, has_schema_privilege(n.oid, 'USAGE') AND has_schema_privilege(n.oid, 'CREATE')
FROM pg_namespace n WHERE n.nspname = $1`

// readRole fills who the role is and whether it may silence triggers.
func (a *access) readRole(ctx context.Context, q querier) error {
	if err := q.QueryRow(ctx, roleSQL).Scan(&a.role, &a.superuser, &a.parameterGrants); err != nil {
		return fmt.Errorf("read the role: %w", err)
	}
	a.replicationRole = a.superuser
	if !a.superuser && a.parameterGrants {
		err := q.QueryRow(ctx, "SELECT has_parameter_privilege('session_replication_role', 'SET')").Scan(&a.replicationRole)
		if err != nil {
			return fmt.Errorf("read the role's parameter privileges: %w", err)
		}
	}
	return nil
}

// readRels reads the role's rights on every object a lists, and on their schemas.
func (a *access) readRels(ctx context.Context, q querier) error {
	all := uniq(slices.Concat(a.wiped, a.cloned, a.altered, a.indexed, a.referenced, a.sequences, a.ownedSequences))
	rels, err := collect(ctx, q, relAccessSQL, all, func(row pgx.CollectableRow) (relAccess, error) {
		var r relAccess
		err := row.Scan(&r.oid, &r.name.schema, &r.name.name, &r.namespace, &r.owner, &r.owns, &r.sel, &r.ins, &r.trunc, &r.refs, &r.seqSel, &r.seqUpd, &r.rls)
		return r, err
	})
	if err != nil {
		return fmt.Errorf("read privileges: %w", err)
	}
	a.rels = map[uint32]relAccess{}
	var namespaces []uint32
	for _, r := range rels {
		a.rels[r.oid] = r
		namespaces = append(namespaces, r.namespace)
	}
	nss, err := collect(ctx, q, nsAccessSQL, uniq(namespaces), func(row pgx.CollectableRow) (nsAccess, error) {
		var n nsAccess
		err := row.Scan(&n.oid, &n.name, &n.usage, &n.create)
		return n, err
	})
	if err != nil {
		return fmt.Errorf("read schema privileges: %w", err)
	}
	a.namespaces = map[uint32]nsAccess{}
	for _, n := range nss {
		a.namespaces[n.oid] = n
	}
	return nil
}

// collect runs sql with the oids and scans every row with scan.
func collect[T any](ctx context.Context, q querier, sql string, oids []uint32, scan pgx.RowToFunc[T]) ([]T, error) {
	rows, err := q.Query(ctx, sql, oids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scan)
}

func (a *access) readSchema(ctx context.Context, q querier) error {
	err := q.QueryRow(ctx, schemaAccessSQL, Schema).Scan(&a.schemaOwner, &a.schemaCreate)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read privileges on schema %s: %w", Schema, err)
	}
	err = q.QueryRow(ctx, "SELECT current_database()::text, has_database_privilege(current_database(), 'CREATE')").Scan(&a.database, &a.databaseCreate)
	if err != nil {
		return fmt.Errorf("read privileges on the database: %w", err)
	}
	return nil
}

// sandboxAccess reads what the sandbox role may do to everything the clone will
// touch: the same catalog reads the clone makes, without writing.
func sandboxAccess(ctx context.Context, q querier, p *Plan) (*access, error) {
	a := &access{}
	for _, t := range p.wipe {
		a.wiped = append(a.wiped, t.oid)
	}
	for _, s := range p.copies {
		a.cloned = append(a.cloned, s.table.oid)
	}
	rb, err := captureRebuild(ctx, q, p.copies)
	if err != nil {
		return nil, err
	}
	a.altered, a.indexed, a.referenced = rb.altered(), rb.indexed(), rb.referenced
	seqs, err := listSequences(ctx, q, specOIDs(p.copies))
	if err != nil {
		return nil, err
	}
	for _, s := range seqs {
		a.sequences = append(a.sequences, s.seqOID)
	}
	if a.ownedSequences, err = collect(ctx, q, ownedSequencesSQL, a.wiped, pgx.RowTo[uint32]); err != nil {
		return nil, fmt.Errorf("list the sequences the wipe restarts: %w", err)
	}
	if err := a.readRole(ctx, q); err != nil {
		return nil, err
	}
	if err := a.readRels(ctx, q); err != nil {
		return nil, err
	}
	return a, a.readSchema(ctx, q)
}

// productionAccess reads what the production role may read: the cloned tables,
// and the columns the plan shows of the integrations and workflows.
func (c *Cloner) productionAccess(ctx context.Context, q querier, p *Plan, cat *catalog) (*access, error) {
	a := &access{}
	for _, s := range p.copies {
		if t := cat.tables[s.table.name]; t != nil {
			a.cloned = append(a.cloned, t.oid)
		}
	}
	for _, ref := range c.shownColumns(cat) {
		var ok bool
		if err := q.QueryRow(ctx, "SELECT has_column_privilege($1::oid, $2::text, 'SELECT')", cat.tables[ref.table].oid, ref.column).Scan(&ok); err != nil {
			return nil, fmt.Errorf("read privileges on %s: %w", ref, err)
		}
		a.columns = append(a.columns, columnAccess{ref: ref, sel: ok})
	}
	if err := a.readRole(ctx, q); err != nil {
		return nil, err
	}
	return a, a.readRels(ctx, q)
}

// shownColumns are the columns of production's integrations and workflows tables
// that a plan reads, where the table exists with them.
func (c *Cloner) shownColumns(cat *catalog) []columnRef {
	var out []columnRef
	add := func(table string, cols ...string) {
		t := needColumns(cat, c.tables.table(table), cols...)
		if t == nil {
			return
		}
		for _, name := range append(slices.Clone(t.pk), cols...) {
			ref := columnRef{t.name, name}
			if name != "" && !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	if in := c.manifest.Integrations; in != nil {
		add(in.Table, in.Label, in.Kind)
	}
	if w := c.manifest.Workflows; w != nil {
		add(w.Table, append([]string{w.Name}, w.Key...)...)
	}
	return out
}
