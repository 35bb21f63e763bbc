package server

import (
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// slowGatherer blocks its first gather until release is closed and
// reports the value it read when the gather started.
type slowGatherer struct {
	mu      sync.Mutex
	value   float64
	started int
	release chan struct{}
}

func (g *slowGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.mu.Lock()
	g.started++
	first, v := g.started == 1, g.value
	g.mu.Unlock()
	if first {
		<-g.release
	}
	return []*dto.MetricFamily{{Name: proto.String("x"), Type: dto.MetricType_GAUGE.Enum(),
		Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(v)}}}}}, nil
}

// TestFreshGathererNeverStale: scrapes that arrive while a gather runs do
// not get its (older) result but share one gather that starts after it.
func TestFreshGathererNeverStale(t *testing.T) {
	g := &slowGatherer{value: 1, release: make(chan struct{})}
	f := &freshGatherer{g: g}
	value := func(r *ownRound) float64 { return r.mfs[0].Metric[0].GetGauge().GetValue() }

	first := make(chan float64)
	go func() { first <- value(f.get()) }()
	waitUntil(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return g.started == 1 })
	g.mu.Lock()
	g.value = 2
	g.mu.Unlock()

	later := make(chan float64, 3)
	for range 3 {
		go func() { later <- value(f.get()) }()
	}
	waitUntil(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.next != nil })
	time.Sleep(20 * time.Millisecond) // let the other two join the next round
	close(g.release)
	if v := <-first; v != 1 {
		t.Errorf("first scrape got %v, want 1", v)
	}
	for range 3 {
		if v := <-later; v != 2 {
			t.Errorf("a scrape that arrived after the change got %v from an older gather", v)
		}
	}
	if g.started > 4 {
		t.Errorf("%d gathers for 4 scrapes", g.started)
	}
}

func waitUntil(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
