package model

import "time"

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
		if s.LastAttempt == nil || AttemptTime(b).After(AttemptTime(s.LastAttempt)) {
			s.LastAttempt = b
		}
		if b.Status != StatusRunning && (s.LastFinished == nil || b.End.After(s.LastFinished.End)) {
			s.LastFinished = b
		}
		if !b.Good() {
			continue
		}
		if prev := s.LastGoodByType[b.Type]; prev == nil || b.End.After(prev.End) {
			s.LastGoodByType[b.Type] = b
		}
		if s.LastGood == nil || b.End.After(s.LastGood.End) {
			s.LastGood = b
		}
		if s.OldestGood == nil || b.End.Before(s.OldestGood.End) {
			s.OldestGood = b
		}
		if b.Release != "" {
			s.Releases[b.Release] = struct{}{}
		}
	}
	return out
}
