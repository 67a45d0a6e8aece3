package cloner

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// Identity says which database a connection reaches, whatever its URL (a Unix
// socket, another port, a proxy): the cluster's system identifier, from
// pg_control_system(), and the database's oid, unique within the cluster. A
// physical copy of a cluster (a base backup, a promoted replica, a restored volume
// snapshot) keeps both, so it has the identity of its original.
type Identity struct {
	// SystemIdentifier is empty when the role may not execute pg_control_system()
	// (it may by default; a hardened server can revoke it).
	SystemIdentifier string `json:"system_identifier,omitempty"`
	DatabaseOID      uint32 `json:"database_oid"`
	Database         string `json:"database"`
	// Role is the role the connection acts as (current_user).
	Role string `json:"role"`
}

func (id Identity) String() string {
	sys := id.SystemIdentifier
	if sys == "" {
		sys = "unknown"
	}
	return fmt.Sprintf("database %q (oid %d, system identifier %s)", id.Database, id.DatabaseOID, sys)
}

const identitySQL = `SELECT d.oid, d.datname::text, current_user::text,
       has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')
FROM pg_database d WHERE d.datname = current_database()`

// readIdentity reads the identity of q's database. Asking first whether the role
// may read the system identifier keeps a refusal from aborting q's transaction.
func readIdentity(ctx context.Context, q querier) (Identity, error) {
	var id Identity
	var canRead bool
	if err := q.QueryRow(ctx, identitySQL).Scan(&id.DatabaseOID, &id.Database, &id.Role, &canRead); err != nil {
		return id, fmt.Errorf("read database identity: %w", err)
	}
	if !canRead {
		return id, nil
	}
	if err := q.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&id.SystemIdentifier); err != nil {
		return id, fmt.Errorf("read the cluster's system identifier: %w", err)
	}
	return id, nil
}

// known reports whether both identities carry a system identifier, so that
// comparing them answers whether they are one database.
func (id Identity) known(other Identity) bool {
	return id.SystemIdentifier != "" && other.SystemIdentifier != ""
}

// sameAs reports whether other is known to be the same database as id: equal
// system identifiers and oids, or, when a system identifier is missing, equal oids
// and names (a weaker proof, for markers only).
func (id Identity) sameAs(other Identity) bool {
	if id.known(other) {
		return id.SystemIdentifier == other.SystemIdentifier && id.DatabaseOID == other.DatabaseOID
	}
	return id.DatabaseOID == other.DatabaseOID && id.Database == other.Database
}

// probe proves whether two connections reach one database without the system
// identifier: a lock taken through the first, held until its transaction ends, is
// visible through the second only if both are in the same database of the same
// server, right now.
type probe struct{ key int64 }

func newProbe() (probe, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return probe{}, fmt.Errorf("probe key: %w", err)
	}
	return probe{key: int64(binary.BigEndian.Uint64(b[:]) >> 1)}, nil
}

// hold takes the probe's lock (shared: it never waits, nor makes anyone wait) in
// q's transaction.
func (p probe) hold(ctx context.Context, q querier) error {
	if _, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock_shared($1::bigint)", p.key); err != nil {
		return fmt.Errorf("take the identity probe lock: %w", err)
	}
	return nil
}

// seen reports whether q's database shows the probe's lock.
func (p probe) seen(ctx context.Context, q querier) (bool, error) {
	var found bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks l
  WHERE l.locktype = 'advisory' AND l.objsubid = 1 AND l.classid::bigint = ($1::bigint >> 32) AND l.objid::bigint = ($1::bigint & 4294967295)
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()))`, p.key).Scan(&found)
	if err != nil {
		return false, fmt.Errorf("look for the identity probe lock: %w", err)
	}
	return found, nil
}

// sameDatabase tells whether a (with identity ida) and b reach one database: by
// identity when both system identifiers are known, else by a probe lock held in
// a's transaction.
func sameDatabase(ctx context.Context, a, b querier, ida, idb Identity) (bool, error) {
	if ida.known(idb) {
		return ida.sameAs(idb), nil
	}
	p, err := newProbe()
	if err != nil {
		return false, err
	}
	if err := p.hold(ctx, a); err != nil {
		return false, err
	}
	return p.seen(ctx, b)
}
