package policy

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// CompareWAL orders two WAL segment names. PostgreSQL names segments with
// 24 hex digits (timeline, log, segment); those compare as numbers, others
// as strings.
func CompareWAL(a, b string) int {
	pa, okA := parseWAL(a)
	pb, okB := parseWAL(b)
	if !okA || !okB {
		return strings.Compare(a, b)
	}
	for i := range pa {
		if pa[i] != pb[i] {
			if pa[i] < pb[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func parseWAL(s string) ([3]uint64, bool) {
	var out [3]uint64
	if len(s) != 24 {
		return out, false
	}
	for i := range out {
		v, err := strconv.ParseUint(s[i*8:(i+1)*8], 16, 32)
		if err != nil {
			return out, false
		}
		out[i] = v
	}
	return out, true
}

func repoEvidence(r *model.Repository, note string) Evidence {
	return Evidence{Kind: "repository", Source: r.Source, ID: r.Name, Time: r.ObservedAt.UTC(), Note: note}
}

// checkPITR wants the WAL archive of each repository that keeps one to
// cover every good backup of its dataset, from the oldest backup's first
// segment to the newest backup's last, and to keep advancing.
func (e *evaluator) checkPITR() []Finding {
	var out []Finding
	for i := range e.repos {
		in := &e.repos[i]
		r := &in.Repository
		if r.WALMin == "" && r.WALMax == "" {
			continue
		}
		subject := Subject{Source: r.Source, Dataset: r.Dataset, Repository: r.Name}
		oldest, newest := e.walRange(r)
		if oldest.ID != "" && r.WALMin != "" && CompareWAL(r.WALMin, oldest.Note) > 0 {
			f := e.newFinding(CheckPITR, r.Env, subject)
			f.Expected = fmt.Sprintf("WAL archive from %s (first segment of the oldest backup %s)", oldest.Note, oldest.ID)
			f.Observed = fmt.Sprintf("WAL archive starts at %s: no point-in-time recovery between the oldest backups and that segment", r.WALMin)
			f.Evidence = []Evidence{repoEvidence(r, "WAL "+r.WALMin+" to "+r.WALMax), withNote(oldest, "first WAL segment "+oldest.Note)}
			out = append(out, f)
		}
		if newest.ID != "" && r.WALMax != "" && CompareWAL(r.WALMax, newest.Note) < 0 {
			f := e.newFinding(CheckPITR, r.Env, subject)
			f.Expected = fmt.Sprintf("WAL archive up to at least %s (last segment of the newest backup %s)", newest.Note, newest.ID)
			f.Observed = fmt.Sprintf("WAL archive ends at %s, before the newest backup is consistent", r.WALMax)
			f.Evidence = []Evidence{repoEvidence(r, "WAL "+r.WALMin+" to "+r.WALMax), withNote(newest, "last WAL segment "+newest.Note)}
			out = append(out, f)
		}
		env := e.env(r.Env)
		if env != nil && env.RPO > 0 && !in.WALSince.IsZero() && r.WALMax != "" {
			if stale := e.at.Sub(in.WALSince); stale > env.RPO.D() {
				f := e.newFinding(CheckPITR, r.Env, subject)
				f.Expected = fmt.Sprintf("WAL archive advancing at least every %s", FormatDuration(env.RPO.D()))
				f.Observed = fmt.Sprintf("WAL archive stuck at %s since %s (%s)", r.WALMax, rfc3339(in.WALSince), FormatDuration(stale))
				f.Start = in.WALSince.Add(env.RPO.D())
				f.Evidence = []Evidence{repoEvidence(r, "newest segment "+r.WALMax)}
				out = append(out, f)
			}
		}
	}
	return out
}

// walRange returns the oldest good backup's first WAL segment and the
// newest good backup's last segment among the series the repository
// serves (every dataset of the source when the repository names none).
// The segment names travel in the Evidence notes.
func (e *evaluator) walRange(r *model.Repository) (oldest, newest Evidence) {
	for _, k := range e.order {
		if k.Env != r.Env || k.Source != r.Source || (r.Dataset != "" && k.Dataset != r.Dataset) {
			continue
		}
		f := e.series[k]
		if f.oldestWALName != "" && (oldest.ID == "" || f.oldestWAL.Time.Before(oldest.Time)) {
			oldest = f.oldestWAL
			oldest.Note = f.oldestWALName
		}
		if f.newestWALName != "" && (newest.ID == "" || f.newestWAL.Time.After(newest.Time)) {
			newest = f.newestWAL
			newest.Note = f.newestWALName
		}
	}
	return oldest, newest
}

func withNote(ev Evidence, note string) Evidence {
	ev.Note = note
	return ev
}
