package events

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func event(id string) model.Event {
	return model.Event{ID: id, Sender: SenderGeneric, Kind: model.EventDeploy, Env: "prod", Dataset: "payments",
		Release: "v1", Result: model.ResultSucceeded, Time: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}
}

func writeJournal(t *testing.T, dir string, n int) {
	t.Helper()
	in, err := Open(Options{Dir: dir, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := in.Submit(context.Background(), []model.Event{event(fmt.Sprintf("e%d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
}

func replay(t *testing.T, dir string) ([]model.Event, *Torn) {
	t.Helper()
	j, evs, torn, err := OpenJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	return evs, torn
}

// A crash in the middle of a write leaves a torn last record: the next
// open keeps every record before it, cuts it off (saving its bytes beside
// the journal) and appends after the last intact record.
func TestTornTailIsCut(t *testing.T) {
	path := func(dir string) string { return filepath.Join(dir, JournalFile) }
	for _, c := range []struct {
		name string
		tear func(t *testing.T, data []byte) []byte
		keep int
	}{
		{"half a header", func(_ *testing.T, d []byte) []byte { return append(d, 0, 0, 1) }, 5},
		{"half a payload", func(t *testing.T, d []byte) []byte {
			rec, err := encode(nil, new(event("e5")))
			if err != nil {
				t.Fatal(err)
			}
			return append(d, rec[:len(rec)/2]...)
		}, 5},
		{"bad checksum of the last record", func(_ *testing.T, d []byte) []byte {
			d = bytes.Clone(d)
			d[len(d)-3] ^= 0x20
			return d
		}, 4},
		{"zeroed tail (preallocated blocks)", func(_ *testing.T, d []byte) []byte { return append(d, make([]byte, 4096)...) }, 5},
		{"absurd length", func(_ *testing.T, d []byte) []byte { return append(d, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0, '{') }, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			writeJournal(t, dir, 5)
			data, err := os.ReadFile(path(dir))
			if err != nil {
				t.Fatal(err)
			}
			torn := c.tear(t, data)
			if err := os.WriteFile(path(dir), torn, 0o640); err != nil {
				t.Fatal(err)
			}
			evs, cut := replay(t, dir)
			if len(evs) != c.keep {
				t.Fatalf("kept %d records, want %d", len(evs), c.keep)
			}
			for i, ev := range evs {
				if ev.ID != fmt.Sprintf("e%d", i) {
					t.Errorf("record %d is %s", i, ev.ID)
				}
			}
			if cut == nil {
				t.Fatal("the torn tail was not reported")
			}
			st, err := os.Stat(path(dir))
			if err != nil {
				t.Fatal(err)
			}
			if st.Size() != cut.Offset {
				t.Errorf("journal is %d bytes, want cut at %d", st.Size(), cut.Offset)
			}
			saved, err := os.ReadFile(cut.SavedTo)
			if err != nil || !bytes.Equal(saved, torn[cut.Offset:]) {
				t.Errorf("saved tail %q (%v), want the %d cut bytes", saved, err, len(torn)-int(cut.Offset))
			}
			// Appending after the cut gives a journal that reads back whole.
			in, err := Open(Options{Dir: dir, QueueSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := in.Submit(context.Background(), []model.Event{event("after")}); err != nil {
				t.Fatal(err)
			}
			if err := in.Close(); err != nil {
				t.Fatal(err)
			}
			evs, cut = replay(t, dir)
			if len(evs) != c.keep+1 || evs[c.keep].ID != "after" || cut != nil {
				t.Errorf("after an append: %d records, torn %+v", len(evs), cut)
			}
		})
	}
}

// Group commit: concurrent requests share fsyncs, OnCommit sees every
// event once in journal order, and the replay gives the same sequence.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	var syncs atomic.Int64
	var mu sync.Mutex
	var order []string
	in, err := Open(Options{Dir: dir, QueueSize: 256, Sync: func(f *os.File) error {
		syncs.Add(1)
		time.Sleep(2 * time.Millisecond)
		return f.Sync()
	}, OnCommit: func(evs []model.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			order = append(order, ev.ID)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 20 {
				if _, err := in.Submit(context.Background(), []model.Event{event(fmt.Sprintf("g%d-%d", g, i))}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	if len(order) != 640 {
		t.Fatalf("OnCommit saw %d events, want 640", len(order))
	}
	if n := syncs.Load(); n >= 640 {
		t.Errorf("%d fsyncs for 640 concurrent events: no group commit", n)
	}
	evs, _ := replay(t, dir)
	for i, ev := range evs {
		if ev.ID != order[i] {
			t.Fatalf("replay record %d is %s, OnCommit saw %s", i, ev.ID, order[i])
		}
	}
}

// BenchmarkJournalGroupCommit measures durable ingest through the
// ingester with real fsyncs: 64 concurrent submitters, one event each per
// request, as webhook deliveries arrive.
func BenchmarkJournalGroupCommit(b *testing.B) {
	var syncs atomic.Int64
	in, err := Open(Options{Dir: b.TempDir(), QueueSize: 1024, Sync: func(f *os.File) error {
		syncs.Add(1)
		return f.Sync()
	}})
	if err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	b.SetParallelism(32) // x GOMAXPROCS goroutines
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := fmt.Sprintf("bench-%d", next.Add(1))
			if _, err := in.Submit(context.Background(), []model.Event{event(id)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "events/fsync")
	if err := in.Close(); err != nil {
		b.Fatal(err)
	}
}
