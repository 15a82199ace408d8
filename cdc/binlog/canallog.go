package binlog

import (
	"context"
	"log/slog"
)

// canalParseError is what canal logs, at ERROR, for each statement in the
// binlog its SQL parser cannot read (CREATE TRIGGER, procedures, …) —
// on any database of the server, since canal parses every statement.
const canalParseError = "error parsing query, will skip this event"

// canalTableChanged is what canal logs, at INFO, for every DDL of any table
// of the server.
const canalTableChanged = "table structure changed, clear table cache"

// canalLogHandler tones canal down to what matters here. Unparsable
// statements become WARN: routine on a shared server, but still visible,
// since an ALTER of the followed table that canal cannot parse would leave
// its column map stale. Table-cache clears of every DDL become DEBUG.
type canalLogHandler struct{ slog.Handler }

func (h canalLogHandler) Handle(ctx context.Context, r slog.Record) error {
	level := r.Level
	switch r.Message {
	case canalParseError:
		level = min(level, slog.LevelWarn)
	case canalTableChanged:
		level = slog.LevelDebug
	}
	if level != r.Level {
		r.Level = level
		if !h.Handler.Enabled(ctx, level) {
			return nil
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h canalLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return canalLogHandler{h.Handler.WithAttrs(as)}
}

func (h canalLogHandler) WithGroup(name string) slog.Handler {
	return canalLogHandler{h.Handler.WithGroup(name)}
}
