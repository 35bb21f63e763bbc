package events

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkHandleGeneric measures the CPU of one generic event through the
// handler (decode, validate, group commit with fsync, answer), without the
// network.
func BenchmarkHandleGeneric(b *testing.B) {
	dir := b.TempDir()
	cfg := newConfigB(b, dir)
	in, err := Open(Options{Dir: cfg.Events.JournalDir, QueueSize: 4096})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close() //nolint:errcheck // benchmark
	h, err := NewHandler(in, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := genericEvent("")
	var n atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/api/v1/events", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprint("k", n.Add(1)))
			rec := httptest.NewRecorder()
			h.HandleGeneric(rec, req)
			if rec.Code != http.StatusAccepted {
				b.Errorf("%d %s", rec.Code, rec.Body)
				return
			}
		}
	})
}
