package policy

import (
	"fmt"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// failedWithin reports whether b failed (or half-failed) within the window
// that ends at at.
func failedWithin(b *model.Backup, at time.Time, window time.Duration) bool {
	if b.Status != model.StatusFailed && b.Status != model.StatusPartial {
		return false
	}
	t := model.AttemptTime(b)
	return !t.After(at) && at.Sub(t) < window
}

func (e *evaluator) checkFailures(k model.SeriesKey, failures []model.Backup) []Finding {
	limit := e.cfg.Checks.Failures.Max
	if len(failures) <= limit {
		return nil
	}
	window := e.cfg.Checks.Failures.Window.D()
	var o offenders
	seen := map[string]bool{}
	for i := range failures {
		if seen[failures[i].Key()] {
			continue
		}
		seen[failures[i].Key()] = true
		o.add(&failures[i])
	}
	if len(o.list) <= limit {
		return nil
	}
	list := o.sorted()
	newest := list[len(list)-1]
	f := e.newFinding(CheckFailures, k.Env, seriesSubject(k))
	f.Expected = fmt.Sprintf("at most %d failed or partial backups in %s", limit, FormatDuration(window))
	f.Observed = fmt.Sprintf("%d failed or partial %s in the last %s; newest %s: %s", len(list), plural(len(list), "backup", "backups"), FormatDuration(window), newest.ID, orUnknown(newest.Error))
	f.Start = model.AttemptTime(list[0]).UTC()
	f.Evidence = o.evidence(func(b *model.Backup) string { return string(b.Status) })
	return []Finding{f}
}

func orUnknown(s string) string {
	if s == "" {
		return "no error reported"
	}
	return s
}

// checkLastFailed reports a series whose newest finished attempt did not
// succeed.
func (e *evaluator) checkLastFailed(f *seriesFacts) []Finding {
	b := f.lastFinished
	if b == nil || b.Good() {
		return nil
	}
	out := e.newFinding(CheckLastFailed, f.key.Env, seriesSubject(f.key))
	out.Expected = "the newest finished backup attempt succeeds"
	out.Observed = fmt.Sprintf("newest attempt %s (%s) ended %s with status %s: %s", b.ID, b.Type, rfc3339(model.AttemptTime(b)), b.Status, orUnknown(b.Error))
	out.Start = model.AttemptTime(b).UTC()
	out.Evidence = []Evidence{backupEvidence(b, string(b.Status))}
	if f.lastGood != nil {
		out.Evidence = append(out.Evidence, backupEvidence(f.lastGood, "newest successful backup"))
	}
	return []Finding{out}
}
