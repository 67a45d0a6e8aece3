package cloner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gaiia/clonebot/natsort"
)

// Plan is the preflight's answer: whether a clone is allowed and what it would do.
type Plan struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Tenant string `json:"tenant"`
	// Problems stop the clone; empty when it is allowed.
	Problems []string `json:"problems"`
	// Estimated is true when production row counts are planner estimates
	// (the plan inside Clone) rather than exact counts (Plan).
	Estimated bool `json:"estimated"`
	// Categories lists every manifest category, cloned ones first, with production
	// rows and bytes to copy and sandbox rows that will be wiped.
	Categories []CategoryPlan `json:"categories"`
	// NulledReferences are columns of cloned tables that reference excluded rows;
	// the copy sets them to NULL ("schema.table.column -> schema.table").
	NulledReferences []string `json:"nulled_references"`
	// Scrubbed are the manifest's scrub columns, never read from production.
	Scrubbed []string `json:"scrubbed"`
	// Integrations are production's installed integrations to prepare sandbox
	// credentials for (names and kinds only).
	Integrations []Integration `json:"integrations"`
	// DependentWorkflows will fail in the sandbox until their integrations are
	// reinstalled: the first MaxListedWorkflows by name, of DependentWorkflowCount.
	DependentWorkflows     []DependentWorkflow `json:"dependent_workflows"`
	DependentWorkflowCount int                 `json:"dependent_workflow_count"`
	// SandboxOnlyWorkflows are in the sandbox but not in production (by natural
	// key), in natural order; the clone exports them before the wipe.
	SandboxOnlyWorkflows []string `json:"sandbox_only_workflows"`
	// Source and Target are what each database says about itself: its identity
	// and its enrollment marker (nil when a connection failed first).
	// Method is how a clone would run: MethodSwap, or MethodInPlace for the
	// reasons in MethodReasons. RollbackBytes is the space the sandbox's kept
	// copy takes until it expires.
	Method        string    `json:"method"`
	MethodReasons []string  `json:"method_reasons"`
	RollbackBytes int64     `json:"rollback_bytes"`
	Source        *Evidence `json:"source"`
	Target        *Evidence `json:"target"`
	// Warnings do not stop the clone but deserve a look before anyone approves it.
	Warnings []string `json:"warnings"`
	// Drift is how far the sandbox has moved from production, per cloned table in
	// manifest order, and DriftByCategory its sum per category. Plan compares
	// every row; Check leaves both empty, and so does a plan refused before rows
	// were read. A clone fills them from its export, which compares the same way.
	Drift           []Drift         `json:"drift"`
	DriftByCategory []CategoryDrift `json:"drift_by_category"`

	swap   *stagedSet // what a swap rebuilds, when the method is MethodSwap
	copies []copySpec // the cloned tables, in manifest order
	srcCat *catalog   // production's shape
	wipe   []*table   // every manifest table present in the sandbox
}

// OK reports whether the clone is allowed.
func (p *Plan) OK() bool { return len(p.Problems) == 0 }

// clonedBytes returns the production size of each cloned table and their total.
func (p *Plan) clonedBytes() (map[string]int64, int64) {
	sizes, total := map[string]int64{}, int64(0)
	for _, c := range p.Categories {
		if !c.Cloned {
			continue
		}
		for _, t := range c.Tables {
			sizes[t.Table] = t.Bytes
			total += t.Bytes
		}
	}
	return sizes, total
}

// CategoryPlan is one manifest category.
type CategoryPlan struct {
	Name        string      `json:"name"`
	Cloned      bool        `json:"cloned"`
	Rows        int64       `json:"rows"`         // production rows to copy (cloned only)
	Bytes       int64       `json:"bytes"`        // production on-disk size (heap and TOAST) of those rows
	SandboxRows int64       `json:"sandbox_rows"` // rows the wipe removes
	Tables      []TablePlan `json:"tables"`
}

// TablePlan is one table of a category.
type TablePlan struct {
	Table       string `json:"table"`
	Rows        int64  `json:"rows"`
	Bytes       int64  `json:"bytes"`
	SandboxRows int64  `json:"sandbox_rows"`
}

// Integration names an installed integration; credentials are never read.
type Integration struct {
	Label string `json:"label"`
	Kind  string `json:"kind,omitempty"`
}

// DependentWorkflow is a workflow with steps that call integrations.
type DependentWorkflow struct {
	Workflow     string   `json:"workflow"`
	Integrations []string `json:"integrations"`
}

// Plan runs the preflight read-only, with exact row counts. The error is for
// infrastructure failures only; refusals are in Plan.Problems.
func (c *Cloner) Plan(ctx context.Context, from, to string) (*Plan, error) {
	p, err := c.plan(ctx, from, to, exactCounts)
	return p, c.explainWait(ctx, c.instances[from], c.instances[to], err)
}

// Check runs the preflight's checks only: the pair of instances, what their
// databases say they are, the classification of every table, the schemas, the
// references to excluded tables and the roles' privileges. It reads the catalogs
// and no row (but the enrollment markers), so that it can run on every ticket
// event without loading production; its plan has Problems and nothing to show.
func (c *Cloner) Check(ctx context.Context, from, to string) (*Plan, error) {
	p, err := c.plan(ctx, from, to, checksOnly)
	return p, c.explainWait(ctx, c.instances[from], c.instances[to], err)
}

// planDepth is how much of the preflight runs.
type planDepth int

const (
	checksOnly  planDepth = iota // problems only: catalogs, no rows read
	estimates                    // production rows from planner statistics (inside a clone)
	exactCounts                  // every row counted
)

func (c *Cloner) plan(ctx context.Context, from, to string, depth planDepth) (*Plan, error) {
	src, dst, problems := c.checkPair(from, to)
	p := &Plan{From: from, To: to, Tenant: src.Tenant, Problems: problems}
	if len(problems) > 0 {
		return p, nil
	}
	prod, err := c.connect(ctx, src, p)
	if prod == nil {
		return p, err
	}
	defer prod.Close(context.WithoutCancel(ctx))
	sbx, err := c.connect(ctx, dst, p)
	if sbx == nil {
		return p, err
	}
	defer sbx.Close(context.WithoutCancel(ctx))
	srcTx, err := prod.BeginTx(ctx, snapshotTx)
	if err != nil {
		return nil, fmt.Errorf("begin production snapshot: %w", err)
	}
	defer srcTx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	// One sandbox snapshot too: the drift compares every table at one instant.
	dstTx, err := sbx.BeginTx(ctx, snapshotTx)
	if err != nil {
		return nil, fmt.Errorf("begin sandbox read: %w", err)
	}
	defer dstTx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	if err := c.preflight(ctx, srcTx, dstTx, p, depth); err != nil {
		return nil, err
	}
	if depth == checksOnly {
		return p, nil
	}
	if err := c.describeIntegrations(ctx, srcTx, p); err != nil {
		return nil, err
	}
	if err := p.compareTables(ctx, srcTx, dstTx, c.lookupKeys); err != nil {
		return nil, err
	}
	return p, nil
}

// compareTables compares every cloned table of an allowed plan whose rows were
// counted: a refused plan reads no rows.
func (p *Plan) compareTables(ctx context.Context, src, dst pgx.Tx, lookupKeys int64) error {
	if !p.OK() || p.srcCat == nil {
		return nil
	}
	d, err := driftTables(ctx, src, dst, p.driftTables(), lookupKeys)
	if err != nil {
		return err
	}
	p.setDrift(d)
	return nil
}

var snapshotTx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// connect opens in's database; a database that does not exist is a plan problem,
// any other failure an error. It returns nil when there is no connection.
func (c *Cloner) connect(ctx context.Context, in Instance, p *Plan) (*pgx.Conn, error) {
	conn, err := c.connectTo(ctx, in)
	if err == nil {
		return conn, nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "3D000" {
		p.Problems = append(p.Problems, fmt.Sprintf("instance %q: its database does not exist", in.Name))
		return nil, nil
	}
	// pgconn errors can quote the host but never the password.
	return nil, fmt.Errorf("connect to instance %s: %w", in.Name, err)
}

// preflight fills p from the production snapshot src and the sandbox dst.
func (c *Cloner) preflight(ctx context.Context, src, dst querier, p *Plan, depth planDepth) error {
	p.Estimated = depth == estimates
	proven, same, err := c.checkDatabases(ctx, src, dst, p)
	if err != nil || same {
		return err
	}
	srcCat, err := readCatalog(ctx, src)
	if err != nil {
		return fmt.Errorf("production %s: %w", p.From, err)
	}
	dstCat, err := readCatalog(ctx, dst)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", p.To, err)
	}
	c.checkClassified(p, srcCat, "production "+p.From)
	c.checkClassified(p, dstCat, "sandbox "+p.To)
	c.checkSchemas(p, srcCat, dstCat)
	c.checkManifestColumns(p, srcCat, "production "+p.From)
	c.checkManifestColumns(p, dstCat, "sandbox "+p.To)
	c.buildCopies(p, srcCat, dstCat)
	before := len(p.Problems)
	if err := c.checkPrivileges(ctx, src, dst, p, srcCat); err != nil {
		return err
	}
	// Rows are counted only in databases proven to be the instances, by roles that
	// may read them: a sandbox entry that reaches production must not cost
	// production a count of every table.
	if depth == checksOnly || !proven || len(p.Problems) > before {
		return nil
	}
	if err := c.count(ctx, src, dst, p, srcCat, dstCat, depth == exactCounts); err != nil {
		return err
	}
	if err := c.chooseMethod(ctx, src, dst, p, srcCat); err != nil {
		return err
	}
	c.warnCustomerRows(p)
	p.srcCat = srcCat
	return c.listSandboxOnly(ctx, src, dst, p, srcCat, dstCat)
}

// checkPrivileges refuses a clone that the roles could not finish.
func (c *Cloner) checkPrivileges(ctx context.Context, src, dst querier, p *Plan, srcCat *catalog) error {
	sa, err := sandboxAccess(ctx, dst, p)
	if err != nil {
		return fmt.Errorf("sandbox %s: %w", p.To, err)
	}
	checkAccess(p, "sandbox "+p.To, sa, sandboxChecks)
	pa, err := c.productionAccess(ctx, src, p, srcCat)
	if err != nil {
		return fmt.Errorf("production %s: %w", p.From, err)
	}
	checkAccess(p, "production "+p.From, pa, productionChecks)
	return nil
}

// checkClassified fails closed on tables the manifest does not name.
func (c *Cloner) checkClassified(p *Plan, cat *catalog, where string) {
	var missing []string
	for _, name := range cat.names {
		if c.tables.category[name] == "" {
			missing = append(missing, name.String())
		}
	}
	if len(missing) > 0 {
		natsort.Strings(missing)
		p.Problems = append(p.Problems, fmt.Sprintf("%s has tables the manifest does not classify: %s (add each to a cloned or excluded category)", where, strings.Join(missing, ", ")))
	}
}

// checkSchemas compares the cloned tables' columns on both sides.
func (c *Cloner) checkSchemas(p *Plan, src, dst *catalog) {
	for _, name := range c.clonedTables() {
		s, d := src.tables[name], dst.tables[name]
		switch {
		case s == nil && d == nil:
			p.Problems = append(p.Problems, fmt.Sprintf("cloned table %s exists in neither instance", name))
			continue
		case s == nil:
			p.Problems = append(p.Problems, fmt.Sprintf("schema mismatch: table %s is missing in production %s", name, p.From))
			continue
		case d == nil:
			p.Problems = append(p.Problems, fmt.Sprintf("schema mismatch: table %s is missing in sandbox %s", name, p.To))
			continue
		}
		for _, diff := range columnDiffs(s, d, src.types, dst.types) {
			p.Problems = append(p.Problems, "schema mismatch: "+diff)
		}
	}
}

func columnDiffs(s, d *table, st, dt typeDefs) []string {
	var diffs []string
	for _, sc := range s.columns {
		dc, ok := d.column(sc.name)
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s (%s) is missing in the sandbox", columnRef{s.name, sc.name}, sc.typ))
		case dc.typ != sc.typ:
			diffs = append(diffs, fmt.Sprintf("%s is %s in production, %s in the sandbox", columnRef{s.name, sc.name}, sc.typ, dc.typ))
		case dc.generated != sc.generated:
			diffs = append(diffs, fmt.Sprintf("%s is generated on one side only", columnRef{s.name, sc.name}))
		case dc.collation != sc.collation:
			diffs = append(diffs, fmt.Sprintf("%s has collation %s in production, %s in the sandbox", columnRef{s.name, sc.name},
				orDefaultCollation(sc.collation), orDefaultCollation(dc.collation)))
		default:
			if diff := typeDifference(st, sc.typeOID, dt, dc.typeOID); diff != "" {
				diffs = append(diffs, fmt.Sprintf("%s (%s): %s", columnRef{s.name, sc.name}, sc.typ, diff))
			}
		}
	}
	for _, dc := range d.columns {
		if _, ok := s.column(dc.name); !ok {
			diffs = append(diffs, fmt.Sprintf("%s (%s) is missing in production", columnRef{s.name, dc.name}, dc.typ))
		}
	}
	return diffs
}

func orDefaultCollation(c string) string {
	if c == "" {
		return "the database default"
	}
	return c
}

func (c *Cloner) clonedTables() []tableName {
	var names []tableName
	for _, cat := range c.manifest.Cloned {
		for _, t := range cat.Tables {
			names = append(names, c.tables.table(t))
		}
	}
	return names
}

func (c *Cloner) allTables() []tableName {
	names := c.clonedTables()
	for _, cat := range c.manifest.Excluded {
		for _, t := range cat.Tables {
			names = append(names, c.tables.table(t))
		}
	}
	return names
}

// buildCopies decides, for every cloned table, which columns are copied, NULLed
// (references to excluded rows) or left out (scrubbed and generated columns).
func (c *Cloner) buildCopies(p *Plan, src, dst *catalog) {
	nulled := c.nulledColumns(p, src, dst)
	scrub := map[columnRef]bool{}
	for _, s := range c.manifest.Scrub {
		ref, _ := parseColumn(s) // validated with the manifest
		scrub[ref] = true
		p.Scrubbed = append(p.Scrubbed, ref.String())
		c.checkScrub(p, src, dst, ref)
	}
	for _, name := range c.clonedTables() {
		s, d := src.tables[name], dst.tables[name]
		if s == nil || d == nil {
			continue
		}
		spec := copySpec{table: d, category: c.tables.category[name]}
		for _, col := range s.columns {
			key := columnRef{name, col.name}
			switch {
			case col.generated:
			case scrub[key]:
				spec.scrubbed = append(spec.scrubbed, col.name)
			case nulled[key]:
				spec.add(col, true)
			default:
				spec.add(col, false)
			}
		}
		if len(spec.columns) == 0 {
			p.Problems = append(p.Problems, fmt.Sprintf("cloned table %s has no column left to copy after scrubbing", name))
			continue
		}
		p.copies = append(p.copies, spec)
	}
	for _, name := range c.allTables() {
		if t := dst.tables[name]; t != nil {
			p.wipe = append(p.wipe, t)
		}
	}
	natsort.Strings(p.Scrubbed)
}

func (c *Cloner) checkScrub(p *Plan, src, dst *catalog, ref columnRef) {
	for _, cat := range []*catalog{src, dst} {
		t := cat.tables[ref.table]
		if t == nil {
			continue
		}
		col, ok := t.column(ref.column)
		if !ok {
			p.Problems = append(p.Problems, fmt.Sprintf("scrub column %s does not exist", ref))
			return
		}
		if cat == dst && col.notNull && !col.hasDefault {
			p.Problems = append(p.Problems, fmt.Sprintf("scrub column %s is NOT NULL without a default in the sandbox: give it a default or make it NULLable", ref))
		}
	}
}

// nulledColumns finds references from cloned tables to excluded ones, on either
// side; NOT NULL ones are problems.
func (c *Cloner) nulledColumns(p *Plan, src, dst *catalog) map[columnRef]bool {
	nulled := map[columnRef]bool{}
	for _, fk := range append(slices.Clone(src.fks), dst.fks...) {
		if !c.tables.isCloned(fk.table) || c.tables.isCloned(fk.refTable) || c.tables.category[fk.refTable] == "" {
			continue
		}
		for _, name := range fk.columns {
			key := columnRef{fk.table, name}
			if nulled[key] {
				continue
			}
			nulled[key] = true
			if notNullOnEitherSide(src, dst, fk.table, name) {
				p.Problems = append(p.Problems, fmt.Sprintf("%s references excluded table %s (category %s) and is NOT NULL: its rows cannot be cloned without excluded data; make the column NULLable or reclassify a table", key, fk.refTable, c.tables.category[fk.refTable]))
				continue
			}
			p.NulledReferences = append(p.NulledReferences, key.String()+" -> "+fk.refTable.String())
		}
	}
	natsort.Strings(p.NulledReferences)
	return nulled
}

func notNullOnEitherSide(src, dst *catalog, table tableName, column string) bool {
	for _, cat := range []*catalog{src, dst} {
		if t := cat.tables[table]; t != nil {
			if c, ok := t.column(column); ok && c.notNull {
				return true
			}
		}
	}
	return false
}
