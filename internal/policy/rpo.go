package policy

import (
	"fmt"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// checkRPO compares the age of the newest good backup with the RPO. A
// breach starts when the newest good backup turns RPO old.
func (e *evaluator) checkRPO(s *model.Series, env *config.Environment) []Finding {
	if env == nil || env.RPO <= 0 {
		return nil
	}
	rpo := env.RPO.D()
	if s.LastGood == nil {
		f := e.noBackupRetained(s.Key)
		if s.LastAttempt != nil {
			f.Evidence = []Evidence{backupEvidence(s.LastAttempt, "newest attempt, "+string(s.LastAttempt.Status))}
		}
		return []Finding{f}
	}
	f, stale := e.staleFinding(CheckRPO, s, rpo)
	if !stale {
		return nil
	}
	f.Expected = fmt.Sprintf("newest successful backup at most %s old", FormatDuration(rpo))
	return []Finding{f}
}

// staleFinding is the finding of check, all but its Expected, when the
// newest good backup of s (which must have one) ended more than limit ago:
// it starts when that backup turned limit old, and its evidence is that
// backup and the newest attempt when that is another. False when the
// backup is young enough.
func (e *evaluator) staleFinding(check string, s *model.Series, limit time.Duration) (Finding, bool) {
	age := e.at.Sub(s.LastGood.End)
	if age <= limit {
		return Finding{}, false
	}
	f := e.newFinding(check, s.Key.Env, seriesSubject(s.Key))
	f.Observed = fmt.Sprintf("newest successful backup %s ended %s ago (%s)", s.LastGood.ID, FormatDuration(age), rfc3339(s.LastGood.End))
	f.Start = s.LastGood.End.Add(limit).UTC()
	f.Evidence = []Evidence{backupEvidence(s.LastGood, "newest successful backup")}
	if s.LastAttempt != nil && s.LastAttempt != s.LastGood {
		f.Evidence = append(f.Evidence, backupEvidence(s.LastAttempt, "newest attempt, "+string(s.LastAttempt.Status)))
	}
	return f, true
}

// expectedInterval is how often backups of a series are expected, as
// backup.late judges it, and where that figure comes from: the source's
// expected_interval when the configuration sets one (it always wins), else
// the interval the collector read from the schedule that made the newest
// good backup; zero when neither says.
func expectedInterval(cfg *config.Config, s *model.Series) (every time.Duration, from string) {
	if src := cfg.Source(s.Key.Source); src != nil && src.ExpectedInterval > 0 {
		return src.ExpectedInterval.D(), "expected_interval of source " + s.Key.Source
	}
	if s.LastGood != nil {
		return s.LastGood.Details().ExpectedInterval, "the schedule of " + s.LastGood.ID
	}
	return 0, ""
}

// checkLate compares the age of the newest good backup with the series'
// expected interval plus the grace. A series without a good backup is
// rpo's to report.
func (e *evaluator) checkLate(s *model.Series) []Finding {
	every, from := expectedInterval(e.cfg, s)
	if every <= 0 || s.LastGood == nil {
		return nil
	}
	grace := e.cfg.Checks.Late.Grace.D()
	f, stale := e.staleFinding(CheckLate, s, every+grace)
	if !stale {
		return nil
	}
	f.Expected = fmt.Sprintf("a successful backup every %s (%s), %s late at most", FormatDuration(every), from, FormatDuration(grace))
	return []Finding{f}
}

func (e *evaluator) noBackupRetained(k model.SeriesKey) Finding {
	f := e.newFinding(CheckRPO, k.Env, seriesSubject(k))
	if env := e.env(k.Env); env != nil {
		f.Expected = fmt.Sprintf("newest successful backup at most %s old", FormatDuration(env.RPO.D()))
	}
	f.Observed = "no successful backup retained"
	return f
}

// RPOBreach is an interval in which a series had no good backup younger
// than its RPO.
type RPOBreach struct {
	Series model.SeriesKey
	// Start is when the backup before turned RPO old (or the start of the
	// period looked at); End is when the next good backup ended.
	Start, End time.Time
	// Before and After are the good backups around the gap; Before is
	// empty when the gap began before the period looked at.
	Before, After Evidence
	RPO           time.Duration
}

// HistoryFinding turns a past RPO breach into a finding of rpo.history.
func (b RPOBreach) HistoryFinding() Finding {
	f := NewFinding(CheckRPOHistory, b.Series.Env, seriesSubject(b.Series))
	f.Expected = fmt.Sprintf("a successful backup at least every %s", FormatDuration(b.RPO))
	f.Observed = fmt.Sprintf("RPO breached for %s, %s to %s", FormatDuration(b.End.Sub(b.Start)), rfc3339(b.Start), rfc3339(b.End))
	f.Start, f.End = b.Start.UTC(), b.End.UTC()
	if b.Before.ID != "" {
		f.Evidence = append(f.Evidence, b.Before)
	}
	f.Evidence = append(f.Evidence, b.After)
	return f
}
