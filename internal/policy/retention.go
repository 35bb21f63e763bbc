package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

func (e *evaluator) checkRetention(s *model.Series, env *config.Environment, members []*model.Backup) []Finding {
	var out []Finding
	if env != nil {
		out = append(out, e.checkReleaseCount(s, env, members)...)
		out = append(out, e.checkMinAge(s, env)...)
		out = append(out, e.checkMaxAge(s.Key, env, members)...)
	}
	out = append(out, e.checkClassMaxAge(s.Key, members)...)
	return out
}

// checkReleaseCount counts the distinct releases among retained good
// backups, the current release included, as the
// restorable_backup_releases_retained metric does.
func (e *evaluator) checkReleaseCount(s *model.Series, env *config.Environment, members []*model.Backup) []Finding {
	want := env.Retention.Releases
	if want <= 0 {
		return nil
	}
	labelled := slices.ContainsFunc(members, func(b *model.Backup) bool { return b.Release != "" })
	if !labelled || len(s.Releases) >= want {
		return nil
	}
	newest := map[string]*model.Backup{}
	for _, b := range members {
		if b.Good() && b.Release != "" && (newest[b.Release] == nil || b.End.After(newest[b.Release].End)) {
			newest[b.Release] = b
		}
	}
	names := make([]string, 0, len(newest))
	for r := range newest {
		names = append(names, r)
	}
	slices.SortFunc(names, func(a, b string) int { return newest[a].End.Compare(newest[b].End) })
	f := e.newFinding(CheckReleases, s.Key.Env, seriesSubject(s.Key))
	f.Expected = fmt.Sprintf("at least %d release states restorable", want)
	if len(names) == 0 {
		f.Observed = "no release state restorable"
	} else {
		f.Observed = fmt.Sprintf("%d release %s restorable (%s)", len(names), plural(len(names), "state", "states"), strings.Join(names, ", "))
	}
	for _, r := range names {
		f.Evidence = append(f.Evidence, backupEvidence(newest[r], "newest successful backup of "+r))
	}
	return []Finding{f}
}

func (e *evaluator) checkMinAge(s *model.Series, env *config.Environment) []Finding {
	minAge := env.Retention.MinAge.D()
	if minAge <= 0 || s.OldestGood == nil {
		return nil
	}
	age := e.at.Sub(s.OldestGood.End)
	if age >= minAge {
		return nil
	}
	f := e.newFinding(CheckMinAge, s.Key.Env, seriesSubject(s.Key))
	f.Expected = fmt.Sprintf("oldest successful backup at least %s old", FormatDuration(minAge))
	f.Observed = fmt.Sprintf("oldest successful backup %s is %s old", s.OldestGood.ID, FormatDuration(age))
	f.Evidence = []Evidence{backupEvidence(s.OldestGood, "oldest successful backup")}
	return []Finding{f}
}

func (e *evaluator) checkMaxAge(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	maxAge := env.Retention.MaxAge.D()
	if maxAge <= 0 {
		return nil
	}
	var o offenders
	for _, b := range members {
		if e.at.Sub(model.AttemptTime(b)) > maxAge {
			o.add(b)
		}
	}
	if len(o.list) == 0 {
		return nil
	}
	f := e.newFinding(CheckMaxAge, k.Env, seriesSubject(k))
	f.Expected = fmt.Sprintf("no backup older than %s", FormatDuration(maxAge))
	f.Observed = e.ageSummary(&o, "older than "+FormatDuration(maxAge))
	f.Start = model.AttemptTime(o.list[0]).Add(maxAge).UTC()
	f.Evidence = o.evidence(e.ageNote)
	return []Finding{f}
}

func (e *evaluator) checkClassMaxAge(k model.SeriesKey, members []*model.Backup) []Finding {
	byClass := map[string]*offenders{}
	limits := map[string]time.Duration{}
	for _, b := range members {
		class := e.classification(b)
		cl := e.cfg.Classifications[class]
		if cl == nil {
			continue
		}
		limit, ok := cl.MaxAge[k.Env]
		if !ok || e.at.Sub(model.AttemptTime(b)) <= limit.D() {
			continue
		}
		if byClass[class] == nil {
			byClass[class] = &offenders{}
		}
		byClass[class].add(b)
		limits[class] = limit.D()
	}
	var out []Finding
	for _, class := range sortedKeys(byClass) {
		o, limit := byClass[class], limits[class]
		f := e.newFinding(CheckClassMaxAge, k.Env, seriesSubject(k))
		if limit == 0 {
			f.Expected = fmt.Sprintf("no %s data kept in %s", class, k.Env)
		} else {
			f.Expected = fmt.Sprintf("no %s backup older than %s in %s", class, FormatDuration(limit), k.Env)
		}
		f.Observed = e.ageSummary(o, class+" data older than "+FormatDuration(limit))
		f.Start = model.AttemptTime(o.sorted()[0]).Add(limit).UTC()
		f.Evidence = o.evidence(e.ageNote)
		out = append(out, f)
	}
	return out
}

func (e *evaluator) ageNote(b *model.Backup) string {
	return FormatDuration(e.at.Sub(model.AttemptTime(b))) + " old"
}

// ageSummary says how many backups break an age rule and how old the
// oldest is.
func (e *evaluator) ageSummary(o *offenders, what string) string {
	list := o.sorted()
	oldest := list[0]
	return fmt.Sprintf("%d %s %s; oldest %s is %s old", len(list), plural(len(list), "backup", "backups"), what, oldest.ID, FormatDuration(e.at.Sub(model.AttemptTime(oldest))))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
