// Package store owns clonebot's own PostgreSQL database: its versioned migrations
// (embedded, applied with goose, plus River's job-queue tables), the connection pool,
// and the readiness check that serve's /readyz reports.
//
// Migrations are serialised across processes by a PostgreSQL advisory lock, so any
// number of replicas may start against an empty database at once.
package store
