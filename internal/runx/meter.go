package runx

import (
	"context"
	"path/filepath"
	"sync"
)

// Meter counts the external calls made and bytes read on behalf of one
// collection, so that the exporter can show what it costs its users.
type Meter struct {
	mu        sync.Mutex
	calls     map[string]int
	readBytes int64
}

type meterKey struct{}

// WithMeter returns a context whose program runs are counted in m.
func WithMeter(ctx context.Context, m *Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// Count records one external call named operation (for example
// "restic snapshots" or "s3 ListObjectsV2") and the bytes it read.
func Count(ctx context.Context, operation string, readBytes int64) {
	m, _ := ctx.Value(meterKey{}).(*Meter)
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	m.calls[operation]++
	m.readBytes += readBytes
}

// Calls returns the calls counted so far, by operation.
func (m *Meter) Calls() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]int, len(m.calls))
	for k, v := range m.calls {
		out[k] = v
	}
	return out
}

// ReadBytes returns the bytes read so far.
func (m *Meter) ReadBytes() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.readBytes
}

// operation names a program run by its program and subcommand, a bounded
// label value ("restic snapshots", "pgbackrest info").
func operation(c Cmd) string {
	op := filepath.Base(c.Path)
	for _, a := range c.Args {
		if isWord(a) {
			return op + " " + a
		}
	}
	return op
}

// isWord reports whether a looks like a subcommand: lower-case letters and
// inner dashes only, so that paths, values and ids never become labels.
func isWord(a string) bool {
	if a == "" || len(a) > 32 || a[0] == '-' {
		return false
	}
	for _, r := range a {
		if (r < 'a' || r > 'z') && r != '-' {
			return false
		}
	}
	return true
}
