package lifecycle

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaiia/clonebot/lifecycle/messages"
)

// e2eRuleRuns is how many of the property's interleavings run on the real parts.
const e2eRuleRuns = 60

// The property's interleavings again, through the bot's sync worker: the ticket and
// its audits read over HTTP from the simulator (ids past 2^32, audits of one
// second), the outcome recorded in PostgreSQL with its announcements.
func TestApprovalRulesOnPostgresOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{})
	began, syncs := time.Now(), 0
	for i := range e2eRuleRuns {
		rnd := rand.New(rand.NewPCG(20261129, uint64(i)))
		f, ops := randomRun(rnd)
		run, err := h.ruleRun(f)
		if err == nil {
			err = run.run(ops)
		}
		if err != nil {
			t.Fatalf("run %d: %v\nfiled with %v, sandbox %q, users %q, wipe ticked %v\n  %s", i, err, f.tags,
				sandboxAnswers[f.sandbox].text, usersAnswers[f.users].text, f.wipeOK == 1, strings.Join(run.log, "\n  "))
		}
		for _, l := range run.log {
			if strings.HasPrefix(l, "sync") {
				syncs++
			}
		}
	}
	t.Logf("%d interleavings, %d syncs, in %s", e2eRuleRuns, syncs, time.Since(began).Round(time.Millisecond))
}

// ruleRun files a ticket of the property in the harness's account, with users of
// its own (the promotee's role changes).
func (h *harness) ruleRun(f filing) (*ruleRun, error) {
	hr := &ruleHarness{sim: h.sim, reader: h.s.sync.reader, bot: h.bot, service: h.service, org: h.org}
	r, err := hr.newRuleRun(f)
	if err != nil {
		return nil, err
	}
	r.e2e = h
	return r, nil
}

// checkQuietAndOnce syncs the run's ticket once more, which must queue nothing,
// and checks its announcements: each once (the outbox's keys are unique), the
// request acknowledged before it is scheduled or an approval refused, and no
// more refusals than end users' approval tags.
func (h *harness) checkQuietAndOnce(r *ruleRun) error {
	before := h.queued(r.ticket)
	if err := h.s.sync.sync(h.ctx, r.ticket, troubleSync); err != nil {
		return err
	}
	if after := h.queued(r.ticket); !slices.Equal(after, before) {
		return fmt.Errorf("a sync of an unchanged ticket queued %v", after[len(before):])
	}
	kinds := h.kinds(r.ticket)
	ack := slices.Index(kinds, string(messages.AwaitingApproval))
	for i, k := range kinds {
		if (k == string(messages.Scheduled) || k == string(messages.ApprovalRefused)) && (ack < 0 || ack > i) {
			return fmt.Errorf("%s before the request was acknowledged: %v", k, kinds)
		}
	}
	endUserTags := 0
	for _, a := range r.m.audits {
		if slices.Contains(a.added, "clone_approved") && (a.by == customer || a.by == promotee) {
			endUserTags++
		}
	}
	if n := count(kinds, string(messages.ApprovalRefused)); n > endUserTags {
		return fmt.Errorf("%d refusals for %d approval tags added by end users: %v", n, endUserTags, kinds)
	}
	return nil
}

func count(ss []string, s string) int {
	n := 0
	for _, x := range ss {
		if x == s {
			n++
		}
	}
	return n
}
