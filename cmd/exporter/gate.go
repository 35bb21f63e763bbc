package main

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// evaluation is the one policy evaluation of the exporter's state at a
// moment. The gate API, the restorable_deploy_gate_open gauge and the
// restorable_policy_finding metrics all read the newest one, so they
// change together.
type evaluation struct {
	cfg    *config.Config
	key    stateKey
	result *policy.Result
	// overrides are the break-glass overrides not expired when the
	// evaluation was made; the gate answers and the gauge apply them.
	overrides []policy.Override
}

// stateKey identifies the state an evaluation judged: the configuration,
// the store's version, the probe results' version and the events'.
type stateKey struct {
	cfg    *config.Config
	store  uint64
	probes uint64
	// overrides is the version of the overrides in force.
	overrides uint64
	// locks is the version of the lock watcher's state.
	locks uint64
	// events is the version of the release events recorded.
	events uint64
}

// evaluations keeps the newest evaluation; mu serialises evaluating, so
// that a burst of collections evaluates once per state.
type evaluations struct {
	mu   sync.Mutex
	last *evaluation
}

const (
	// evaluateEvery renews the evaluation while nothing changes, so that
	// breaches that only need time (a backup turning older than the RPO)
	// show within it.
	evaluateEvery = 15 * time.Second
	// gateAPIMaxAge is the oldest evaluation the gate API answers from.
	gateAPIMaxAge = time.Second
)

func (a *app) stateKey() (stateKey, []policy.Override, *policy.LockState) {
	a.mu.Lock()
	cfg, m, w := a.cfg, a.probes, a.locks
	a.mu.Unlock()
	k := stateKey{cfg: cfg, store: a.store.View().Version, events: a.live.EventsVersion()}
	if m != nil {
		k.probes = m.Version()
	}
	var overrides []policy.Override
	k.overrides, overrides = a.overrides.snapshot(a.opts.Now())
	var locks *policy.LockState
	if w != nil {
		st, v := w.State()
		k.locks, locks = v, &st
	}
	return k, overrides, locks
}

// current returns the newest evaluation when it judged the current state
// and is at most maxAge old, else evaluates the state now. Every reader
// goes through it, and a new evaluation replaces the one every other
// reader sees.
func (a *app) current(maxAge time.Duration) *evaluation {
	a.evals.mu.Lock()
	defer a.evals.mu.Unlock()
	key, overrides, locks := a.stateKey()
	if last := a.evals.last; last != nil && last.key == key {
		if age := a.opts.Now().Sub(last.result.At); age >= 0 && age <= maxAge {
			return last
		}
	}
	in := a.live.Input(key.cfg, a.opts.Now(), a.probeStates())
	in.Locks = locks
	ev := &evaluation{cfg: key.cfg, key: key, result: policy.Evaluate(key.cfg, in), overrides: overrides}
	a.evals.last = ev
	return ev
}

// evaluateEvery keeps the evaluation fresh while the state does not change.
func (a *app) evaluateLoop(ctx context.Context) {
	t := time.NewTicker(evaluateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.current(evaluateEvery / 2)
		}
	}
}

// result is what the metrics read: the newest evaluation, renewed when the
// state changed since.
func (a *app) result() (*config.Config, *policy.Result, []policy.Override) {
	ev := a.current(evaluateEvery)
	return ev.cfg, ev.result, ev.overrides
}

// handleGate serves GET /api/v1/gate?env=E[&dataset=D][&release=R][&purpose=deploy|migration].
func (a *app) handleGate(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := policy.GateRequest{Env: q.Get("env"), Dataset: q.Get("dataset"), Release: q.Get("release"), Purpose: q.Get("purpose")}
	if req.Env == "" {
		server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": "the env parameter is required"})
		return
	}
	a.answerGate(w, req)
}

// answerGate answers req from the newest evaluation, overruled by the
// break-glass override in force, if any.
func (a *app) answerGate(w http.ResponseWriter, req policy.GateRequest) {
	ev := a.current(gateAPIMaxAge)
	ans, err := policy.Gate(ev.cfg, ev.result, req)
	if err != nil {
		server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	server.WriteJSON(w, http.StatusOK, policy.ApplyOverrides(ans, ev.overrides, ev.result.At))
}

// probeStates are the probe runs the policy sees: the newest run and the
// newest success of every probe, as full records.
func (a *app) probeStates() []policy.ProbeState {
	m := a.probeManager()
	if m == nil {
		return nil
	}
	return m.States()
}
