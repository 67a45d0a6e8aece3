package cloner

import (
	"context"
	"errors"
	"fmt"
)

// checkDatabases reads what each database says it is, its identity and its
// enrollment marker, and refuses two entries that reach one database and a marker
// that does not prove its instance. It reports whether both databases are proven
// to be the instances the registry names, and whether they are one database.
func (c *Cloner) checkDatabases(ctx context.Context, src, dst querier, p *Plan) (proven, same bool, err error) {
	from, to := c.instances[p.From], c.instances[p.To]
	if p.Source, err = readEvidence(ctx, src, from); err != nil {
		return false, false, err
	}
	if p.Target, err = readEvidence(ctx, dst, to); err != nil {
		return false, false, err
	}
	if same, err = sameDatabase(ctx, src, dst, p.Source.Database, p.Target.Database); err != nil || same {
		if same {
			p.Problems = append(p.Problems, sameDatabaseProblem(from.Name, to.Name, p.Source.Database))
		}
		return false, same, err
	}
	before := len(p.Problems)
	for _, side := range []struct {
		in Instance
		ev *Evidence
	}{{from, p.Source}, {to, p.Target}} {
		if problem := c.enrollProblem(side.in, side.ev); problem != "" {
			p.Problems = append(p.Problems, problem)
		}
	}
	return len(p.Problems) == before, false, nil
}

// readEvidence reads in's identity and marker through q. A marker the role may not
// read is a problem of the plan (Evidence.hidden), not an error.
func readEvidence(ctx context.Context, q querier, in Instance) (*Evidence, error) {
	id, err := readIdentity(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", in.Environment, in.Name, err)
	}
	ev := &Evidence{Instance: in.Name, Database: id}
	ev.Marker, err = readMarker(ctx, q, id.Role)
	if errors.As(err, &ev.hidden) {
		return ev, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", in.Environment, in.Name, err)
	}
	return ev, nil
}

func sameDatabaseProblem(a, b string, id Identity) string {
	msg := fmt.Sprintf("%s and %s reach the same database (%s), whatever their URLs: correct the database_url of one of them", a, b, id)
	if id.SystemIdentifier != "" {
		msg += ". A physical copy of a cluster (a restored base backup or volume snapshot, a promoted replica) keeps its original's identity and cannot be a sandbox of it: restore a dump into a new database instead"
	}
	return msg
}
