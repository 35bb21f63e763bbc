package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// evaluation is the policy state of the exporter at one moment.
type evaluation struct {
	cfg      *config.Config
	in       policy.Input
	findings []policy.Finding
}

// gateCache keeps the last evaluation briefly: ages change with the clock,
// but a scrape and an API call in the same second need not evaluate twice.
type gateCache struct {
	mu   sync.Mutex
	key  uint64
	cfg  *config.Config
	at   time.Time
	last *evaluation
}

const gateCacheTTL = time.Second

// evaluate runs the policy over the current state: the latest catalog of
// every source and the latest probe results.
func (a *app) evaluate() *evaluation {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	view := a.store.View()
	now := a.opts.Now()
	a.gate.mu.Lock()
	defer a.gate.mu.Unlock()
	if a.gate.last != nil && a.gate.key == view.Version && a.gate.cfg == cfg && now.Sub(a.gate.at) < gateCacheTTL && !now.Before(a.gate.at) {
		return a.gate.last
	}
	in := policy.Input{At: now}
	for _, st := range view.Sources {
		if st.Catalog == nil {
			continue
		}
		in.Backups = append(in.Backups, st.Catalog.Backups...)
		in.Repositories = append(in.Repositories, st.Catalog.Repositories...)
	}
	in.Probes = a.probeResults()
	ev := &evaluation{cfg: cfg, in: in, findings: policy.Evaluate(cfg, in)}
	a.gate.key, a.gate.cfg, a.gate.at, a.gate.last = view.Version, cfg, now, ev
	return ev
}

// gateOpen answers the gate of every environment for the gauge.
func (a *app) gateOpen() map[string]bool {
	ev := a.evaluate()
	return policy.GateOpen(ev.cfg, ev.in, ev.findings)
}

// handleGate serves GET /api/v1/gate?env=E[&dataset=D][&release=R].
func (a *app) handleGate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := policy.GateRequest{Env: q.Get("env"), Dataset: q.Get("dataset"), Release: q.Get("release")}
	if req.Env == "" {
		server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "the env parameter is required"})
		return
	}
	ev := a.evaluate()
	ans, err := policy.Gate(ev.cfg, ev.in, ev.findings, req)
	if err != nil {
		server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	server.WriteJSON(w, http.StatusOK, ans)
}

// probeResults are the probe runs the policy sees: the latest run of every
// probe and its latest success.
func (a *app) probeResults() []model.ProbeResult {
	var out []model.ProbeResult
	for _, p := range a.probeStatus() {
		out = append(out, p.Last)
		if !p.LastSuccess.IsZero() && !p.Last.Success {
			out = append(out, model.ProbeResult{RunID: p.Last.RunID + "-last-success", Probe: p.Last.Probe, Kind: p.Last.Kind,
				Env: p.Last.Env, Dataset: p.Last.Dataset, Start: p.LastSuccess, Success: true})
		}
	}
	return out
}
