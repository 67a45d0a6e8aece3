package cloner

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/sirupsen/logrus"
)

// surveyMaxDelay bounds the wait between two attempts to reach an instance.
const surveyMaxDelay = 5 * time.Minute

// Survey reaches every instance of the registry once, for serve to run beside its
// work: it logs an error when two entries reach one database, and a warning for
// an instance whose database does not prove it is that instance, naming the
// command that fixes it. Nothing waits for it: an instance that does not answer is
// tried again, less and less often, until it answers or ctx ends. Survey returns
// once every instance has answered.
func (c *Cloner) Survey(ctx context.Context, retry time.Duration) {
	pending := make([]string, 0, len(c.instances))
	for name := range c.instances {
		pending = append(pending, name)
	}
	slices.Sort(pending)
	reached := map[string]Identity{}
	for delay := retry; ; delay = min(delay*2, surveyMaxDelay) {
		var still []string
		for _, name := range pending {
			if !c.surveyOne(ctx, name, reached) {
				still = append(still, name)
			}
		}
		if pending = still; len(pending) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// surveyOne reaches one instance, compares its database with those reached
// before it and checks its marker. It reports whether the instance answered.
func (c *Cloner) surveyOne(ctx context.Context, name string, reached map[string]Identity) bool {
	in := c.instances[name]
	log := c.log.WithField("instance", name)
	ev, err := c.reach(ctx, in)
	if err != nil {
		if ctx.Err() == nil {
			log.WithError(err).Warn("instance did not answer; trying again later")
		}
		return false
	}
	for _, other := range sortedKeys(reached) {
		same, err := c.sameInstances(ctx, in, ev.Database, c.instances[other], reached[other])
		if err != nil {
			log.WithError(err).Warn("could not compare instances")
			continue
		}
		if same {
			log.WithFields(logrus.Fields{"instances": []string{other, name}, "database": ev.Database.Database}).
				Error(fmt.Sprintf("instances %s and %s reach the same database: plans and clones between them are refused; correct the database_url of one of them", other, name))
		}
	}
	reached[name] = ev.Database
	if problem := c.enrollProblem(in, ev); problem != "" {
		log.Warn(problem)
	} else {
		log.Debug("instance reached and enrolled")
	}
	return true
}

// reach reads an instance's identity and marker on a connection of its own.
func (c *Cloner) reach(ctx context.Context, in Instance) (*Evidence, error) {
	ctx, cancel := context.WithTimeout(ctx, enrollCheckTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, in.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return readEvidence(ctx, conn, in)
}

// sameInstances compares two instances' databases: by identity when both are
// known, else with a probe over fresh connections.
func (c *Cloner) sameInstances(ctx context.Context, a Instance, ida Identity, b Instance, idb Identity) (bool, error) {
	if ida.known(idb) {
		return ida.sameAs(idb), nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*enrollCheckTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, a.DatabaseURL)
	if err != nil {
		return false, fmt.Errorf("connect to %s: %w", a.Name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("begin on %s: %w", a.Name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // read only
	p, err := newProbe()
	if err != nil {
		return false, err
	}
	if err := p.hold(ctx, tx); err != nil {
		return false, err
	}
	same, err := reachesDatabase(ctx, b, ida, p)
	if err != nil {
		return false, fmt.Errorf("reach %s: %w", b.Name, err)
	}
	return same, nil
}
