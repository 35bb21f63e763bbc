package policy

import (
	"iter"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Input is everything the policy needs to judge an estate at one instant.
// Two producers fill it: the exporter from its live state (the latest
// catalog of every source, its probe manager and the Memory it keeps of
// earlier collections, seeded from history after a restart) and the
// analyzer from the history at any moment. Both hand it to Evaluate, the
// one place that decides each check, so the exporter's gate, its finding
// metrics, `analyze gate` and `analyze findings` cannot disagree.
//
// Only what the configuration names counts: backups, repositories and
// attempts of sources that are not configured, runs of probes that are
// not configured, and restore tests that sources report (Collected runs)
// of sources that are not configured, are ignored, in both producers
// alike.
type Input struct {
	// At is the instant judged; ages are measured from it.
	At time.Time
	// Since starts the period that the release check looks at: releases
	// first seen before it are not judged again. Zero judges all.
	Since time.Time
	// Backups yields the backups the catalogs retain at At. Every series
	// (env, source, dataset) arrives whole within one slice: a series split
	// over two slices is judged twice, on half its backups each time. The
	// slices are not kept after Evaluate returns.
	Backups iter.Seq[[]model.Backup]
	// Repositories are the latest observations of each repository.
	Repositories []RepositoryState
	// Attempts are the failed or partial backup attempts within the
	// failures window, in their newest version, including those no
	// catalog retains any more. Nil derives them from the retained
	// backups.
	Attempts []model.Backup
	// Seen is when each series was last seen changing in a catalog (for
	// the history: when a row of it was last written). A series seen at or
	// after Since that retains no backup at At is judged as one without a
	// good backup: its backups vanished.
	Seen map[model.SeriesKey]time.Time
	// Sightings are the first sighting of every release of every series.
	// Nil derives them from the retained backups.
	Sightings []ReleaseSighting
	// Probes are, per probe, its newest run and its newest successful run
	// started at or before At: those of the configured probes and those
	// of the restore tests sources report (model.ProbeResult.Collected),
	// which the checks judge alike.
	Probes []ProbeState
	// Locks are the holders of the backup/migration locks the
	// configuration watches (locks:), as last read; nil when the producer
	// does not know them (the analyzer), which a migration gate request
	// treats as unknown.
	Locks *LockState
	// Events are the release events (deploy, rollback, pre_release_backup,
	// freeze_ack, migration) known at At, in any order: the exporter's
	// replayed journal and what it received since, or the history's events
	// table. Events known only after At (EventKnownAt) and of environments
	// that are not configured are ignored, and a repeated ID counts once.
	Events []model.Event
}

// RepositoryState is the latest observation of a repository and since when
// its newest WAL segment (WALMax) has not changed.
type RepositoryState struct {
	model.Repository
	// WALSince is the first observation with the current WALMax; zero when
	// the repository keeps no WAL or the producer does not know.
	WALSince time.Time
}

// ProbeState is what the policy needs of one probe: its newest run and its
// newest successful run, as full records (the restored point of a success
// matters after a later failure).
type ProbeState struct {
	Newest        *model.ProbeResult
	NewestSuccess *model.ProbeResult
}

// Backups yields each of the given slices; a helper for producers that
// hold catalogs per source (every series of a source is within its
// catalog) or a single slice.
func Backups(slices ...[]model.Backup) iter.Seq[[]model.Backup] {
	return func(yield func([]model.Backup) bool) {
		for _, s := range slices {
			if len(s) > 0 && !yield(s) {
				return
			}
		}
	}
}

// ProbeStates reduces probe runs to the newest run and newest success of
// each probe, ordered by probe name. Runs are compared by start time, then
// run id.
func ProbeStates(runs []model.ProbeResult) []ProbeState {
	idx := map[string]*ProbeState{}
	var names []string
	for i := range runs {
		r := &runs[i]
		st := idx[r.Probe]
		if st == nil {
			st = &ProbeState{}
			idx[r.Probe] = st
			names = append(names, r.Probe)
		}
		if NewerRun(r, st.Newest) {
			st.Newest = r
		}
		if r.Success && NewerRun(r, st.NewestSuccess) {
			st.NewestSuccess = r
		}
	}
	slices.Sort(names)
	out := make([]ProbeState, 0, len(names))
	for _, n := range names {
		out = append(out, *idx[n])
	}
	return out
}

// Runs flattens probe states into the runs they hold: each probe's newest
// run and, when it is another run, its newest success. ProbeStates of the
// result gives the states back.
func Runs(states []ProbeState) []model.ProbeResult {
	var out []model.ProbeResult
	for _, st := range states {
		if st.Newest != nil {
			out = append(out, *st.Newest)
		}
		if st.NewestSuccess != nil && (st.Newest == nil || st.NewestSuccess.RunID != st.Newest.RunID) {
			out = append(out, *st.NewestSuccess)
		}
	}
	return out
}

// NewerRun reports whether probe run a is newer than b (start time, then
// run id); any run is newer than nil.
func NewerRun(a, b *model.ProbeResult) bool {
	return b == nil || a.Start.After(b.Start) || a.Start.Equal(b.Start) && a.RunID > b.RunID
}

// Result is one evaluation: the open findings at At and the newest good
// backup of every series, from which the deploy gate answers.
type Result struct {
	At       time.Time
	Findings []Finding
	// LatestGood is the newest successful backup of every series that
	// retains one, ordered by env, source and dataset.
	LatestGood []model.Backup
	// Locks are the holders of the configured backup/migration locks;
	// nil when the configuration watches none.
	Locks *LockState
	// Tracks are the release tracks the events make at At (Tracks), from
	// which the release metrics derive.
	Tracks []Track
}

// probeConfigured reports whether a probe run counts: a run of a
// configured probe, or a restore test that a configured source reports.
func (e *evaluator) probeConfigured(r *model.ProbeResult, probes map[string]bool) bool {
	if r.Collected {
		return e.configured(r.Source)
	}
	return probes[r.Probe]
}

// Evaluate runs every check that judges the state at in.At and returns the
// findings, sorted by Sort. Checks that need the history of a period
// (History in the catalog) are the analyzer's and not run here.
func Evaluate(cfg *config.Config, in Input) *Result {
	e := newEvaluator(cfg, in.At)
	e.since = in.Since.UTC()
	e.setEvents(in.Events)
	if in.Sightings != nil {
		e.setReleaseSightings(in.Sightings)
	}
	if in.Attempts != nil {
		e.setAttempts(in.Attempts)
	}
	// Repositories first: the per-backup checks read their store's facts
	// to tell a protection that is off from one that is unknown.
	for i := range in.Repositories {
		if e.configured(in.Repositories[i].Source) {
			e.repos = append(e.repos, in.Repositories[i])
		}
	}
	if in.Backups != nil {
		for bs := range in.Backups {
			e.addBackups(bs)
		}
	}
	for k, t := range in.Seen {
		if e.configured(k.Source) && e.env(k.Env) != nil && !t.Before(e.since) {
			e.expected = append(e.expected, k)
		}
	}
	slices.SortFunc(e.expected, compareSeries)
	probes := map[string]bool{}
	for i := range cfg.Probes {
		probes[cfg.Probes[i].Name] = true
	}
	for _, p := range in.Probes {
		for _, r := range []*model.ProbeResult{p.Newest, p.NewestSuccess} {
			if r != nil && e.probeConfigured(r, probes) && !r.Start.After(e.at) {
				e.probes = append(e.probes, *r)
			}
		}
	}
	return &Result{At: e.at, Findings: e.findingsAll(), LatestGood: e.latestGood(), Locks: locksOf(cfg, in.Locks), Tracks: e.tracks}
}
