package policy

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// Memory is what the exporter remembers of earlier collections that a
// single catalog forgets: when each release of each series was first seen
// and first backed up, when a series was last seen (so that one whose
// backups all vanished is still judged), failed attempts that the catalog
// no longer lists, and since when each repository's WAL archive has not
// advanced. It is the exporter's counterpart of what the analyzer reads
// from the history, computed the same way, so that both fill Input alike.
// After a restart it is seeded from the history.
//
// Times are kept at microsecond precision, as the history stores them.
//
// A Memory is safe for concurrent use.
type Memory struct {
	mu       sync.Mutex
	releases map[releaseKey]*ReleaseSighting
	seen     map[model.SeriesKey]time.Time
	present  map[string]map[model.SeriesKey]struct{}
	failed   map[attemptKey]model.Backup
	wal      map[repoKey]walState
}

type releaseKey struct {
	series  model.SeriesKey
	release string
}

type attemptKey struct{ source, dataset, id string }

type repoKey struct{ source, name string }

type walState struct {
	max   string
	since time.Time
}

// NewMemory returns a Memory that has seen nothing.
func NewMemory() *Memory {
	return &Memory{
		releases: map[releaseKey]*ReleaseSighting{},
		seen:     map[model.SeriesKey]time.Time{},
		present:  map[string]map[model.SeriesKey]struct{}{},
		failed:   map[attemptKey]model.Backup{},
		wal:      map[repoKey]walState{},
	}
}

func micros(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// SeriesSummary is what the history summarises of one release of one
// series (an empty Release for backups without a label): the earliest
// start (else end) of a backup, the earliest end of a successful one, and
// when a row of it was last written.
type SeriesSummary struct {
	Series                         model.SeriesKey
	Release                        string
	FirstSeen, FirstGood, LastSeen time.Time
}

// Seed starts the memory from the history: the series summaries, the
// failed attempts within the failures window, the retained backups of
// every source (which series each source listed last) and, per source and
// repository, since when the newest WAL segment has not changed.
func (m *Memory) Seed(series []SeriesSummary, failed []model.Backup, retained map[string][]model.Backup, walSince map[string]map[string]time.Time, repos map[string][]model.Repository) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, s := range series {
		if s.LastSeen.After(m.seen[s.Series]) {
			m.seen[s.Series] = micros(s.LastSeen)
		}
		if s.Release == "" || s.FirstSeen.IsZero() {
			continue
		}
		k := releaseKey{s.Series, s.Release}
		r := m.releases[k]
		if r == nil {
			r = &ReleaseSighting{Series: s.Series, Release: s.Release}
			m.releases[k] = r
		}
		if r.First.Time.IsZero() || s.FirstSeen.Before(r.FirstSeen) {
			r.FirstSeen = micros(s.FirstSeen)
			r.First = Evidence{Kind: "backup", Source: s.Series.Source, Release: s.Release, Time: r.FirstSeen, Note: "first backup labelled " + s.Release}
		}
		if !s.FirstGood.IsZero() && (r.FirstGood.Time.IsZero() || s.FirstGood.Before(r.FirstGood.Time)) {
			r.FirstGood = Evidence{Kind: "backup", Source: s.Series.Source, Release: s.Release, Time: micros(s.FirstGood), Note: "first successful backup of " + s.Release}
		}
	}
	for _, b := range failed {
		m.failed[attemptKey{b.Source, b.Dataset, b.ID}] = b
	}
	for source, bs := range retained {
		set := map[model.SeriesKey]struct{}{}
		for i := range bs {
			set[bs[i].Series()] = struct{}{}
		}
		m.present[source] = set
	}
	for source, rs := range repos {
		for _, r := range rs {
			if since, ok := walSince[source][r.Name]; ok && r.WALMax != "" {
				m.wal[repoKey{source, r.Name}] = walState{max: r.WALMax, since: micros(since)}
			}
		}
	}
}

// Observe records one collection of a source made at at: the catalog it
// produced. A series the previous catalog of the source listed and this
// one does not was last seen at at.
func (m *Memory) Observe(source string, cat *model.Catalog, at time.Time) {
	at = micros(at)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[model.SeriesKey]struct{}{}
	for i := range cat.Backups {
		b := &cat.Backups[i]
		k := b.Series()
		if _, ok := now[k]; !ok {
			now[k] = struct{}{}
			m.seen[k] = at
		}
		m.observeBackup(b)
	}
	for k := range m.present[source] {
		if _, ok := now[k]; !ok {
			m.seen[k] = at
		}
	}
	m.present[source] = now
	for i := range cat.Repositories {
		r := &cat.Repositories[i]
		k := repoKey{source, r.Name}
		if r.WALMax == "" {
			delete(m.wal, k)
			continue
		}
		if prev, ok := m.wal[k]; !ok || prev.max != r.WALMax {
			m.wal[k] = walState{max: r.WALMax, since: micros(r.ObservedAt)}
		}
	}
}

// observeBackup folds one version of a backup in. m.mu is held.
func (m *Memory) observeBackup(b *model.Backup) {
	ak := attemptKey{b.Source, b.Dataset, b.ID}
	if b.Status == model.StatusFailed || b.Status == model.StatusPartial {
		v := *b
		v.Start, v.End = micros(b.Start), micros(b.End)
		m.failed[ak] = v
	} else {
		delete(m.failed, ak)
	}
	if b.Release == "" {
		return
	}
	k := releaseKey{b.Series(), b.Release}
	r := m.releases[k]
	if r == nil {
		r = &ReleaseSighting{Series: k.series, Release: b.Release}
		m.releases[k] = r
	}
	if seen := micros(cmp.Or(b.Start, b.End)); !seen.IsZero() && (r.First.Time.IsZero() || seen.Before(r.FirstSeen)) {
		r.FirstSeen = seen
		r.First = Evidence{Kind: "backup", Source: b.Source, ID: b.ID, Release: b.Release, Time: seen, Note: "first backup labelled " + b.Release}
	}
	if end := micros(b.End); b.Good() && !end.IsZero() && (r.FirstGood.Time.IsZero() || end.Before(r.FirstGood.Time)) {
		r.FirstGood = Evidence{Kind: "backup", Source: b.Source, ID: b.ID, Release: b.Release, Time: end, Note: "first successful backup of " + b.Release}
	}
}

// Fill sets what in needs of the memory: Seen, Sightings, Attempts (those
// within window before in.At; older ones are forgotten) and the WALSince of
// in.Repositories.
func (m *Memory) Fill(in *Input, window time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in.Seen = make(map[model.SeriesKey]time.Time, len(m.seen))
	for k, t := range m.seen {
		in.Seen[k] = t
	}
	in.Sightings = m.sightings()
	in.Attempts = []model.Backup{}
	for k, b := range m.failed {
		t := model.AttemptTime(&b)
		if in.At.Sub(t) >= window {
			delete(m.failed, k)
			continue
		}
		in.Attempts = append(in.Attempts, b)
	}
	slices.SortFunc(in.Attempts, func(a, b model.Backup) int { return model.CompareRecency(&a, &b) })
	for i := range in.Repositories {
		r := &in.Repositories[i]
		if w, ok := m.wal[repoKey{r.Source, r.Name}]; ok && w.max == r.WALMax {
			r.WALSince = w.since
		}
	}
}

// sightings returns the release sightings, ordered by series and release.
// m.mu is held or m is not shared.
func (m *Memory) sightings() []ReleaseSighting {
	out := make([]ReleaseSighting, 0, len(m.releases))
	for _, r := range m.releases {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b ReleaseSighting) int {
		return cmp.Or(compareSeries(a.Series, b.Series), cmp.Compare(a.Release, b.Release))
	})
	return out
}
