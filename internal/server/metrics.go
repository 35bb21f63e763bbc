package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/restorable/restorable/internal/metrics"
)

// metricsRoute serves /metrics like promhttp.HandlerFor (same content
// negotiation, compression, headers and error answers), but keeps the
// encoded body of the derived metrics per state version and format. Only
// the exporter's own registry is gathered and encoded for every scrape
// (concurrent scrapes share a gather that started after they arrived, see
// freshGatherer); it is written first, and the cached derived body after
// it. Concurrent scrapes of an
// unchanged state share one encoding: the first encodes, the others wait
// for its bytes.
//
// The concatenation is a valid exposition: the text format allows families
// in any order as long as none is split (the route falls back to the merged
// promhttp path when a family name is in both parts), OpenMetrics gets its
// single "# EOF" from the derived body, which is always last, and a gzip
// body is two gzip members, which RFC 1952 allows and Go's gzip reader (the
// one Prometheus's scraper uses) reads as one stream.
type metricsRoute struct {
	exp      metrics.Exposition
	fallback http.Handler
	log      *slog.Logger
	cache    bodyCache
	own      *freshGatherer
	// gzips are writers for the own part, reused between scrapes.
	gzips sync.Pool
}

func newMetricsRoute(exp metrics.Exposition, fallback http.Handler, log *slog.Logger) *metricsRoute {
	m := &metricsRoute{exp: exp, fallback: fallback, log: log, gzips: sync.Pool{New: func() any {
		// The own part is a few kilobytes: speed matters more than size.
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
		return w
	}}}
	m.own = &freshGatherer{g: exp.Own}
	return m
}

func (m *metricsRoute) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL != nil && r.URL.Query().Has("name[]") {
		// A filtered scrape selects families across both parts: promhttp
		// does that on the merged families.
		m.fallback.ServeHTTP(w, r)
		return
	}
	ver, derived, err := m.exp.Derived.GatherVersion()
	if err != nil {
		m.gatherError(w, fmt.Errorf("gather derived metrics: %w", err))
		return
	}
	round := m.own.get()
	if round.err != nil {
		m.gatherError(w, fmt.Errorf("gather the exporter's own metrics: %w", round.err))
		return
	}
	if sharesFamily(round.mfs, derived) {
		// Both parts would hold a piece of one family, which must not be
		// split: let promhttp merge them (or report the clash).
		m.fallback.ServeHTTP(w, r)
		return
	}

	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	gz := negotiateGzip(r.Header)
	body, err := m.cache.get(r.Context(), bodyKey{ver: ver, format: format, gzip: gz}, derived)
	if err != nil {
		m.gatherError(w, fmt.Errorf("encode derived metrics as %s: %w", format, err))
		return
	}
	own, err := round.body(format, gz, &m.gzips)
	if err != nil {
		m.gatherError(w, fmt.Errorf("encode the exporter's own metrics as %s: %w", format, err))
		return
	}
	w.Header().Add("Vary", "Accept")
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", string(format))
	if gz {
		w.Header().Set("Content-Encoding", "gzip")
	}
	if _, err := w.Write(own); err != nil {
		m.log.Debug("send own metrics", "err", err)
		return
	}
	if _, err := w.Write(body); err != nil {
		m.log.Debug("send derived metrics", "err", err)
	}
}

func (m *metricsRoute) gatherError(w http.ResponseWriter, err error) {
	m.log.Error("serve metrics", "err", err)
	w.Header().Del("Content-Encoding")
	http.Error(w, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

// sharesFamily reports whether a family name is in both parts.
func sharesFamily(own, derived []*dto.MetricFamily) bool {
	names := make(map[string]struct{}, len(own))
	for _, mf := range own {
		names[mf.GetName()] = struct{}{}
	}
	for _, mf := range derived {
		if _, ok := names[mf.GetName()]; ok {
			return true
		}
	}
	return false
}

// negotiateGzip chooses between identity and gzip from Accept-Encoding as
// promhttp does (it offers identity first, then gzip, and picks the first
// offer with the strictly highest quality), so that a client sees the same
// encoding as before the cache.
func negotiateGzip(h http.Header) bool {
	bestQ, best := -1.0, "identity"
	specs := parseAcceptEncoding(h)
	for _, offer := range []string{"identity", "gzip"} {
		for _, s := range specs {
			if s.q > bestQ && (s.value == "*" || s.value == offer) {
				bestQ, best = s.q, offer
			}
		}
	}
	// A best quality of 0 refuses every offer; promhttp then sends
	// identity.
	return best == "gzip" && bestQ > 0
}

type acceptSpec struct {
	value string
	q     float64
}

func parseAcceptEncoding(h http.Header) []acceptSpec {
	var out []acceptSpec
	for _, line := range h.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(line, ",") {
			value, params, _ := strings.Cut(part, ";")
			value = strings.ToLower(strings.TrimSpace(value))
			if value == "" {
				continue
			}
			s := acceptSpec{value: value, q: 1}
			for p := range strings.SplitSeq(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil {
						continue
					}
					s.q = q
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// bodyKey names one encoded body of the derived metrics.
type bodyKey struct {
	ver    metrics.Version
	format expfmt.Format
	gzip   bool
}

// bodyCache holds the encoded bodies of one state version, one per format
// and compression asked for. A new version drops the bodies of the old one.
type bodyCache struct {
	mu     sync.Mutex
	ver    metrics.Version
	bodies map[bodyKey]*cachedBody
}

// cachedBody is filled once by the scrape that created it; done is closed
// when b or err is set.
type cachedBody struct {
	done chan struct{}
	b    []byte
	err  error
}

// get returns the body for k, encoding mfs (the families of k.ver) when no
// scrape did yet, or waiting for the scrape that is doing it.
func (c *bodyCache) get(ctx context.Context, k bodyKey, mfs []*dto.MetricFamily) ([]byte, error) {
	c.mu.Lock()
	if c.bodies == nil || c.ver != k.ver {
		c.ver, c.bodies = k.ver, map[bodyKey]*cachedBody{}
	}
	e, ok := c.bodies[k]
	if !ok {
		e = &cachedBody{done: make(chan struct{})}
		c.bodies[k] = e
	}
	c.mu.Unlock()
	if !ok {
		e.b, e.err = c.build(ctx, k, mfs)
		close(e.done)
		if e.err != nil {
			// A failed encoding is not kept: the next scrape tries again.
			c.mu.Lock()
			if c.bodies[k] == e {
				delete(c.bodies, k)
			}
			c.mu.Unlock()
		}
		return e.b, e.err
	}
	select {
	case <-e.done:
		return e.b, e.err
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for the encoding of another scrape: %w", ctx.Err())
	}
}

func (c *bodyCache) build(ctx context.Context, k bodyKey, mfs []*dto.MetricFamily) ([]byte, error) {
	if k.gzip {
		// The compressed body is the compressed identity body, which
		// other scrapes may ask for too.
		plain := k
		plain.gzip = false
		b, err := c.get(ctx, plain, mfs)
		if err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		buf.Grow(len(b) / 8)
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(b); err != nil {
			return nil, fmt.Errorf("compress: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("compress: %w", err)
		}
		return buf.Bytes(), nil
	}
	return encodeFamilies(mfs, k.format)
}

// encodeFamilies is what promhttp writes for mfs in format, "# EOF" of
// OpenMetrics included.
func encodeFamilies(mfs []*dto.MetricFamily, format expfmt.Format) ([]byte, error) {
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, format)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, fmt.Errorf("encode %s: %w", mf.GetName(), err)
		}
	}
	if c, ok := enc.(expfmt.Closer); ok {
		if err := c.Close(); err != nil {
			return nil, fmt.Errorf("finish: %w", err)
		}
	}
	return buf.Bytes(), nil
}
