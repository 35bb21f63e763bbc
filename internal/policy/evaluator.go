package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// evaluator runs the checks over a state that arrives in parts, so that a
// producer holding a large state (the analyzer reading the history) never
// needs all of it in memory: backups arrive series by series, and only a
// few facts per series are kept until the findings are collected.
type evaluator struct {
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
	// producer knows more (the history keeps failures the catalog dropped).
	attempts      map[model.SeriesKey][]model.Backup
	attemptsGiven bool

	sightings      map[model.SeriesKey][]ReleaseSighting
	sightingsGiven bool

	repos  []RepositoryState
	probes []model.ProbeResult
	// tracks are the release tracks the events make; deployBackups the
	// deploys the pre-release backup check judges, per track.
	tracks        []Track
	deployBackups map[TrackKey][]judgedDeploy
	// stores are the repositories that report protection facts, by
	// source, built on first use once repos is complete.
	stores map[string][]*model.Repository
	// catalog is the check catalog by id, built once per evaluation.
	catalog map[string]Check
}

// newFinding is NewFinding with the evaluation's catalog.
func (e *evaluator) newFinding(check, env string, subject Subject) Finding {
	c, ok := e.catalog[check]
	if !ok {
		panic("policy: unknown check " + check)
	}
	return Finding{Check: c.ID, Severity: c.Severity, Env: env, Subject: subject, Controls: slices.Clone(c.Controls)}
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
	oldestWALOf, newestWALOf     *model.Backup
	failures                     []model.Backup
	sightings                    []ReleaseSighting
}

func newEvaluator(cfg *config.Config, at time.Time) *evaluator {
	catalog := map[string]Check{}
	for _, c := range Checks() {
		catalog[c.ID] = c
	}
	return &evaluator{
		catalog:   catalog,
		cfg:       cfg,
		at:        at.UTC(),
		series:    map[model.SeriesKey]*seriesFacts{},
		attempts:  map[model.SeriesKey][]model.Backup{},
		sightings: map[model.SeriesKey][]ReleaseSighting{},
	}
}

// configured reports whether a source is in the configuration: records of
// other sources are ignored.
func (e *evaluator) configured(source string) bool { return e.cfg.Source(source) != nil }

// addBackups evaluates retained backups; each series must arrive whole.
func (e *evaluator) addBackups(backups []model.Backup) {
	members := map[model.SeriesKey][]*model.Backup{}
	for i := range backups {
		k := backups[i].Series()
		members[k] = append(members[k], &backups[i])
	}
	for _, s := range model.Summarize(backups) {
		if e.configured(s.Key.Source) {
			e.addSeries(s, members[s.Key])
		}
	}
}

// setAttempts gives the failures check every backup attempted within its
// window, including those no catalog retains any more. Attempts outside
// the window are ignored.
func (e *evaluator) setAttempts(attempts []model.Backup) {
	e.attemptsGiven = true
	window := e.cfg.Checks.Failures.Window.D()
	for _, b := range attempts {
		if e.configured(b.Source) && failedWithin(&b, e.at, window) {
			e.attempts[b.Series()] = append(e.attempts[b.Series()], b)
		}
	}
}

// setReleaseSightings gives the release check the first sighting of every
// release of every series.
func (e *evaluator) setReleaseSightings(s []ReleaseSighting) {
	e.sightingsGiven = true
	for _, r := range s {
		if e.configured(r.Series.Source) {
			e.sightings[r.Series] = append(e.sightings[r.Series], r)
		}
	}
}

// findingsAll runs the checks that span series and returns every finding,
// sorted by Sort.
func (e *evaluator) findingsAll() []Finding {
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
		out = append(out, e.checkLastFailed(f)...)
	}
	if e.attemptsGiven {
		keys := make([]model.SeriesKey, 0, len(e.attempts))
		for k := range e.attempts {
			if _, seen := e.series[k]; !seen {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, compareSeries)
		for _, k := range keys {
			out = append(out, e.checkFailures(k, e.attempts[k])...)
		}
	}
	out = append(out, e.checkReleases()...)
	out = append(out, e.checkPITR()...)
	out = append(out, e.checkStores()...)
	out = append(out, e.checkProbes()...)
	out = append(out, e.checkAgentDrift()...)
	out = append(out, e.checkFreeze()...)
	out = append(out, e.checkPreReleaseBackup()...)
	out = append(out, e.checkRollbackMigration()...)
	Sort(out)
	return out
}

// latestGood returns the newest good backup of every series, ordered by
// env, source and dataset.
func (e *evaluator) latestGood() []model.Backup {
	keys := slices.Clone(e.order)
	slices.SortFunc(keys, compareSeries)
	var out []model.Backup
	for _, k := range keys {
		if b := e.series[k].lastGood; b != nil {
			out = append(out, *b)
		}
	}
	return out
}

func (e *evaluator) env(name string) *config.Environment { return e.cfg.Environments[name] }

// classification is the data class of a backup: its own, else its
// source's.
func (e *evaluator) classification(b *model.Backup) string {
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

func (e *evaluator) addSeries(s *model.Series, members []*model.Backup) {
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
		}
		if d := b.Detail; d != nil && b.Good() {
			if d.WALStart != "" && (f.oldestWALOf == nil || model.CompareRecency(b, f.oldestWALOf) < 0) {
				f.oldestWALOf = b
				f.oldestWALName = d.WALStart
				f.oldestWAL = backupEvidence(b, "first WAL segment "+d.WALStart)
			}
			if d.WALStop != "" && model.Newer(b, f.newestWALOf) {
				f.newestWALOf = b
				f.newestWALName = d.WALStop
				f.newestWAL = backupEvidence(b, "last WAL segment "+d.WALStop)
			}
		}
		if failedWithin(b, e.at, window) {
			f.failures = append(f.failures, *b)
		}
	}
	f.sightings = Sightings(members)
	e.observeDeployBackups(s.Key, members)

	env := e.env(s.Key.Env)
	e.findings = append(e.findings, e.checkRPO(s, env)...)
	if env != nil {
		e.findings = append(e.findings, e.checkLate(s)...)
	}
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
