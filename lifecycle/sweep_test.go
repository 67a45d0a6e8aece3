package lifecycle

import (
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/gaiia/clonebot/notifier"
)

// A sweep Zendesk refuses is a warning naming the fix: the credentials for a
// 401, the bot user's role for a 403; any other failure is retried.
func TestSweepRefusalNamesTheFix(t *testing.T) {
	t.Parallel()
	logger, hook := logtest.NewNullLogger()
	s := &sweeper{log: logrus.NewEntry(logger)}
	for _, tc := range []struct {
		status int
		want   string
	}{
		{401, "refuses clonebot's credentials"},
		{403, "the bot's user must be an admin"},
	} {
		hook.Reset()
		if err := s.failed(&notifier.StatusError{Status: tc.status, Body: "Couldn't authenticate you"}); err != nil {
			t.Errorf("%d: %v, want a warning only", tc.status, err)
		}
		if e := hook.LastEntry(); e == nil || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%d: logged %v, want %q", tc.status, e, tc.want)
		}
	}
	if err := s.failed(&notifier.StatusError{Status: 500}); err == nil {
		t.Errorf("500: %v, want an error to retry", err)
	}
}
