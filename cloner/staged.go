package cloner

import (
	"fmt"
	"strings"
)

// stagedIdent is the staged replacement of r.
func (r *relation) stagedIdent() string {
	return quoteIdent(stageSchema(r.schema)) + "." + quoteIdent(r.name)
}

// stagedSet is the sandbox's manifest tables (and their partitions) as a swap
// rebuilds them.
type stagedSet struct {
	rels  []*relation // parents before their partitions
	byOID map[uint32]*relation
	deps  *dependents
}

func newStagedSet(rels []*relation, deps *dependents) *stagedSet {
	s := &stagedSet{rels: rels, byOID: make(map[uint32]*relation, len(rels)), deps: deps}
	for _, r := range rels {
		s.byOID[r.oid] = r
	}
	return s
}

// appSchemas lists the application schemas of the set, each once, sorted.
func (s *stagedSet) appSchemas() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.rels {
		if !seen[r.schema] {
			seen[r.schema] = true
			out = append(out, r.schema)
		}
	}
	return out
}

// stageGrants let the owners of the live tables create in the stage schemas, which
// a change of owner requires of the new owner.
func (s *stagedSet) stageGrants() []string {
	seen := map[[2]string]bool{}
	var out []string
	for _, r := range s.rels {
		k := [2]string{stageSchema(r.schema), r.owner}
		if !seen[k] {
			seen[k] = true
			out = append(out, "GRANT CREATE ON SCHEMA "+quoteIdent(k[0])+" TO "+quoteIdent(r.owner))
		}
	}
	return out
}

// createStatements create r's staged table with everything attached to it that can
// be set before the load: columns as LIKE copies them, partitioning, storage options,
// owner, privileges and comment. Indexes, keys, foreign keys and triggers come later.
func (s *stagedSet) createStatements(r *relation) []string {
	st := r.stagedIdent()
	var b strings.Builder
	b.WriteString("CREATE ")
	if r.unlogged {
		b.WriteString("UNLOGGED ")
	}
	b.WriteString("TABLE " + st + " (LIKE " + r.ident() + " INCLUDING ALL EXCLUDING INDEXES EXCLUDING STATISTICS)")
	if r.partitionBy != "" {
		b.WriteString(" PARTITION BY " + r.partitionBy)
	}
	if r.accessMethod != "" && r.kind == "r" {
		b.WriteString(" USING " + quoteIdent(r.accessMethod))
	}
	if r.tablespace != "" {
		b.WriteString(" TABLESPACE " + quoteIdent(r.tablespace))
	}
	out := []string{b.String()}
	for _, it := range r.identityTypes { // before the owner changes: the bot owns the sequence
		body := fmt.Sprintf("BEGIN EXECUTE format('ALTER SEQUENCE %%s AS %s', pg_get_serial_sequence(%s, %s)); END",
			it.typ, quoteLiteral(st), quoteLiteral(it.column))
		out = append(out, "DO "+quoteLiteral(body))
	}
	if p := s.byOID[r.parent]; p != nil {
		out = append(out, "ALTER TABLE "+p.stagedIdent()+" ATTACH PARTITION "+st+" "+r.bound)
	}
	if len(r.options) > 0 {
		out = append(out, "ALTER TABLE "+st+" SET ("+strings.Join(r.options, ", ")+")")
	}
	if len(r.toastOpts) > 0 {
		opts := make([]string, len(r.toastOpts))
		for i, o := range r.toastOpts {
			opts[i] = "toast." + o
		}
		out = append(out, "ALTER TABLE "+st+" SET ("+strings.Join(opts, ", ")+")")
	}
	for _, c := range r.columnOpts {
		out = append(out, "ALTER TABLE "+st+" "+c)
	}
	switch r.replIdent {
	case "f":
		out = append(out, "ALTER TABLE "+st+" REPLICA IDENTITY FULL")
	case "n":
		out = append(out, "ALTER TABLE "+st+" REPLICA IDENTITY NOTHING")
	}
	out = append(out, "ALTER TABLE "+st+" OWNER TO "+quoteIdent(r.owner))
	out = append(out, privilegeStatements("TABLE", st, r.owner, r.defaultACL, r.grants)...)
	if r.comment != nil {
		out = append(out, "COMMENT ON TABLE "+st+" IS "+quoteLiteral(*r.comment))
	}
	return out
}

// privilegeStatements give object the privileges captured from its model. A
// model with the default privileges on the whole (relacl NULL) needs none given
// on the whole, but may still hold privileges on some of its columns.
func privilegeStatements(kind, object, owner string, defaultACL bool, grants []grant) []string {
	var out []string
	if !defaultACL {
		out = append(out, "REVOKE ALL ON "+kind+" "+object+" FROM PUBLIC", "REVOKE ALL ON "+kind+" "+object+" FROM "+quoteIdent(owner))
	}
	for _, g := range grants {
		if defaultACL && g.column == "" {
			continue // none: relacl is NULL
		}
		priv := g.privilege
		if g.column != "" {
			priv += " (" + g.column + ")"
		}
		stmt := "GRANT " + priv + " ON " + kind + " " + object + " TO " + g.grantee
		if g.grantable {
			stmt += " WITH GRANT OPTION"
		}
		out = append(out, stmt)
	}
	return out
}

// keyStatements build r's keys and plain indexes on its staged table, after the
// load, but for those built early. A partitioned table's are built after its
// partitions', which they attach.
func (r *relation) keyStatements() ([]string, error) { return r.keysBuilt(false) }

// earlyKeyStatements build the keys and unique indexes that carried foreign keys
// reference, on the empty staged table: its load maintains them.
func (r *relation) earlyKeyStatements() ([]string, error) { return r.keysBuilt(true) }

func (r *relation) keysBuilt(early bool) ([]string, error) {
	st := r.stagedIdent()
	var out []string
	for _, k := range r.keys {
		if k.early != early {
			continue
		}
		out = append(out, "ALTER TABLE "+st+" ADD CONSTRAINT "+quoteIdent(k.name)+" "+k.def)
		if k.comment != nil {
			out = append(out, "COMMENT ON CONSTRAINT "+quoteIdent(k.name)+" ON "+st+" IS "+quoteLiteral(*k.comment))
		}
	}
	for _, ix := range r.indexes {
		if ix.early != early {
			continue
		}
		def, err := r.retarget(ix.def)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", ix.name, err)
		}
		out = append(out, indexBuild(def, ix.method)...)
		idx := quoteIdent(stageSchema(r.schema)) + "." + quoteIdent(ix.name)
		if ix.comment != nil {
			out = append(out, "COMMENT ON INDEX "+idx+" IS "+quoteLiteral(*ix.comment))
		}
		if ix.clustered {
			out = append(out, "ALTER TABLE "+st+" CLUSTER ON "+quoteIdent(ix.name))
		}
		if ix.replIdent {
			out = append(out, "ALTER TABLE "+st+" REPLICA IDENTITY USING INDEX "+quoteIdent(ix.name))
		}
	}
	for _, k := range r.keys {
		if k.early != early {
			continue
		}
		if k.clustered {
			out = append(out, "ALTER TABLE "+st+" CLUSTER ON "+quoteIdent(k.name))
		}
		if k.replIdent {
			out = append(out, "ALTER TABLE "+st+" REPLICA IDENTITY USING INDEX "+quoteIdent(k.name))
		}
	}
	return out, nil
}

// retarget points an index definition of the live table at the staged one. The
// definition was captured with an empty search_path, so it names the table exactly
// as quoted here; for a partitioned table, ON ONLY becomes ON, so that building the
// index attaches the partitions' equivalents.
func (r *relation) retarget(def string) (string, error) {
	for _, from := range []string{" ON ONLY " + r.quoted + " USING ", " ON " + r.quoted + " USING "} {
		if i := strings.Index(def, from); i >= 0 {
			return def[:i] + " ON " + r.stagedIdent() + " USING " + def[i+len(from):], nil
		}
	}
	return "", fmt.Errorf("cannot find table %s in %q", r.quoted, def)
}

// foreignKeyStatement adds fk of r between staged tables: the referenced table is
// replaced by its staged replacement. NOT VALID unless r is partitioned (PostgreSQL
// refuses NOT VALID foreign keys there) or the key is carried (added valid to the
// empty table): validation then runs apart, in parallel.
func (s *stagedSet) foreignKeyStatement(r *relation, fk foreignKeyDef) (stmt string, validate bool, err error) {
	target := s.byOID[fk.target]
	if target == nil {
		return "", false, fmt.Errorf("foreign key %s of %s references a table outside the manifest", fk.name, r.quoted)
	}
	from := " REFERENCES " + target.quoted + "("
	if strings.Count(fk.def, from) != 1 {
		return "", false, fmt.Errorf("foreign key %s of %s: cannot find %s in %q", fk.name, r.quoted, target.quoted, fk.def)
	}
	def := strings.Replace(fk.def, from, " REFERENCES "+target.stagedIdent()+"(", 1)
	stmt = "ALTER TABLE " + r.stagedIdent() + " ADD CONSTRAINT " + quoteIdent(fk.name) + " " + def
	if r.kind != "p" && !fk.carried && !strings.HasSuffix(def, " NOT VALID") {
		stmt += " NOT VALID"
		validate = true
	}
	return stmt, validate, nil
}

// carriedStatements build, on the empty staged tables, the keys that carried foreign
// keys reference, then add those foreign keys, valid: with no rows there is nothing
// to check, and the load's silenced triggers check none.
func (s *stagedSet) carriedStatements() ([]string, error) {
	var out []string
	for _, r := range s.rels {
		keys, err := r.earlyKeyStatements()
		if err != nil {
			return nil, err
		}
		out = append(out, keys...)
	}
	for _, r := range s.rels {
		for _, fk := range r.foreignKeys {
			if !fk.carried {
				continue
			}
			stmt, _, err := s.foreignKeyStatement(r, fk)
			if err != nil {
				return nil, err
			}
			out = append(out, stmt)
			if fk.comment != nil {
				out = append(out, "COMMENT ON CONSTRAINT "+quoteIdent(fk.name)+" ON "+r.stagedIdent()+" IS "+quoteLiteral(*fk.comment))
			}
		}
	}
	return out, nil
}
