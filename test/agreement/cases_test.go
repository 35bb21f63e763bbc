package agreement

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/live"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/probe"
)

// The regression tests below are the eight ways the exporter and the
// analyzer were seen to disagree before there was one evaluation, each
// replayed through both.

// pair drives one exporter's live state and, on demand, the analyzer over
// the history that state wrote.
type pair struct {
	t      *testing.T
	cfg    *config.Config
	root   string
	now    time.Time
	hist   *history.Writer
	store  *collectors.Store
	state  *live.State
	probes *probe.Manager
}

func newPair(t *testing.T, cfgText string) *pair {
	t.Helper()
	cfg, err := config.Parse("case.yml", []byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	p := &pair{t: t, cfg: cfg, root: scratchDir(t), now: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}
	p.start()
	t.Cleanup(func() { _ = p.hist.Close() })
	return p
}

func (p *pair) start() {
	p.t.Helper()
	var err error
	if p.hist, err = history.Open(p.root, history.Options{Now: func() time.Time { return p.now }}); err != nil {
		p.t.Fatal(err)
	}
	p.store = collectors.NewStore()
	p.store.Configure(p.cfg)
	p.state = live.New(p.store, p.hist, func() time.Time { return p.now })
	seeded, err := p.state.Seed(p.cfg)
	if err != nil {
		p.t.Fatal(err)
	}
	if p.probes, err = probe.NewManager(p.cfg, p.store, probe.Options{Now: func() time.Time { return p.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}); err != nil {
		p.t.Fatal(err)
	}
	p.probes.Seed(seeded)
}

// collect records a collection of source at the pair's clock.
func (p *pair) collect(source string, cat *model.Catalog) {
	p.t.Helper()
	if _, err := p.state.Record(collectors.Run{Source: source, Type: "manifest", Start: p.now, Catalog: cat}); err != nil {
		p.t.Fatal(err)
	}
}

// probeRun persists and records a finished probe run.
func (p *pair) probeRun(r model.ProbeResult) {
	p.t.Helper()
	if err := p.hist.AppendProbes(r); err != nil {
		p.t.Fatal(err)
	}
	p.probes.Seed([]model.ProbeResult{r})
}

// both evaluates at at through the exporter and the analyzer, fails when
// they differ, and returns the exporter's result.
func (p *pair) both(at time.Time) *policy.Result {
	p.t.Helper()
	exp := policy.Evaluate(p.cfg, p.state.Input(p.cfg, at, p.probes.States()))
	root, err := duck.ParseRoot(p.root)
	if err != nil {
		p.t.Fatal(err)
	}
	db, err := duck.Open(context.Background(), root, duck.Options{})
	if err != nil {
		p.t.Fatal(err)
	}
	defer db.Close()
	ana, _, err := db.Evaluate(context.Background(), p.cfg, at, at.Add(-p.cfg.Checks.Period.D()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		p.t.Fatal(err)
	}
	if ef, af := facts(exp.Findings), facts(ana.Findings); !slices.Equal(ef, af) {
		p.t.Fatalf("exporter and analyzer disagree at %s\nexporter only: %v\nanalyzer only: %v", at, minus(ef, af), minus(af, ef))
	}
	// The cases also name the same observation: the evidence each side
	// found, not only the same verdict.
	if eo, ao := observed(exp.Findings), observed(ana.Findings); !slices.Equal(eo, ao) {
		p.t.Fatalf("exporter and analyzer observe differently at %s\nexporter: %q\nanalyzer: %q", at, eo, ao)
	}
	for _, env := range p.cfg.EnvNames() {
		ea, _ := policy.Gate(p.cfg, exp, policy.GateRequest{Env: env})
		aa, _ := policy.Gate(p.cfg, ana, policy.GateRequest{Env: env})
		if ea.Allow != aa.Allow || !slices.Equal(reasons(ea), reasons(aa)) {
			p.t.Fatalf("gate of %s: exporter %v %v, analyzer %v %v", env, ea.Allow, reasons(ea), aa.Allow, reasons(aa))
		}
	}
	return exp
}

// observed lists the findings the analyzer evaluates too with what they
// observed, sorted.
func observed(fs []policy.Finding) []string {
	var out []string
	for _, f := range fs {
		if c, ok := policy.Lookup(f.Check); ok && c.History {
			continue
		}
		out = append(out, f.Check+" "+f.Env+" "+f.Subject.String()+": "+f.Observed)
	}
	slices.Sort(out)
	return out
}

func (p *pair) gate(res *policy.Result, env string) policy.GateAnswer {
	p.t.Helper()
	a, err := policy.Gate(p.cfg, res, policy.GateRequest{Env: env})
	if err != nil {
		p.t.Fatal(err)
	}
	return a
}

func has(res *policy.Result, check, subject string) bool {
	return slices.ContainsFunc(res.Findings, func(f policy.Finding) bool { return f.Check == check && f.Subject.String() == subject })
}

const caseConfig = `environments:
  prod: {rpo: 2h, rto: 30m, retention: {releases: 3}}
sources:
  - {name: pg, type: manifest, env: prod, manifest: {dir: m}}
  - {name: files, type: manifest, env: prod, manifest: {dir: m}}
probes:
  - {name: orders-restore, kind: command, source: pg, dataset: orders, options: {command: ["true"]}}
`

func good(source, dataset, id, release string, end time.Time) model.Backup {
	return model.Backup{Source: source, Env: "prod", Dataset: dataset, ID: id, Type: model.BackupFull, Release: release,
		Start: end.Add(-10 * time.Minute), End: end, Status: model.StatusSucceeded}
}

// Case 1: a pgBackRest dataset without release labels must not block a
// healthy prod on the release count (the policy skips unlabelled datasets,
// and so must every gate path, the alert rules included: they fire on
// findings, see alerts/policy_test.go).
func TestCase1UnlabelledDatasetDoesNotBlockProd(t *testing.T) {
	p := newPair(t, caseConfig)
	p.collect("pg", &model.Catalog{Backups: []model.Backup{good("pg", "orders", "20260601-000000F", "", p.now.Add(-30*time.Minute))}})
	res := p.both(p.now)
	if has(res, policy.CheckReleases, "pg/orders") {
		t.Errorf("unlabelled dataset judged by retention.releases: %+v", res.Findings)
	}
	if a := p.gate(res, "prod"); !a.Allow {
		t.Errorf("healthy prod with an unlabelled dataset denied: %+v", a.Reasons)
	}
}

// Case 3: a dataset whose backups vanished from the catalog is denied by
// the exporter as by the analyzer, and again after a restart.
func TestCase3VanishedDatasetDeniesEverywhere(t *testing.T) {
	p := newPair(t, caseConfig)
	orders := good("pg", "orders", "o1", "v1", p.now.Add(-30*time.Minute))
	billing := good("pg", "billing", "b1", "v1", p.now.Add(-20*time.Minute))
	p.collect("pg", &model.Catalog{Backups: []model.Backup{orders, billing}})
	p.now = p.now.Add(time.Hour)
	p.collect("pg", &model.Catalog{Backups: []model.Backup{orders}})
	for _, restart := range []bool{false, true} {
		if restart {
			if err := p.hist.Close(); err != nil {
				t.Fatal(err)
			}
			p.start()
		}
		res := p.both(p.now.Add(time.Minute))
		if !has(res, policy.CheckRPO, "pg/billing") {
			t.Errorf("restart %v: no rpo finding for the vanished dataset: %+v", restart, res.Findings)
		}
		if a := p.gate(res, "prod"); a.Allow {
			t.Errorf("restart %v: gate allows with a vanished dataset", restart)
		}
	}
}

// Case 4a: the newest run of a probe failed 40 days ago and the env sets
// no restore_test_every: the failure is still the newest run, and both
// deny. Case 4b: a success that restored data older than the RPO, then a
// failure: both report restore_test.rpo from the full record of the
// success, not from a timestamp.
func TestCase4ProbeFacts(t *testing.T) {
	p := newPair(t, caseConfig)
	p.collect("pg", &model.Catalog{Backups: []model.Backup{good("pg", "orders", "o1", "v1", p.now.Add(-30*time.Minute))}})
	p.probeRun(model.ProbeResult{RunID: "r1", Probe: "orders-restore", Kind: "command", Env: "prod", Dataset: "orders", Source: "pg",
		Start: p.now.Add(-41 * 24 * time.Hour), Duration: time.Minute, Success: true, RestoredPoint: p.now.Add(-41*24*time.Hour - 5*time.Hour)})
	p.probeRun(model.ProbeResult{RunID: "r2", Probe: "orders-restore", Kind: "command", Env: "prod", Dataset: "orders", Source: "pg",
		Start: p.now.Add(-40 * 24 * time.Hour), Duration: time.Minute, Error: "checksum mismatch"})
	res := p.both(p.now)
	if !has(res, policy.CheckRestoreFailed, "pg/orders/orders-restore") {
		t.Errorf("a 40-day-old failed newest run is not reported: %+v", res.Findings)
	}
	if !has(res, policy.CheckRestoreRPO, "pg/orders/orders-restore") {
		t.Errorf("the success that restored 5h-old data is not judged after the later failure: %+v", res.Findings)
	}
	if a := p.gate(res, "prod"); a.Allow {
		t.Error("gate allows while the newest restore test failed")
	}
}

// Case 5: a WAL archive that stopped advancing raises pitr.gap in the
// exporter too: it knows since when the newest segment has not changed.
func TestCase5StuckWALArchive(t *testing.T) {
	p := newPair(t, caseConfig)
	repo := func(max string) model.Repository {
		return model.Repository{Source: "pg", Env: "prod", Dataset: "orders", Name: "orders", ObservedAt: p.now,
			WALMin: "000000010000000000000001", WALMax: max, Healthy: true}
	}
	b := good("pg", "orders", "o1", "v1", p.now.Add(-10*time.Minute))
	b.SetDetails(model.BackupDetail{WALStart: "000000010000000000000002", WALStop: "000000010000000000000003"})
	for i, max := range []string{"000000010000000000000004", "000000010000000000000005", "000000010000000000000005", "000000010000000000000005"} {
		if i > 0 {
			p.now = p.now.Add(time.Hour)
		}
		b.End = p.now.Add(-10 * time.Minute)
		b.ID = "o" + string(rune('1'+i))
		p.collect("pg", &model.Catalog{Backups: []model.Backup{b}, Repositories: []model.Repository{repo(max)}})
	}
	// The archive has been stuck at ...05 for 2h, the RPO.
	if res := p.both(p.now); has(res, policy.CheckPITR, "pg/orders/orders") {
		t.Errorf("pitr.gap before the archive was stuck longer than the RPO: %+v", res.Findings)
	}
	res := p.both(p.now.Add(30 * time.Minute))
	if !has(res, policy.CheckPITR, "pg/orders/orders") {
		t.Errorf("no pitr.gap for an archive stuck 2h30m with an RPO of 2h: %+v", res.Findings)
	}
	if err := p.hist.Close(); err != nil {
		t.Fatal(err)
	}
	p.start()
	if res := p.both(p.now.Add(30 * time.Minute)); !has(res, policy.CheckPITR, "pg/orders/orders") {
		t.Errorf("pitr.gap forgotten after a restart: %+v", res.Findings)
	}
}

// Case 7: a dataset with retained backups and no probe at all is overdue
// for a restore test where the env sets an interval, in the exporter's
// findings (which the alert fires on) as in the analyzer's.
func TestCase7OverdueWithoutAnyProbe(t *testing.T) {
	p := newPair(t, `environments:
  prod: {rpo: 2h, restore_test_every: 7d, retention: {releases: 1}}
sources:
  - {name: pg, type: manifest, env: prod, manifest: {dir: m}}
`)
	p.collect("pg", &model.Catalog{Backups: []model.Backup{good("pg", "orders", "o1", "v1", p.now.Add(-30*time.Minute))}})
	if res := p.both(p.now); !has(res, policy.CheckRestoreOverdue, "orders") {
		t.Errorf("no restore_test.overdue for a dataset no probe ever restored: %+v", res.Findings)
	}
}

// Case 8: two good backups that ended in the same second are ranked the
// same way by the gate (latest good backup) on both sides, whatever order
// the catalog lists them in.
func TestCase8TieOnNewestGoodBackup(t *testing.T) {
	end := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).Add(-20 * time.Minute)
	for _, order := range [][]string{{"a", "b"}, {"b", "a"}} {
		p := newPair(t, caseConfig)
		var bs []model.Backup
		for _, id := range order {
			bs = append(bs, good("pg", "orders", id, "v1", end))
		}
		p.collect("pg", &model.Catalog{Backups: bs})
		res := p.both(p.now)
		if a := p.gate(res, "prod"); a.LatestGoodBackup == nil || a.LatestGoodBackup.ID != "b" {
			t.Errorf("catalog order %v: latest good backup %+v, want b (the larger id wins a tie)", order, a.LatestGoodBackup)
		}
	}
}
