package main

import (
	"context"
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
	cfg     *config.Config
	version uint64
	state   *policy.GateState
}

// gateCache keeps the last evaluation. The gauge reads it as it is (a
// background loop renews it every gateRefresh), so a scrape never pays for
// evaluating a large estate; the API re-evaluates when it is older than
// gateAPIMaxAge or the state changed.
type gateCache struct {
	mu   sync.Mutex
	last *evaluation
}

const (
	gateRefresh   = 5 * time.Second
	gateAPIMaxAge = time.Second
)

// evaluate runs the policy over the current state: the latest catalog of
// every source and the latest probe results. Catalogs are handed over per
// source, never copied into one slice.
func (a *app) evaluate() *evaluation {
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	view := a.store.View()
	now := a.opts.Now()
	var catalogs [][]model.Backup
	e := policy.NewEvaluator(cfg, now)
	for _, s := range view.Sources {
		if s.Catalog == nil {
			continue
		}
		e.AddBackups(s.Catalog.Backups)
		for _, r := range s.Catalog.Repositories {
			e.AddRepository(r, time.Time{})
		}
		catalogs = append(catalogs, s.Catalog.Backups)
	}
	e.AddProbes(a.probeResults())
	ev := &evaluation{cfg: cfg, version: view.Version, state: e.GateState(catalogs)}
	a.gate.mu.Lock()
	a.gate.last = ev
	a.gate.mu.Unlock()
	return ev
}

// current returns the last evaluation when it is of the current state and
// configuration and at most maxAge old, else a new one.
func (a *app) current(maxAge time.Duration) *evaluation {
	a.gate.mu.Lock()
	last := a.gate.last
	a.gate.mu.Unlock()
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	if last != nil && last.cfg == cfg && last.version == a.store.View().Version {
		if age := a.opts.Now().Sub(last.state.At); age >= 0 && age <= maxAge {
			return last
		}
	}
	return a.evaluate()
}

// refreshGate keeps the evaluation the gauge reads fresh.
func (a *app) refreshGate(ctx context.Context) {
	t := time.NewTicker(gateRefresh)
	defer t.Stop()
	for {
		a.evaluate()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// gateOpen answers the gate of every environment for the gauge from the
// evaluation the background loop keeps, so a scrape never evaluates the
// policy over a large estate itself (only before the first evaluation).
func (a *app) gateOpen() map[string]bool {
	a.gate.mu.Lock()
	ev := a.gate.last
	a.gate.mu.Unlock()
	if ev == nil {
		ev = a.evaluate()
	}
	return policy.GateOpen(ev.cfg, ev.state)
}

// handleGate serves GET /api/v1/gate?env=E[&dataset=D][&release=R].
func (a *app) handleGate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := policy.GateRequest{Env: q.Get("env"), Dataset: q.Get("dataset"), Release: q.Get("release")}
	if req.Env == "" {
		server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "the env parameter is required"})
		return
	}
	ev := a.current(gateAPIMaxAge)
	ans, err := policy.Gate(ev.cfg, ev.state, req)
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
