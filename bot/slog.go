package bot

import (
	"context"
	"log/slog"

	"github.com/sirupsen/logrus"
)

// logrusHandler is a slog.Handler writing through a logrus entry, so that the
// libraries that log with slog (River) log in the bot's one JSON shape.
type logrusHandler struct {
	log   *logrus.Entry
	group string // prefix of the keys, "group." per open group
	level slog.Level
}

func newSlog(log *logrus.Entry, level slog.Level) *slog.Logger {
	return slog.New(logrusHandler{log: log, level: level})
}

func (h logrusHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level && h.log.Logger.IsLevelEnabled(logrusLevel(l))
}

func (h logrusHandler) Handle(_ context.Context, r slog.Record) error {
	fields := logrus.Fields{}
	r.Attrs(func(a slog.Attr) bool {
		addAttr(fields, h.group, a)
		return true
	})
	e := h.log.WithFields(fields)
	if !r.Time.IsZero() {
		e = e.WithTime(r.Time)
	}
	e.Log(logrusLevel(r.Level), r.Message)
	return nil
}

func (h logrusHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	fields := logrus.Fields{}
	for _, a := range attrs {
		addAttr(fields, h.group, a)
	}
	h.log = h.log.WithFields(fields)
	return h
}

func (h logrusHandler) WithGroup(name string) slog.Handler {
	if name != "" {
		h.group += name + "."
	}
	return h
}

// addAttr flattens groups into dotted keys and errors into their text.
func addAttr(fields logrus.Fields, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	switch {
	case a.Equal(slog.Attr{}):
	case v.Kind() == slog.KindGroup:
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, ga := range v.Group() {
			addAttr(fields, p, ga)
		}
	default:
		val := v.Any()
		if err, ok := val.(error); ok {
			val = err.Error()
		}
		fields[prefix+a.Key] = val
	}
}

func logrusLevel(l slog.Level) logrus.Level {
	switch {
	case l >= slog.LevelError:
		return logrus.ErrorLevel
	case l >= slog.LevelWarn:
		return logrus.WarnLevel
	case l >= slog.LevelInfo:
		return logrus.InfoLevel
	default:
		return logrus.DebugLevel
	}
}
