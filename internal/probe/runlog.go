package probe

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
)

// maxRunLog bounds the log kept of one run; a chatty restore must not grow
// the exporter's memory without bound.
const maxRunLog = 1 << 20

// runLog is the text log of one run, served by the API and kept in the
// state directory.
type runLog struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	truncated bool
}

func (l *runLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > maxRunLog {
		if !l.truncated {
			l.buf.WriteString("... log truncated: later lines are in the exporter's log only\n")
			l.truncated = true
		}
		return len(p), nil
	}
	return l.buf.Write(p)
}

// Bytes returns a copy of the log so far.
func (l *runLog) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

// teeHandler sends every record to two handlers: the run's own log and the
// exporter's log.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errA, errB error
	if h.a.Enabled(ctx, r.Level) {
		errA = h.a.Handle(ctx, r.Clone())
	}
	if h.b.Enabled(ctx, r.Level) {
		errB = h.b.Handle(ctx, r)
	}
	if errA != nil {
		return errA
	}
	return errB
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{h.a.WithGroup(name), h.b.WithGroup(name)}
}

// newRunLogger returns a logger that writes the run's log at debug level
// and above into l, and to base with the run's id and probe attached.
func newRunLogger(base *slog.Logger, l *runLog, runID, probe string) *slog.Logger {
	own := slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})
	return slog.New(teeHandler{own, base.Handler().WithAttrs([]slog.Attr{slog.String("probe", probe), slog.String("run_id", runID)})})
}
