package policy

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// ReleaseSighting is what is known of one release of one series: when its
// label first appeared on a backup, and when the first successful backup
// carrying it ended.
type ReleaseSighting struct {
	Series  model.SeriesKey
	Release string
	// FirstSeen is the start of the first backup labelled with the release:
	// the release was running by then. First names that backup.
	FirstSeen time.Time
	First     Evidence
	// FirstGood is the first successful backup labelled with the release;
	// its Time is zero when there is none. Evidence read from the history
	// may lack the backup's ID until the analyzer looks it up.
	FirstGood Evidence
}

// Sightings derives the release sightings of backups, as the release check
// reads them when the producer gives none: folded as Memory folds every
// catalog it observes, so there is one definition of a sighting.
func Sightings(backups []*model.Backup) []ReleaseSighting {
	m := NewMemory()
	for _, b := range backups {
		m.observeBackup(b)
	}
	return m.sightings()
}

// checkReleases orders each series' releases by first sighting and wants,
// for every release but the first, a successful backup of the release
// before it that ended before the release appeared.
func (e *evaluator) checkReleases() []Finding {
	var out []Finding
	keys := e.order
	if e.sightingsGiven {
		keys = nil
		for k := range e.sightings {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareSeries)
	}
	for _, k := range keys {
		var list []ReleaseSighting
		if e.sightingsGiven {
			list = slices.Clone(e.sightings[k])
		} else {
			list = slices.Clone(e.series[k].sightings)
		}
		slices.SortFunc(list, func(a, b ReleaseSighting) int {
			return cmp.Or(a.FirstSeen.Compare(b.FirstSeen), cmp.Compare(a.Release, b.Release))
		})
		for i := 1; i < len(list); i++ {
			prev, cur := list[i-1], list[i]
			if cur.FirstSeen.After(e.at) || cur.FirstSeen.Before(e.since) {
				continue
			}
			if !prev.FirstGood.Time.IsZero() && !prev.FirstGood.Time.After(cur.FirstSeen) {
				continue
			}
			f := e.newFinding(CheckReleaseBackup, k.Env, Subject{Source: k.Source, Dataset: k.Dataset, Release: cur.Release})
			f.Expected = fmt.Sprintf("a successful backup of %s before %s was deployed", prev.Release, cur.Release)
			if prev.FirstGood.Time.IsZero() {
				f.Observed = fmt.Sprintf("%s first seen %s; %s has no successful backup", cur.Release, rfc3339(cur.FirstSeen), prev.Release)
			} else {
				f.Observed = fmt.Sprintf("%s first seen %s; the first successful backup of %s ended later, %s", cur.Release, rfc3339(cur.FirstSeen), prev.Release, rfc3339(prev.FirstGood.Time))
				f.Evidence = append(f.Evidence, prev.FirstGood)
			}
			if !cur.First.Time.IsZero() {
				f.Evidence = append(f.Evidence, cur.First)
			}
			f.Start = cur.FirstSeen
			out = append(out, f)
		}
	}
	return out
}

func compareSeries(a, b model.SeriesKey) int {
	return cmp.Or(cmp.Compare(a.Env, b.Env), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Dataset, b.Dataset))
}
