// Package cloner copies the configuration of a production instance (a PostgreSQL
// database) into a sandbox instance of the same tenant, safely and atomically.
//
// A manifest classifies every table, by (schema, table) pair, into cloned and
// excluded categories. Plan runs the preflight checks read-only and describes the
// clone, with the drift of every cloned table; Check runs the checks alone, from
// the catalogs. Clone runs the same checks, holding the sandbox's advisory lock,
// exports every sandbox row it will delete or overwrite (export.go: handed to
// Options.BeforeWipe before anything is replaced), then loads the cloned tables
// from one REPEATABLE READ, READ ONLY production snapshot with COPY, by the swap
// method (staged tables loaded in parallel, switched in one short transaction:
// SWITCH.md) or in place (one transaction), and verifies row counts and checksums
// against the snapshot before it commits. Any failure leaves the sandbox exactly
// as it was.
//
// The drift (drift.go) says how far a sandbox moved from production, per cloned
// table: rows only in production, only in the sandbox, and changed, compared as
// the clone would write them. Both sides stream sorted by primary key (by its
// hash first when it is not made of integers) with a hash of each row computed
// by the server, and Go merges the streams in flat memory. The sandbox export
// (sandbox_export.go, archive.go) runs the same comparison and saves every
// sandbox row the clone deletes or overwrites into one zip of JSON Lines per
// category, split under an attachment size limit.
//
// The package returns data (Plan, Report) and reports a clone's progress through
// Options.Progress; it renders nothing for people: cmd/clonebot writes plans, reports
// and progress, the life cycle its messages.
//
// The databases prove what they are. Enroll writes a marker (instance, environment,
// tenant, when, by whom, and the identity of the database it was written in) into
// schema clonebot of an instance's database, owned by the enrolling role and
// granted to no one. The preflight refuses a source or a target whose marker is
// missing, names another instance, contradicts the registry or was written in
// another database (a dump or copy), and two entries that reach one database,
// whatever their URLs: a database is known by its cluster's system identifier
// (pg_control_system()) and its oid, or, when a hardened server refuses the
// system identifier, by a lock visible through both connections. Schema clonebot
// is clonebot's own: it is never classified, counted, wiped or exported.
//
// The preflight also checks, from the catalogs, every right the clone will use
// (a list of named checks in privileges.go): reading production's cloned tables,
// and in the sandbox reading, truncating and loading the manifest tables, owning
// the tables whose indexes and constraints are rebuilt and the sequences the wipe
// restarts, creating indexes, re-adding foreign keys, moving sequences, setting
// session_replication_role (a superuser, or from PostgreSQL 15 a role granted SET
// on it) and creating tables in schema clonebot. Each missing right is a problem
// naming the GRANT or ownership change that fixes it, so nothing is exported or
// announced for a clone the roles could not finish. Triggers marked ENABLE ALWAYS
// still fire during the load.
package cloner
