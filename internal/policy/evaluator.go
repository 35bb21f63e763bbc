package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Input is a whole state to evaluate at once: what the exporter holds in
// memory.
type Input struct {
	// At is the moment the state describes; ages are measured from it.
	At time.Time
	// Backups are the backups the catalogs retain at At.
	Backups []model.Backup
	// Repositories are the latest observations of each repository.
	Repositories []model.Repository
	// Probes are restore-probe runs: at least the latest run of each probe
	// and the latest successful one.
	Probes []model.ProbeResult
}

// Evaluate runs every check that needs no history over a whole state.
func Evaluate(cfg *config.Config, in Input) []Finding {
	e := NewEvaluator(cfg, in.At)
	e.AddBackups(in.Backups)
	for i := range in.Repositories {
		e.AddRepository(in.Repositories[i], time.Time{})
	}
	e.AddProbes(in.Probes)
	return e.Findings()
}

// Evaluator runs the checks over a state that arrives in parts, so that a
// caller holding a large state (the analyzer reading the history) never
// needs all of it in memory: backups arrive series by series, and only a
// few facts per series are kept until Findings.
//
// An Evaluator is not safe for concurrent use.
type Evaluator struct {
	cfg *config.Config
	at  time.Time
	// since bounds the release check: only releases first seen after it are
	// judged. Zero judges all.
	since time.Time

	findings []Finding
	series   map[model.SeriesKey]*seriesFacts
	order    []model.SeriesKey
	expected []model.SeriesKey

	// attempts replaces the failures the retained backups show, when the
	// caller knows more (the history keeps failures the catalog dropped).
	attempts      map[model.SeriesKey][]model.Backup
	attemptsGiven bool

	sightings      map[model.SeriesKey][]ReleaseSighting
	sightingsGiven bool

	repos  []repoInput
	probes []model.ProbeResult
}

// seriesFacts are what the cross-series checks need of one series.
type seriesFacts struct {
	key      model.SeriesKey
	lastGood *model.Backup
	// lastFinished is the newest attempt that is not running.
	lastFinished *model.Backup
	retainedGood int
	// oldestWAL is the first WAL segment of the oldest good backup that
	// names one, newestWAL the last segment of the newest.
	oldestWAL, newestWAL         Evidence
	oldestWALName, newestWALName string
	failures                     []model.Backup
	sightings                    []ReleaseSighting
}

type repoInput struct {
	repo model.Repository
	// walSince is when the WAL archive's newest segment last changed; zero
	// when the caller does not know.
	walSince time.Time
}

// NewEvaluator returns an evaluator of cfg's policy at the moment at.
func NewEvaluator(cfg *config.Config, at time.Time) *Evaluator {
	return &Evaluator{
		cfg:       cfg,
		at:        at.UTC(),
		series:    map[model.SeriesKey]*seriesFacts{},
		attempts:  map[model.SeriesKey][]model.Backup{},
		sightings: map[model.SeriesKey][]ReleaseSighting{},
	}
}

// SetSince limits the release check to releases first seen at or after
// since.
func (e *Evaluator) SetSince(since time.Time) { e.since = since.UTC() }

// AddBackups evaluates retained backups. Each series (env, source,
// dataset) must arrive whole in one call: a series split over two calls is
// judged twice, on half its backups each time.
func (e *Evaluator) AddBackups(backups []model.Backup) {
	members := map[model.SeriesKey][]*model.Backup{}
	for i := range backups {
		k := backups[i].Series()
		members[k] = append(members[k], &backups[i])
	}
	for _, s := range model.Summarize(backups) {
		e.addSeries(s, members[s.Key])
	}
}

// ExpectSeries names series that exist even when no backup of theirs is
// retained at the moment evaluated; those without one get an rpo finding.
func (e *Evaluator) ExpectSeries(keys ...model.SeriesKey) {
	e.expected = append(e.expected, keys...)
}

// SetAttempts gives the failures check every backup attempted within its
// window, including those no catalog retains any more. Without it the
// check reads the retained backups. Attempts outside the window are
// ignored.
func (e *Evaluator) SetAttempts(attempts []model.Backup) {
	e.attemptsGiven = true
	window := e.cfg.Checks.Failures.Window.D()
	for _, b := range attempts {
		if failedWithin(&b, e.at, window) {
			e.attempts[b.Series()] = append(e.attempts[b.Series()], b)
		}
	}
}

// SetReleaseSightings gives the release check the first sighting of every
// release of every series, as the history knows them. Without it the check
// derives them from the retained backups.
func (e *Evaluator) SetReleaseSightings(s []ReleaseSighting) {
	e.sightingsGiven = true
	for _, r := range s {
		e.sightings[r.Series] = append(e.sightings[r.Series], r)
	}
}

// AddRepository adds the latest observation of a repository. walSince is
// when its newest WAL segment (WALMax) last changed, zero when unknown.
func (e *Evaluator) AddRepository(r model.Repository, walSince time.Time) {
	e.repos = append(e.repos, repoInput{repo: r, walSince: walSince.UTC()})
}

// AddProbes adds restore-probe runs. Runs that started after the moment
// evaluated are ignored.
func (e *Evaluator) AddProbes(runs []model.ProbeResult) {
	for _, r := range runs {
		if !r.Start.After(e.at) {
			e.probes = append(e.probes, r)
		}
	}
}

// Findings runs the checks that span series and returns every finding,
// sorted by Sort.
func (e *Evaluator) Findings() []Finding {
	out := slices.Clone(e.findings)
	for _, k := range e.expected {
		if _, ok := e.series[k]; !ok {
			out = append(out, e.noBackupRetained(k))
		}
	}
	for _, k := range e.order {
		f := e.series[k]
		failures := f.failures
		if e.attemptsGiven {
			failures = e.attempts[k]
		}
		out = append(out, e.checkFailures(k, failures)...)
	}
	if e.attemptsGiven {
		for k, failures := range e.attempts {
			if _, seen := e.series[k]; !seen {
				out = append(out, e.checkFailures(k, failures)...)
			}
		}
	}
	out = append(out, e.checkReleases()...)
	out = append(out, e.checkPITR()...)
	out = append(out, e.checkProbes()...)
	out = append(out, e.checkAgentDrift()...)
	Sort(out)
	return out
}

// LastFailed returns, for every dataset whose newest finished backup
// attempt did not succeed, that attempt: what the deploy gate holds a
// release for.
func (e *Evaluator) LastFailed() []model.Backup {
	var out []model.Backup
	for _, k := range e.order {
		if b := e.series[k].lastFinished; b != nil && !b.Good() {
			out = append(out, *b)
		}
	}
	return out
}

func (e *Evaluator) env(name string) *config.Environment { return e.cfg.Environments[name] }

// classification is the data class of a backup: its own, else its
// source's.
func (e *Evaluator) classification(b *model.Backup) string {
	if b.Classification != "" {
		return b.Classification
	}
	if s := e.cfg.Source(b.Source); s != nil {
		return s.Classification
	}
	return ""
}

// holdsData reports whether a backup has data on storage that protection
// rules apply to: a failed or running one may have none yet.
func holdsData(b *model.Backup) bool {
	return b.Status == model.StatusSucceeded || b.Status == model.StatusPartial
}

func (e *Evaluator) addSeries(s *model.Series, members []*model.Backup) {
	f, ok := e.series[s.Key]
	if !ok {
		f = &seriesFacts{key: s.Key}
		e.series[s.Key] = f
		e.order = append(e.order, s.Key)
	}
	if s.LastGood != nil {
		g := *s.LastGood
		f.lastGood = &g
	}
	if s.LastFinished != nil {
		a := *s.LastFinished
		f.lastFinished = &a
	}
	window := e.cfg.Checks.Failures.Window.D()
	for _, b := range members {
		if b.Good() {
			f.retainedGood++
			if b.WALStart != "" && (f.oldestWALName == "" || b.End.Before(f.oldestWAL.Time)) {
				f.oldestWALName = b.WALStart
				f.oldestWAL = backupEvidence(b, "first WAL segment "+b.WALStart)
			}
			if b.WALStop != "" && (f.newestWALName == "" || b.End.After(f.newestWAL.Time)) {
				f.newestWALName = b.WALStop
				f.newestWAL = backupEvidence(b, "last WAL segment "+b.WALStop)
			}
		}
		if failedWithin(b, e.at, window) {
			f.failures = append(f.failures, *b)
		}
	}
	f.sightings = Sightings(members)

	env := e.env(s.Key.Env)
	e.findings = append(e.findings, e.checkRPO(s, env)...)
	e.findings = append(e.findings, e.checkRetention(s, env, members)...)
	e.findings = append(e.findings, e.checkProtection(s.Key, env, members)...)
	e.findings = append(e.findings, e.checkStorage(s.Key, env, members)...)
}

func backupEvidence(b *model.Backup, note string) Evidence {
	return Evidence{Kind: "backup", Source: b.Source, ID: b.ID, Time: model.AttemptTime(b).UTC(), Note: note}
}

func seriesSubject(k model.SeriesKey) Subject { return Subject{Source: k.Source, Dataset: k.Dataset} }

// offenders collects the backups of a series that break one rule, oldest
// first, for a finding that counts them all and lists a few.
type offenders struct {
	list []*model.Backup
}

func (o *offenders) add(b *model.Backup) { o.list = append(o.list, b) }

func (o *offenders) sorted() []*model.Backup {
	slices.SortFunc(o.list, func(a, b *model.Backup) int {
		return cmp.Or(model.AttemptTime(a).Compare(model.AttemptTime(b)), cmp.Compare(a.ID, b.ID))
	})
	return o.list
}

// evidence lists the oldest and the newest offenders, at most maxEvidence
// in all, with note describing each.
func (o *offenders) evidence(note func(*model.Backup) string) []Evidence {
	list := o.sorted()
	pick := list
	if len(list) > maxEvidence {
		pick = append(slices.Clone(list[:maxEvidence-1]), list[len(list)-1])
	}
	out := make([]Evidence, 0, len(pick))
	for _, b := range pick {
		out = append(out, backupEvidence(b, note(b)))
	}
	return out
}
