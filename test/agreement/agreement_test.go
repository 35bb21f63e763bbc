// Package agreement replays simulated estates through the exporter's live
// state (collections and release events recorded into the history,
// remembered, served; the events journal replayed at a restart) and
// through the analyzer's reading of the history that pipeline wrote, and
// checks at many instants that both give the same findings and the same
// deploy-gate answers: the promise of internal/policy that a gate answer
// and an audit report cannot disagree.
package agreement

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
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

var (
	seeds    = flag.Int("agreement.seeds", 8, "number of simulated estates")
	seedBase = flag.Uint64("agreement.seed", 1, "first seed")
)

// TestExporterAndAnalyzerAgree is the agreement test: for every seed, the
// exporter's evaluation and the analyzer's evaluation of the history the
// exporter wrote name the same (check, severity, subject) set and answer
// the gate of every environment alike, at every instant looked at,
// including after a restart of the exporter in the middle of the story.
func TestExporterAndAnalyzerAgree(t *testing.T) {
	for i := range *seeds {
		seed := *seedBase + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			s := newSim(t, seed)
			s.run()
			// A simulation that never breaches anything would agree
			// trivially.
			if s.compared < 5 || s.findings == 0 || s.frozen == 0 {
				t.Fatalf("seed %d compared %d instants with %d findings, %d of them freezes", seed, s.compared, s.findings, s.frozen)
			}
			t.Logf("seed %d: %d instants compared, %d findings, %d of them freezes", seed, s.compared, s.findings, s.frozen)
		})
	}
}

const simConfig = `environments:
  prod:
    rpo: %s
    rto: %s
    retention: {releases: 3, min_age: 2d, max_age: 60d}
    require: {encryption: any, immutable: true}
    restore_test_every: 5d
  staging: {rpo: 30h, retention: {releases: 2}, restore_test_every: 10d}
  dev: {rpo: 72h, retention: {releases: 1}}
checks:
  period: 10d
  failures: {window: 24h, max: 1}
sources:
  - {name: pg, type: manifest, env: prod, manifest: {dir: m}}
  - {name: files, type: manifest, env: staging, manifest: {dir: m}}
  - {name: ci, type: manifest, env: dev, manifest: {dir: m}}
  - {name: unlabelled, type: manifest, env: prod, manifest: {dir: m}}
probes:
  - {name: orders-restore, kind: command, source: pg, dataset: orders, options: {command: ["true"]}}
  - {name: files-restore, kind: command, source: files, dataset: uploads, options: {command: ["true"]}}
  - {name: billing-restore, kind: command, source: pg, dataset: billing, options: {command: ["true"]}}
`

// dataset is one simulated series and the backups its catalog retains.
type dataset struct {
	key      model.SeriesKey
	labelled bool
	wal      bool
	release  int
	retained []model.Backup
	n        int
	// gone is true while the dataset's backups have vanished.
	gone bool
	// walMax is the newest WAL segment number of its repository.
	walMax  int
	walStop bool
}

type sim struct {
	t    *testing.T
	seed uint64
	rng  *rand.Rand
	root string
	now  time.Time
	cfg  *config.Config
	// exporter side
	hist     *history.Writer
	store    *collectors.Store
	state    *live.State
	probes   *probe.Manager
	runs     int
	sets     []*dataset
	compared int
	findings int
	// evRng draws the release events, apart from rng so that the estates
	// of the seeds stay what they were before events; journal holds every
	// event handed over, which a restart replays as the events journal
	// does.
	evRng   *rand.Rand
	journal []model.Event
	events  int
	// frozen counts release.freeze findings compared.
	frozen int
}

func simCfg(t *testing.T, rpo, rto string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("sim.yml", []byte(fmt.Sprintf(simConfig, rpo, rto)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newSim(t *testing.T, seed uint64) *sim {
	s := &sim{t: t, seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), evRng: rand.New(rand.NewPCG(seed, 0xe7e7)), root: scratchDir(t),
		now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	s.cfg = simCfg(t, "6h", "30m")
	for _, k := range []struct {
		env, source, dataset string
		labelled, wal        bool
	}{
		{"prod", "pg", "orders", true, true},
		{"prod", "pg", "billing", true, false},
		{"staging", "files", "uploads", true, false},
		{"staging", "files", "media", false, false},
		{"dev", "ci", "bundle", true, false},
		{"prod", "unlabelled", "ledger", false, true},
	} {
		s.sets = append(s.sets, &dataset{key: model.SeriesKey{Env: k.env, Source: k.source, Dataset: k.dataset}, labelled: k.labelled, wal: k.wal, release: 1, walMax: 16})
	}
	s.start()
	return s
}

// scratchDir is a directory for one estate's history: in memory where the
// machine has /dev/shm, because the history fsyncs every append and the
// test appends thousands of times.
func scratchDir(t *testing.T) string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "restorable-agreement-")
		if err == nil {
			t.Cleanup(func() { _ = os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

func (s *sim) fail(format string, args ...any) {
	s.t.Helper()
	s.t.Fatalf("seed %d at %s: %s", s.seed, s.now.Format(time.RFC3339), fmt.Sprintf(format, args...))
}

// start opens the history and builds the exporter's live state, reading
// the last state back from the history as a restarted exporter does.
func (s *sim) start() {
	var err error
	s.hist, err = history.Open(s.root, history.Options{Now: func() time.Time { return s.now }})
	if err != nil {
		s.fail("open history: %v", err)
	}
	s.store = collectors.NewStore()
	s.store.Configure(s.cfg)
	s.state = live.New(s.store, s.hist, func() time.Time { return s.now })
	seeded, err := s.state.Seed(s.cfg)
	if err != nil {
		s.fail("seed from history: %v", err)
	}
	s.newManager(seeded)
	// The events journal is replayed at every start.
	if _, err := s.state.RecordEvents(s.journal); err != nil {
		s.fail("replay events: %v", err)
	}
}

// releaseEvents hands over the release events of a step: deploys,
// rollbacks (some restoring a backup), migrations, pre-release backups
// and acknowledgements (some without a reason), for a labelled and an
// unlabelled dataset and one of an environment that is not configured.
func (s *sim) releaseEvents() {
	r := s.evRng
	var evs []model.Event
	for _, k := range []struct{ env, dataset string }{{"prod", "orders"}, {"staging", "media"}, {"qa", "orders"}} {
		for _, kind := range model.EventKinds {
			p := map[model.EventKind]float64{model.EventDeploy: 0.35, model.EventRollback: 0.3, model.EventMigration: 0.15,
				model.EventPreReleaseBackup: 0.25, model.EventFreezeAck: 0.12}[kind]
			if r.Float64() >= p {
				continue
			}
			s.events++
			e := model.Event{ID: fmt.Sprintf("ev-%05d", s.events), Sender: "generic", Kind: kind, Env: k.env, Dataset: k.dataset,
				Release: fmt.Sprintf("v%d", 1+r.IntN(6)), Result: model.ResultSucceeded,
				Time: s.now.Add(-time.Duration(r.IntN(240)) * time.Minute), Received: s.now}
			if r.Float64() < 0.15 {
				e.Result = model.ResultFailed
			}
			switch kind {
			case model.EventRollback:
				e.Migration = r.Float64() < 0.2
				if r.Float64() < 0.4 {
					e.BackupSource, e.BackupID = "pg", "orders-0001"
				}
			case model.EventDeploy:
				e.Migration = r.Float64() < 0.2
			case model.EventPreReleaseBackup:
				e.BackupSource, e.BackupID = "pg", fmt.Sprintf("pre-%d", s.events)
			case model.EventFreezeAck:
				e.Actor = "alice"
				if r.Float64() < 0.7 {
					e.Reason = "reviewed"
				}
			}
			evs = append(evs, e)
		}
	}
	// A re-delivery now and then.
	if len(s.journal) > 0 && r.Float64() < 0.2 {
		evs = append(evs, s.journal[r.IntN(len(s.journal))])
	}
	if _, err := s.state.RecordEvents(evs); err != nil {
		s.fail("record events: %v", err)
	}
	s.journal = append(s.journal, evs...)
}

func (s *sim) newManager(seed []model.ProbeResult) {
	m, err := probe.NewManager(s.cfg, s.store, probe.Options{Now: func() time.Time { return s.now }, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		s.fail("probe manager: %v", err)
	}
	m.Seed(seed)
	s.probes = m
}

// restart closes the history and starts again from it.
func (s *sim) restart() {
	if err := s.hist.Close(); err != nil {
		s.fail("close history: %v", err)
	}
	s.start()
}

// reconfigure changes the RPO and RTO of prod, as a reload does.
func (s *sim) reconfigure(rpo, rto string) {
	results := []model.ProbeResult{}
	for _, st := range s.probes.States() {
		results = append(results, *st.Newest)
		if st.NewestSuccess != nil {
			results = append(results, *st.NewestSuccess)
		}
	}
	s.cfg = simCfg(s.t, rpo, rto)
	s.store.Configure(s.cfg)
	s.newManager(results)
}

func (s *sim) chance(p float64) bool { return s.rng.Float64() < p }

// step advances the estate by a few hours: new backups (some failing),
// retention, releases, vanishing datasets, WAL that stalls, protection
// that changes, probe runs; then every source is collected.
func (s *sim) step() {
	s.now = s.now.Add(time.Duration(3+s.rng.IntN(6)) * time.Hour).Add(time.Duration(s.rng.IntN(3600)) * time.Second)
	for _, d := range s.sets {
		if d.gone {
			if s.chance(0.15) {
				d.gone = false
			}
			continue
		}
		if s.chance(0.02) {
			d.gone, d.retained = true, nil
			continue
		}
		if d.labelled && s.chance(0.12) {
			d.release++
		}
		if s.chance(0.8) {
			d.n++
			end := s.now.Add(-time.Duration(s.rng.IntN(90)) * time.Minute)
			b := model.Backup{
				Source: d.key.Source, Env: d.key.Env, Dataset: d.key.Dataset, ID: fmt.Sprintf("%s-%04d", d.key.Dataset, d.n),
				Type: model.BackupFull, Start: end.Add(-20 * time.Minute), End: end, Status: model.StatusSucceeded,
				StoredBytes: 1 << 20, Encrypted: !s.chance(0.05), Immutable: !s.chance(0.05),
				Detail: &model.BackupDetail{Agent: "restic", AgentVersion: "0.17.3"},
			}
			if d.labelled {
				b.Release = fmt.Sprintf("v%d", d.release)
			}
			switch r := s.rng.Float64(); {
			case r < 0.12:
				b.Status, b.Error = model.StatusFailed, "repository locked"
			case r < 0.16:
				b.Status = model.StatusPartial
			case r < 0.19:
				b.Status, b.End = model.StatusRunning, time.Time{}
			}
			if d.wal && b.Status == model.StatusSucceeded {
				b.Detail.WALStart, b.Detail.WALStop = walName(d.walMax), walName(d.walMax+1)
			}
			// A running backup of the last collection finished since.
			for i := range d.retained {
				if d.retained[i].Status == model.StatusRunning {
					d.retained[i].Status, d.retained[i].End = model.StatusSucceeded, d.retained[i].Start.Add(30*time.Minute)
				}
			}
			d.retained = append(d.retained, b)
		}
		if s.chance(0.1) && len(d.retained) > 0 {
			i := s.rng.IntN(len(d.retained))
			d.retained[i].Immutable = !d.retained[i].Immutable
		}
		// Retention keeps 6 to 10 backups.
		if keep := 6 + s.rng.IntN(5); len(d.retained) > keep {
			d.retained = slices.Clone(d.retained[len(d.retained)-keep:])
		}
		if d.wal {
			if s.chance(0.1) {
				d.walStop = !d.walStop
			}
			if !d.walStop {
				d.walMax += 1 + s.rng.IntN(3)
			}
		}
	}
	for _, src := range []string{"pg", "files", "ci", "unlabelled"} {
		s.collect(src)
	}
	if s.chance(0.35) {
		s.probeRun()
	}
	s.releaseEvents()
}

func walName(n int) string { return fmt.Sprintf("%08X%08X%08X", 1, 0, n) }

// collect records one collection of a source through the live state, as
// the exporter's scheduler hands it over.
func (s *sim) collect(src string) {
	cat := &model.Catalog{}
	for _, d := range s.sets {
		if d.key.Source != src {
			continue
		}
		cat.Backups = append(cat.Backups, d.retained...)
		if d.wal {
			cat.Repositories = append(cat.Repositories, model.Repository{
				Source: src, Env: d.key.Env, Dataset: d.key.Dataset, Name: d.key.Dataset, ObservedAt: s.now,
				WALMin: walName(1), WALMax: walName(d.walMax), Healthy: true,
			})
		}
	}
	if _, err := s.state.Record(collectors.Run{Source: src, Type: "manifest", Start: s.now, Catalog: cat}); err != nil {
		s.fail("record %s: %v", src, err)
	}
}

// probeRun finishes a run of a random probe: persisted, then recorded by
// the probe manager, as the exporter does.
func (s *sim) probeRun() {
	names := []string{"orders-restore", "files-restore", "billing-restore"}
	name := names[s.rng.IntN(len(names))]
	var p *config.Probe
	for i := range s.cfg.Probes {
		if s.cfg.Probes[i].Name == name {
			p = s.cfg.Probes[i]
		}
	}
	s.runs++
	src := s.cfg.Source(p.Source)
	r := model.ProbeResult{
		RunID: fmt.Sprintf("run-%04d", s.runs), Probe: name, Kind: "command", Env: src.Env, Dataset: p.Dataset, Source: p.Source,
		Start: s.now.Add(-time.Duration(s.rng.IntN(60)) * time.Minute), Duration: time.Duration(5+s.rng.IntN(40)) * time.Minute,
		Success: !s.chance(0.3),
	}
	if r.Success {
		r.RestoredPoint = r.Start.Add(-time.Duration(s.rng.IntN(10)) * time.Hour)
	} else {
		r.Error = "verification failed"
	}
	if err := s.hist.AppendProbes(r); err != nil {
		s.fail("append probe result: %v", err)
	}
	s.probes.Seed([]model.ProbeResult{r})
}

func (s *sim) run() {
	days := 24
	for step := 0; s.now.Before(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days)); step++ {
		s.step()
		switch {
		case step == 40:
			// A restart changes no answer: the same instant judged before
			// and after it.
			at := s.now.Add(time.Minute)
			before := facts(policy.Evaluate(s.cfg, s.state.Input(s.cfg, at, s.probes.States())).Findings)
			s.restart()
			after := facts(policy.Evaluate(s.cfg, s.state.Input(s.cfg, at, s.probes.States())).Findings)
			if !slices.Equal(before, after) {
				s.fail("a restart changed the exporter's findings\nbefore only: %v\nafter only: %v", minus(before, after), minus(after, before))
			}
		case step == 60:
			s.reconfigure("4h", "10m")
		}
		if step%6 == 5 {
			s.compare(s.now.Add(time.Duration(s.rng.IntN(180)) * time.Minute))
		}
		if step == 40 {
			// Right after a restart, before any new collection.
			s.compare(s.now.Add(time.Minute))
		}
	}
	// Days without collections: time alone must move both alike.
	s.compare(s.now.Add(36 * time.Hour))
	if err := s.hist.Close(); err != nil {
		s.fail("close history: %v", err)
	}
}

// fact is a finding as both sides must name it.
type fact struct {
	check, severity, env, subject string
}

func facts(fs []policy.Finding) []fact {
	var out []fact
	for _, f := range fs {
		if c, ok := policy.Lookup(f.Check); ok && c.History {
			continue
		}
		out = append(out, fact{f.Check, f.Severity.String(), f.Env, f.Subject.String()})
	}
	slices.SortFunc(out, func(a, b fact) int {
		return cmp.Or(strings.Compare(a.check, b.check), strings.Compare(a.env, b.env), strings.Compare(a.subject, b.subject), strings.Compare(a.severity, b.severity))
	})
	return out
}

// compare evaluates the state at at on both sides and fails on any
// difference in findings or gate answers.
func (s *sim) compare(at time.Time) {
	s.t.Helper()
	exp := policy.Evaluate(s.cfg, s.state.Input(s.cfg, at, s.probes.States()))

	ctx := context.Background()
	root, err := duck.ParseRoot(s.root)
	if err != nil {
		s.fail("history root: %v", err)
	}
	db, err := duck.Open(ctx, root, duck.Options{})
	if err != nil {
		s.fail("open history with duckdb: %v", err)
	}
	defer db.Close()
	ana, _, err := db.Evaluate(ctx, s.cfg, at, at.Add(-s.cfg.Checks.Period.D()), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		s.fail("analyzer evaluation: %v", err)
	}
	ef, af := facts(exp.Findings), facts(ana.Findings)
	if !slices.Equal(ef, af) {
		s.fail("findings at %s differ\nexporter only: %v\nanalyzer only: %v", at.Format(time.RFC3339), minus(ef, af), minus(af, ef))
	}
	for _, env := range s.cfg.EnvNames() {
		for _, ds := range []string{"", "orders", "uploads"} {
			req := policy.GateRequest{Env: env, Dataset: ds}
			ea, err1 := policy.Gate(s.cfg, exp, req)
			aa, err2 := policy.Gate(s.cfg, ana, req)
			if err1 != nil || err2 != nil {
				s.fail("gate %s: %v / %v", env, err1, err2)
			}
			if ea.Allow != aa.Allow || !slices.Equal(reasons(ea), reasons(aa)) {
				s.fail("gate %+v differs: exporter %v %v, analyzer %v %v", req, ea.Allow, reasons(ea), aa.Allow, reasons(aa))
			}
			eb, ab := ea.LatestGoodBackup, aa.LatestGoodBackup
			if (eb == nil) != (ab == nil) || eb != nil && (eb.ID != ab.ID || eb.Source != ab.Source) {
				s.fail("gate %+v names different latest good backups: %+v / %+v", req, eb, ab)
			}
		}
	}
	s.compared++
	s.findings += len(ef)
	for _, f := range ef {
		if f.check == policy.CheckFreeze {
			s.frozen++
		}
	}
}

func reasons(a policy.GateAnswer) []string {
	var out []string
	for _, r := range a.Reasons {
		out = append(out, r.Check+" "+r.Subject)
	}
	slices.Sort(out)
	return out
}

func minus(a, b []fact) []fact {
	var out []fact
	for _, f := range a {
		if !slices.Contains(b, f) {
			out = append(out, f)
		}
	}
	return out
}
