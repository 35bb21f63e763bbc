package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/policy"
)

// gateGauge reads restorable_deploy_gate_open of every env from a gather.
func gateGauge(t *testing.T, g prometheus.Gatherer) map[string]bool {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "restorable_deploy_gate_open" {
			continue
		}
		for _, m := range mf.Metric {
			out[m.Label[0].GetValue()] = m.GetGauge().GetValue() == 1
		}
	}
	return out
}

// Case 6 of the one-evaluation issue: right after the start the gate gauge
// read 0 for seconds while the API allowed, because the gauge waited for a
// refresh tick. Now both read the newest evaluation, renewed as soon as a
// collection changes the state: at every moment from the start on, the
// gauge and the API give the same answer.
func TestGateGaugeAndAPIAgreeFromTheStart(t *testing.T) {
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	start := time.Now().UTC().Add(-20 * time.Minute).Format(time.RFC3339)
	manifest := `{"dataset":"orders","id":"b1","type":"full","release":"v1","start":"` + start + `","end":"` + end + `","status":"succeeded"}` + "\n"
	if err := os.WriteFile(filepath.Join(manifests, "b.ndjson"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h, retention: {releases: 1}}
  dev: {rpo: 24h}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
history:
  disabled: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var last policy.GateAnswer
	sawOpen := false
	deadline := time.Now().Add(5 * time.Second)
	answer := func(env string) policy.GateAnswer {
		rec := httptest.NewRecorder()
		a.handleGate(rec, httptest.NewRequest("GET", "/api/v1/gate?env="+env, nil))
		var ans policy.GateAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatalf("gate answer: %v: %s", err, rec.Body.String())
		}
		return ans
	}
	for time.Now().Before(deadline) {
		// The first collection may finish between two reads: the gauge is
		// compared with the API answers read just before and just after
		// it, and must agree whenever those two agree with each other.
		before := map[string]policy.GateAnswer{"prod": answer("prod"), "dev": answer("dev")}
		gauge := gateGauge(t, a.Gatherer())
		for _, env := range []string{"prod", "dev"} {
			ans := answer(env)
			if ans.Allow == before[env].Allow && gauge[env] != ans.Allow {
				t.Fatalf("%s: gauge open=%v while the API says allow=%v before and after it (%+v)", env, gauge[env], ans.Allow, ans.Reasons)
			}
			if env == "prod" {
				last = ans
			}
			if env == "prod" && ans.Allow {
				sawOpen = true
			}
		}
		if sawOpen && a.store.Ready() {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if !sawOpen {
		t.Fatalf("the gate of prod never opened after the first collection: %+v", last)
	}
}

// docs/gate.md promises that the evaluation is renewed at least every 15 s
// while nothing changes, so that a backup turning older than the RPO
// closes the gate without a new collection, and that the API answers from
// an evaluation at most 1 s old. A clock moved by hand shows both.
func TestEvaluationFollowsTimeWithoutAStateChange(t *testing.T) {
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().UTC().Truncate(time.Second)
	var mu sync.Mutex
	now := t0
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	end := t0.Add(-59 * time.Minute)
	manifest := `{"dataset":"orders","id":"b1","type":"full","release":"v1","start":"` + end.Add(-time.Minute).Format(time.RFC3339) + `","end":"` + end.Format(time.RFC3339) + `","status":"succeeded"}` + "\n"
	if err := os.WriteFile(filepath.Join(manifests, "b.ndjson"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h, retention: {releases: 1}}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
history:
  disabled: true
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, appOptions{ConfigFile: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: clock, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	api := func() policy.GateAnswer {
		rec := httptest.NewRecorder()
		a.handleGate(rec, httptest.NewRequest("GET", "/api/v1/gate?env=prod", nil))
		var ans policy.GateAnswer
		if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
			t.Fatal(err)
		}
		return ans
	}
	deadline := time.Now().Add(30 * time.Second)
	for !gateGauge(t, a.Gatherer())["prod"] {
		if time.Now().After(deadline) {
			t.Fatalf("prod never opened: %+v", api())
		}
		time.Sleep(5 * time.Millisecond)
	}
	first := api().EvaluatedAt
	advance(2 * time.Second)
	if got := api().EvaluatedAt; !got.After(first) {
		t.Errorf("the API answered from an evaluation of %s, 2 s old", got)
	}
	// The backup turns 1h1m old; no collection runs (interval 1h).
	advance(2 * time.Minute)
	if gateGauge(t, a.Gatherer())["prod"] {
		t.Error("the gauge still reads open 2 minutes after the backup turned older than the RPO")
	}
	if ans := api(); ans.Allow {
		t.Errorf("the API allows 2 minutes after the backup turned older than the RPO: %+v", ans)
	}
}
