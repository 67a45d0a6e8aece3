package cloner

import (
	"fmt"
	"strings"
)

// The switch: one sandbox transaction that puts the staged tables in place of the
// live ones. It moves catalog entries, not rows, so it takes milliseconds per table
// whatever their size. Statements are grouped by step, in the order they run.

// lockStatement takes every live table before anything moves, so that a session of
// the application holding one makes the switch wait (up to lock_timeout) at its
// start, not halfway.
func (s *stagedSet) lockStatement() string {
	idents := make([]string, len(s.rels))
	for i, r := range s.rels {
		idents[i] = r.ident()
	}
	return "LOCK TABLE " + strings.Join(idents, ", ") + " IN ACCESS EXCLUSIVE MODE"
}

// moveOutStatements move the live tables into the rollback schemas, with what is
// theirs: indexes, constraints, triggers, identity sequences and row types travel
// with a table; serial sequences are detached first so that they stay in place for
// the new tables, and extended statistics, schema objects of their own, are moved
// explicitly.
func (s *stagedSet) moveOutStatements() []string {
	var out []string
	for _, r := range s.rels {
		for _, seq := range r.serials {
			out = append(out, "ALTER SEQUENCE "+seq.sequence+" OWNED BY NONE")
		}
		for _, st := range r.statistics {
			out = append(out, "ALTER STATISTICS "+st.quoted+" SET SCHEMA "+quoteIdent(rollbackSchema(r.schema)))
		}
	}
	for _, r := range s.rels {
		out = append(out, "ALTER TABLE "+r.ident()+" SET SCHEMA "+quoteIdent(rollbackSchema(r.schema)))
	}
	return out
}

// moveInStatements move the staged tables to the live tables' places.
func (s *stagedSet) moveInStatements() []string {
	out := make([]string, 0, len(s.rels))
	for _, r := range s.rels {
		out = append(out, "ALTER TABLE "+r.stagedIdent()+" SET SCHEMA "+quoteIdent(r.schema))
	}
	return out
}

// attachStatements re-create on the new tables what is not built during the load:
// serial ownership, extended statistics, triggers, row-level security, policies and
// rules. Their definitions name the tables by schema and name, which now resolve to
// the new tables.
func (s *stagedSet) attachStatements() []string {
	var out []string
	for _, r := range s.rels {
		for _, seq := range r.serials {
			out = append(out, "ALTER SEQUENCE "+seq.sequence+" OWNED BY "+r.ident()+"."+seq.column)
		}
		for _, st := range r.statistics {
			out = append(out, st.def)
			if st.target >= 0 {
				out = append(out, fmt.Sprintf("ALTER STATISTICS %s SET STATISTICS %d", st.quoted, st.target))
			}
		}
		out = append(out, r.triggerStatements()...)
		if r.rls {
			out = append(out, "ALTER TABLE "+r.ident()+" ENABLE ROW LEVEL SECURITY")
		}
		if r.forced {
			out = append(out, "ALTER TABLE "+r.ident()+" FORCE ROW LEVEL SECURITY")
		}
		out = append(out, r.policies...)
		out = append(out, r.rules...)
	}
	return out
}

func (r *relation) triggerStatements() []string {
	var out []string
	for _, t := range r.triggers {
		out = append(out, t.def)
		switch t.enabled {
		case "D":
			out = append(out, "ALTER TABLE "+r.ident()+" DISABLE TRIGGER "+quoteIdent(t.name))
		case "R":
			out = append(out, "ALTER TABLE "+r.ident()+" ENABLE REPLICA TRIGGER "+quoteIdent(t.name))
		case "A":
			out = append(out, "ALTER TABLE "+r.ident()+" ENABLE ALWAYS TRIGGER "+quoteIdent(t.name))
		}
		if t.comment != nil {
			out = append(out, "COMMENT ON TRIGGER "+quoteIdent(t.name)+" ON "+r.ident()+" IS "+quoteLiteral(*t.comment))
		}
	}
	return out
}

// dependentStatements re-point what is built on the tables: views are replaced in
// place (same object, so their privileges and dependents stay), materialized views
// over the tables are re-created and filled, and those built on the replaced views
// are refreshed.
func (d *dependents) statements() []string {
	var out []string
	for _, v := range d.views {
		stmt := "CREATE OR REPLACE VIEW " + v.quoted
		if len(v.options) > 0 {
			stmt += " WITH (" + strings.Join(v.options, ", ") + ")"
		}
		out = append(out, stmt+" AS "+viewQuery(v.def))
	}
	for _, m := range d.matviews {
		out = append(out, m.statements()...)
	}
	for _, m := range d.refreshed {
		out = append(out, "REFRESH MATERIALIZED VIEW "+m)
	}
	return out
}

func (m *matviewDef) statements() []string {
	create := "CREATE MATERIALIZED VIEW " + m.quoted
	if m.accessMethod != "" {
		create += " USING " + quoteIdent(m.accessMethod)
	}
	if len(m.options) > 0 {
		create += " WITH (" + strings.Join(m.options, ", ") + ")"
	}
	if m.tablespace != "" {
		create += " TABLESPACE " + quoteIdent(m.tablespace)
	}
	out := []string{"DROP MATERIALIZED VIEW " + m.quoted, create + " AS " + viewQuery(m.def) + " WITH DATA",
		"ALTER MATERIALIZED VIEW " + m.quoted + " OWNER TO " + quoteIdent(m.owner)}
	out = append(out, privilegeStatements("TABLE", m.quoted, m.owner, m.defaultACL, m.grants)...)
	if m.comment != nil {
		out = append(out, "COMMENT ON MATERIALIZED VIEW "+m.quoted+" IS "+quoteLiteral(*m.comment))
	}
	return append(out, m.indexes...)
}

// viewQuery is a view's definition as pg_get_viewdef prints it, without the final
// semicolon.
func viewQuery(def string) string {
	return strings.TrimSuffix(strings.TrimSpace(def), ";")
}

// strayDependentsSQL finds objects outside the bot's schemas that still depend on a
// table (or row type) in a rollback schema: a dependency the swap did not re-point.
// An object attached to a table (a trigger, constraint, policy, rule, default) is
// placed by its table. The switch fails rather than commit a sandbox with one.
const strayDependentsSQL = `WITH refs AS (
  SELECT d.classid, d.objid FROM pg_depend d
  JOIN pg_class r ON d.refclassid = 'pg_class'::regclass AND r.oid = d.refobjid
  JOIN pg_namespace rn ON rn.oid = r.relnamespace WHERE rn.nspname LIKE 'clonebot\_rollback\_%'
  UNION
  SELECT d.classid, d.objid FROM pg_depend d
  JOIN pg_type t ON d.refclassid = 'pg_type'::regclass AND t.oid = d.refobjid
  JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE tn.nspname LIKE 'clonebot\_rollback\_%'),
placed AS (
  SELECT f.classid, f.objid, CASE f.classid
      WHEN 'pg_class'::regclass THEN (SELECT relnamespace FROM pg_class WHERE oid = f.objid)
      WHEN 'pg_type'::regclass THEN (SELECT typnamespace FROM pg_type WHERE oid = f.objid)
      WHEN 'pg_proc'::regclass THEN (SELECT pronamespace FROM pg_proc WHERE oid = f.objid)
      WHEN 'pg_statistic_ext'::regclass THEN (SELECT stxnamespace FROM pg_statistic_ext WHERE oid = f.objid)
      WHEN 'pg_constraint'::regclass THEN (SELECT coalesce(c.relnamespace, co.connamespace) FROM pg_constraint co LEFT JOIN pg_class c ON c.oid = co.conrelid WHERE co.oid = f.objid)
      WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = f.objid)
      WHEN 'pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.oid = f.objid)
      WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite w JOIN pg_class c ON c.oid = w.ev_class WHERE w.oid = f.objid)
      WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = f.objid)
    END AS nsp
  FROM refs f)
SELECT DISTINCT pg_describe_object(p.classid, p.objid, 0) FROM placed p LEFT JOIN pg_namespace n ON n.oid = p.nsp
WHERE n.nspname IS NULL OR NOT (n.nspname LIKE 'clonebot\_rollback\_%' OR n.nspname LIKE 'clonebot\_stage\_%' OR n.nspname = 'pg_toast')
ORDER BY 1`
