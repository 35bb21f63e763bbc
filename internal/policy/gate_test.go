package policy

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

func gateConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("gate.yml", []byte(`
environments:
  prod: {rpo: 1h, retention: {releases: 1}}
  dev: {rpo: 72h, retention: {releases: 1}}
sources:
  - {name: s, type: manifest, env: prod, manifest: {dir: m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestGate(t *testing.T) {
	cfg := gateConfig(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	good := func(env, dataset, id string, age time.Duration) model.Backup {
		return model.Backup{Source: "s", Env: env, Dataset: dataset, ID: id, Type: model.BackupFull, Status: model.StatusSucceeded,
			Detail:  &model.BackupDetail{Checksum: "sha256:" + id},
			Release: "v1", Start: at.Add(-age - time.Minute), End: at.Add(-age)}
	}
	for _, tc := range []struct {
		name      string
		backups   []model.Backup
		req       GateRequest
		allow     bool
		checks    []string
		latestID  string
		wantError bool
	}{
		{name: "fresh backups allow", backups: []model.Backup{good("prod", "db", "b1", 10*time.Minute)},
			req: GateRequest{Env: "prod", Release: "v2"}, allow: true, latestID: "b1"},
		{name: "rpo breach denies", backups: []model.Backup{good("prod", "db", "b1", 3*time.Hour)},
			req: GateRequest{Env: "prod"}, checks: []string{CheckRPO}, latestID: "b1"},
		{name: "breach of another dataset does not deny a dataset's gate", backups: []model.Backup{good("prod", "db", "b1", 10*time.Minute), good("prod", "cache", "c1", 5*time.Hour)},
			req: GateRequest{Env: "prod", Dataset: "db"}, allow: true, latestID: "b1"},
		{name: "breach of another env does not deny", backups: []model.Backup{good("prod", "db", "b1", 10*time.Minute), good("dev", "db", "d1", 100*time.Hour)},
			req: GateRequest{Env: "prod"}, allow: true, latestID: "b1"},
		{name: "last backup failed denies", backups: []model.Backup{good("prod", "db", "b1", 30*time.Minute),
			{Source: "s", Env: "prod", Dataset: "db", ID: "b2", Type: model.BackupIncr, Status: model.StatusFailed, Start: at.Add(-10 * time.Minute), End: at.Add(-9 * time.Minute)}},
			req: GateRequest{Env: "prod"}, checks: []string{CheckLastFailed}, latestID: "b1"},
		{name: "a failure made good by a later backup does not deny", backups: []model.Backup{
			{Source: "s", Env: "prod", Dataset: "db", ID: "b0", Type: model.BackupIncr, Status: model.StatusFailed, Start: at.Add(-40 * time.Minute), End: at.Add(-39 * time.Minute)},
			good("prod", "db", "b1", 20*time.Minute)},
			req: GateRequest{Env: "prod"}, allow: true, latestID: "b1"},
		{name: "no backup at all denies", req: GateRequest{Env: "prod"}, checks: []string{CheckRPO}},
		{name: "unknown env is an error", req: GateRequest{Env: "qa"}, wantError: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Gate(cfg, Evaluate(cfg, Input{At: at, Backups: Backups(tc.backups)}), tc.req)
			if tc.wantError {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.Allow != tc.allow {
				t.Errorf("allow = %v, want %v; reasons %+v", a.Allow, tc.allow, a.Reasons)
			}
			var checks []string
			for _, r := range a.Reasons {
				checks = append(checks, r.Check)
			}
			if len(checks) != len(tc.checks) || (len(checks) > 0 && checks[0] != tc.checks[0]) {
				t.Errorf("reasons = %v, want %v", checks, tc.checks)
			}
			if tc.latestID == "" && a.LatestGoodBackup != nil || tc.latestID != "" && (a.LatestGoodBackup == nil || a.LatestGoodBackup.ID != tc.latestID || a.LatestGoodBackup.Checksum != "sha256:"+tc.latestID) {
				t.Errorf("latest good backup = %+v, want %q", a.LatestGoodBackup, tc.latestID)
			}
			if !a.EvaluatedAt.Equal(at) || a.Release != tc.req.Release {
				t.Errorf("answer does not echo the request and moment: %+v", a)
			}
		})
	}
}

func TestGateOpen(t *testing.T) {
	cfg := gateConfig(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	in := Input{At: at, Backups: Backups([]model.Backup{{Source: "s", Env: "prod", Dataset: "db", ID: "b1", Type: model.BackupFull,
		Status: model.StatusSucceeded, Release: "v1", Start: at.Add(-20 * time.Minute), End: at.Add(-10 * time.Minute)}})}
	open := GateOpen(cfg, Evaluate(cfg, in))
	if !open["prod"] || open["dev"] {
		t.Errorf("gate open = %v, want prod open and dev (no backups) closed", open)
	}
}

// Runs and ProbeStates are each other's inverse: a probe manager seeded
// with the runs of states holds those states again.
func TestRunsRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ok := model.ProbeResult{RunID: "a", Probe: "p", Start: at.Add(-2 * time.Hour), Success: true}
	failed := model.ProbeResult{RunID: "b", Probe: "p", Start: at.Add(-time.Hour)}
	only := model.ProbeResult{RunID: "c", Probe: "q", Start: at, Success: true}
	states := ProbeStates([]model.ProbeResult{failed, ok, only})
	runs := Runs(states)
	if len(runs) != 3 {
		t.Fatalf("runs = %+v, want the failed newest, the older success and q's one run", runs)
	}
	back := ProbeStates(runs)
	if len(back) != 2 || back[0].Newest.RunID != "b" || back[0].NewestSuccess.RunID != "a" || back[1].Newest.RunID != "c" || back[1].NewestSuccess.RunID != "c" {
		t.Errorf("round trip = %+v", back)
	}
}

// Only what the configuration names counts: backups, attempts and
// sightings of a source that is not configured, and runs of a probe that
// is not, are judged by neither producer.
func TestUnconfiguredSourcesAndProbesAreNotJudged(t *testing.T) {
	cfg := gateConfig(t)
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	stale := model.Backup{Source: "gone", Env: "prod", Dataset: "db", ID: "x", Type: model.BackupFull, Status: model.StatusFailed,
		Start: at.Add(-50 * time.Hour), End: at.Add(-49 * time.Hour)}
	failed := model.ProbeResult{RunID: "r", Probe: "removed", Env: "prod", Dataset: "db", Start: at.Add(-time.Hour)}
	res := Evaluate(cfg, Input{At: at, Backups: Backups([]model.Backup{stale}), Attempts: []model.Backup{stale},
		Seen:   map[model.SeriesKey]time.Time{stale.Series(): at.Add(-time.Hour)},
		Probes: ProbeStates([]model.ProbeResult{failed})})
	if len(res.Findings) != 0 || len(res.LatestGood) != 0 {
		t.Errorf("unconfigured source and probe judged: %+v", res.Findings)
	}
}
