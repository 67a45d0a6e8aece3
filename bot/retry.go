package bot

import (
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// cappedRetry retries failed jobs with exponential backoff and jitter, capped so
// that announcements resume within a minute of Zendesk coming back rather than
// River's default hours-long backoff.
type cappedRetry struct {
	base, max time.Duration
}

func (p cappedRetry) NextRetry(job *rivertype.JobRow) time.Time {
	d := p.base << min(job.Attempt, 20)
	if d <= 0 || d > p.max {
		d = p.max
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5 + 1))
	return time.Now().Add(d - d/10 + jitter)
}
