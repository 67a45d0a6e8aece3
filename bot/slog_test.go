package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/sirupsen/logrus"
)

// River logs through slog; its lines must have the bot's JSON shape.
func TestSlogLinesHaveTheBotsShape(t *testing.T) {
	var out bytes.Buffer
	l := logrus.New()
	l.SetOutput(&out)
	l.SetFormatter(&logrus.JSONFormatter{})
	l.SetLevel(logrus.DebugLevel)
	log := newSlog(logrus.NewEntry(l).WithField("service", "clonebot"), slog.LevelWarn)

	log.Info("below the level")
	log.With("component", "river").WithGroup("job").Warn("job errored", "id", int64(42), "err", errors.New("boom"), slog.Group("args", "ticket_id", 7))
	log.Error("elector failed")

	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2 (info is below warn):\n%s", len(lines), out.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &second); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"level": "warning", "msg": "job errored", "service": "clonebot", "component": "river",
		"job.id": float64(42), "job.err": "boom", "job.args.ticket_id": float64(7)}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s = %v, want %v (line %s)", k, first[k], v, lines[0])
		}
	}
	if first["time"] == nil || second["level"] != "error" || second["msg"] != "elector failed" {
		t.Errorf("lines: %s\n%s", lines[0], lines[1])
	}
}
