package model

import (
	"cmp"
	"strings"
	"time"
)

// Series is what a catalog says about one env/source/dataset: the facts
// that metrics, policy and the gate all derive from, computed once here.
type Series struct {
	Key            SeriesKey
	LastGoodByType map[BackupType]*Backup
	LastGood       *Backup
	OldestGood     *Backup
	// LastAttempt is the newest backup of any status; LastFinished the
	// newest that is not running.
	LastAttempt  *Backup
	LastFinished *Backup
	Releases     map[string]struct{}
	Counts       map[CountKey]int
}

// CountKey groups backups for counting.
type CountKey struct {
	Type   BackupType
	Status Status
}

// AttemptTime is when a backup attempt counts as made: its end, or its
// start while it runs.
func AttemptTime(b *Backup) time.Time {
	if b.End.IsZero() {
		return b.Start
	}
	return b.End
}

// CompareRecency orders two backups by how recent they are: by attempt
// time (the end, or the start while running), then start time, then
// source, dataset and id. It is the one tie-break for "newest" and
// "oldest" in Restorable: the series summary, the policy, the deploy
// gate's latest good backup and the backup a restore probe picks all use
// it, so two backups that ended in the same second are ranked the same way
// everywhere, whatever order a catalog lists them in.
func CompareRecency(a, b *Backup) int {
	return cmp.Or(
		AttemptTime(a).Compare(AttemptTime(b)),
		a.Start.Compare(b.Start),
		strings.Compare(a.Source, b.Source),
		strings.Compare(a.Dataset, b.Dataset),
		strings.Compare(a.ID, b.ID),
	)
}

// Newer reports whether a is more recent than b by CompareRecency; any
// backup is newer than nil.
func Newer(a, b *Backup) bool { return b == nil || CompareRecency(a, b) > 0 }

// Summarize groups backups by series, in the order the series first appear.
func Summarize(backups []Backup) []*Series {
	idx := map[SeriesKey]*Series{}
	var out []*Series
	for i := range backups {
		b := &backups[i]
		s := idx[b.Series()]
		if s == nil {
			s = &Series{Key: b.Series(), LastGoodByType: map[BackupType]*Backup{}, Releases: map[string]struct{}{}, Counts: map[CountKey]int{}}
			idx[b.Series()] = s
			out = append(out, s)
		}
		s.Counts[CountKey{b.Type, b.Status}]++
		if Newer(b, s.LastAttempt) {
			s.LastAttempt = b
		}
		if b.Status != StatusRunning && Newer(b, s.LastFinished) {
			s.LastFinished = b
		}
		if !b.Good() {
			continue
		}
		if prev := s.LastGoodByType[b.Type]; Newer(b, prev) {
			s.LastGoodByType[b.Type] = b
		}
		if Newer(b, s.LastGood) {
			s.LastGood = b
		}
		if s.OldestGood == nil || CompareRecency(b, s.OldestGood) < 0 {
			s.OldestGood = b
		}
		if b.Release != "" {
			s.Releases[b.Release] = struct{}{}
		}
	}
	return out
}
