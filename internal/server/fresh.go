package server

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// freshGatherer shares gathers of a registry between concurrent scrapes
// without ever serving one of them a gather that started before it
// arrived: a scrape that arrives while a gather runs joins the next one,
// which starts when the running one ends and serves everybody who joined
// it. Under many concurrent scrapes the registry is gathered (and each
// format encoded) about once per gather time instead of once per scrape,
// and a counter increment still shows in every scrape that starts after
// it.
type freshGatherer struct {
	g prometheus.Gatherer

	mu sync.Mutex
	// running is the gather in progress, next the one that starts after
	// it; either may be nil.
	running, next *ownRound
}

// ownRound is one gather of the registry and its encodings.
type ownRound struct {
	done chan struct{}
	mfs  []*dto.MetricFamily
	err  error

	mu     sync.Mutex
	bodies map[ownKey]*cachedBody
}

type ownKey struct {
	format expfmt.Format
	gzip   bool
}

// get returns a gather that started after get was called.
func (f *freshGatherer) get() *ownRound {
	f.mu.Lock()
	if f.running == nil {
		r := &ownRound{done: make(chan struct{})}
		f.running = r
		f.mu.Unlock()
		f.run(r)
		return r
	}
	if f.next != nil {
		r := f.next
		f.mu.Unlock()
		<-r.done
		return r
	}
	r := &ownRound{done: make(chan struct{})}
	f.next = r
	prev := f.running
	f.mu.Unlock()
	// The scrape that created the next round runs it once the running one
	// ends. Gathering the registry reads only this process's state, so
	// the wait is short and bounded; no wait is abandoned, or the scrapes
	// that joined this round would wait for nobody.
	<-prev.done
	f.mu.Lock()
	f.running, f.next = r, nil
	f.mu.Unlock()
	f.run(r)
	return r
}

func (f *freshGatherer) run(r *ownRound) {
	r.mfs, r.err = f.g.Gather()
	close(r.done)
	f.mu.Lock()
	if f.running == r {
		f.running = nil
	}
	f.mu.Unlock()
}

// body is the encoding of the round's families in format, without the
// OpenMetrics "# EOF" (the derived body that follows ends with it), as a
// gzip member of its own when gz is set. Scrapes of one round share it.
func (r *ownRound) body(format expfmt.Format, gz bool, gzips *sync.Pool) ([]byte, error) {
	k := ownKey{format: format, gzip: gz}
	r.mu.Lock()
	if r.bodies == nil {
		r.bodies = map[ownKey]*cachedBody{}
	}
	e, ok := r.bodies[k]
	if !ok {
		e = &cachedBody{done: make(chan struct{})}
		r.bodies[k] = e
	}
	r.mu.Unlock()
	if ok {
		<-e.done
		return e.b, e.err
	}
	e.b, e.err = r.encode(format, gz, gzips)
	close(e.done)
	return e.b, e.err
}

func (r *ownRound) encode(format expfmt.Format, gz bool, gzips *sync.Pool) ([]byte, error) {
	var buf bytes.Buffer
	var zw *gzip.Writer
	out := io.Writer(&buf)
	if gz {
		zw = gzips.Get().(*gzip.Writer)
		defer gzips.Put(zw)
		zw.Reset(&buf)
		out = zw
	}
	enc := expfmt.NewEncoder(out, format)
	for _, mf := range r.mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("compress: %w", err)
		}
	}
	return buf.Bytes(), nil
}
