package probe

import (
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// A successful deploy event runs the probes whose on_deploy matches its
// environment and dataset, with the deploy trigger, and no other.
func TestDeployTriggersMatchingProbes(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, `environments:
  prod: {rpo: 1h}
  staging: {rpo: 1h}
probes:
  - {name: orders, kind: command, env: prod, dataset: orders, on_deploy: {}, options: {command: ["true"]}}
  - {name: any-prod, kind: command, env: prod, on_deploy: {}, options: {command: ["true"]}}
  - {name: staging-billing, kind: command, env: prod, on_deploy: {env: staging, dataset: billing}, options: {command: ["true"]}}
  - {name: scheduled-only, kind: command, env: prod, dataset: orders, options: {command: ["true"]}}
`)
	h := newHarness(t, cfg, catalogs{})
	h.start(t)
	deploy := func(env, dataset string, result model.EventResult) []string {
		t.Helper()
		ids := h.m.Deployed(model.Event{ID: env + dataset, Kind: model.EventDeploy, Env: env, Dataset: dataset, Result: result, Time: time.Now()})
		var probes []string
		for _, id := range ids {
			ri, ok := runOf(h.m, id)
			if !ok || ri.Trigger != TriggerDeploy {
				t.Errorf("run %s: %+v, want trigger deploy", id, ri)
			}
			probes = append(probes, ri.Probe)
			h.wait(t)
		}
		// Let the runs finish so that the next deploy may queue them
		// again.
		deadline := time.Now().Add(time.Minute)
		for _, id := range ids {
			for ri, _ := runOf(h.m, id); ri.State != StateFinished && time.Now().Before(deadline); ri, _ = runOf(h.m, id) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		slices.Sort(probes)
		return probes
	}
	for _, c := range []struct {
		env, dataset string
		result       model.EventResult
		want         []string
	}{
		{"prod", "orders", model.ResultSucceeded, []string{"any-prod", "orders"}},
		{"prod", "billing", model.ResultSucceeded, []string{"any-prod"}},
		{"staging", "billing", model.ResultSucceeded, []string{"staging-billing"}},
		{"staging", "orders", model.ResultSucceeded, nil},
		{"prod", "orders", model.ResultFailed, nil},
	} {
		if got := deploy(c.env, c.dataset, c.result); !slices.Equal(got, c.want) {
			t.Errorf("%s deploy of %s/%s ran %v, want %v", c.result, c.env, c.dataset, got, c.want)
		}
	}
	if ids := h.m.Deployed(model.Event{Kind: model.EventRollback, Env: "prod", Dataset: "orders", Result: model.ResultSucceeded}); len(ids) != 0 {
		t.Errorf("a rollback queued %v", ids)
	}
}
