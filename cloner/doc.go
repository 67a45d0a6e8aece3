// Package cloner copies the configuration of a production instance (a PostgreSQL
// database) into a sandbox instance of the same tenant, safely and atomically.
//
// A manifest classifies every table into cloned and excluded categories. Plan runs the
// preflight checks read-only and describes the clone; Clone runs the same checks and
// then, in one sandbox transaction holding an advisory lock, exports the sandbox-only
// workflows, wipes every manifest table, streams the cloned tables from one
// REPEATABLE READ, READ ONLY production snapshot with COPY, rebuilds indexes and
// constraints, moves sequences past the copied ids and verifies row counts and
// checksums against the snapshot before it commits. Any failure rolls the sandbox back
// to exactly what it was.
//
// The package returns data (Plan, Report) and reports a clone's progress through
// Options.Progress; it renders nothing for people: cmd/clonebot writes plans, reports
// and progress, the life cycle its messages.
//
// The sandbox transaction sets session_replication_role = replica so that user
// triggers do not fire during the load; this needs a superuser (or, from PostgreSQL 15,
// a role granted SET on that parameter) on the sandbox. Triggers marked ENABLE ALWAYS
// still fire.
package cloner
