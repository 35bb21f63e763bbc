package policy

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/restorable/restorable/internal/model"
)

type envDataset struct{ env, dataset string }

func probeEvidence(r *model.ProbeResult, note string) Evidence {
	return Evidence{Kind: "probe", Source: r.Probe, ID: r.RunID, Time: r.Start.UTC(), Note: note}
}

func probeSubject(r *model.ProbeResult) Subject {
	return Subject{Source: r.Source, Dataset: r.Dataset, Probe: r.Probe}
}

// checkProbes judges the newest run of each probe (failed, slower than the
// RTO, data older than the RPO) and, per dataset with retained good
// backups, when it was last restored successfully.
func (e *evaluator) checkProbes() []Finding {
	latest := map[string]*model.ProbeResult{}
	latestOK := map[string]*model.ProbeResult{}
	lastSuccess := map[envDataset]*model.ProbeResult{}
	newer := func(a, b *model.ProbeResult) bool {
		return b == nil || a.Start.After(b.Start) || a.Start.Equal(b.Start) && a.RunID > b.RunID
	}
	for i := range e.probes {
		r := &e.probes[i]
		if newer(r, latest[r.Probe]) {
			latest[r.Probe] = r
		}
		if r.Success {
			if newer(r, latestOK[r.Probe]) {
				latestOK[r.Probe] = r
			}
			k := envDataset{r.Env, r.Dataset}
			if newer(r, lastSuccess[k]) {
				lastSuccess[k] = r
			}
		}
	}
	var out []Finding
	for _, name := range sortedKeys(latest) {
		r := latest[name]
		env := e.env(r.Env)
		if !r.Success {
			f := e.newFinding(CheckRestoreFailed, r.Env, probeSubject(r))
			f.Expected = "newest restore test succeeds"
			f.Observed = fmt.Sprintf("run %s at %s failed: %s", r.RunID, rfc3339(r.Start), orUnknown(r.Error))
			f.Start = r.Start.UTC()
			f.Evidence = []Evidence{probeEvidence(r, "failed")}
			if ok := latestOK[name]; ok != nil {
				f.Evidence = append(f.Evidence, probeEvidence(ok, "newest successful run"))
			}
			out = append(out, f)
		}
		target := r.RTOTarget
		if target <= 0 && env != nil {
			target = env.RTO.D()
		}
		if target > 0 && r.Duration > target {
			f := e.newFinding(CheckRTO, r.Env, probeSubject(r))
			f.Expected = fmt.Sprintf("restore within %s", FormatDuration(target))
			f.Observed = fmt.Sprintf("run %s took %s", r.RunID, FormatDuration(r.Duration))
			f.Start = r.Start.UTC()
			f.Evidence = []Evidence{probeEvidence(r, "took "+FormatDuration(r.Duration))}
			out = append(out, f)
		}
		if ok := latestOK[name]; ok != nil && env != nil && env.RPO > 0 {
			if rpo := ok.AchievedRPO(); rpo > env.RPO.D() {
				f := e.newFinding(CheckRestoreRPO, ok.Env, probeSubject(ok))
				f.Expected = fmt.Sprintf("restored data at most %s old", FormatDuration(env.RPO.D()))
				f.Observed = fmt.Sprintf("run %s restored data %s old (%s, backup %s)", ok.RunID, FormatDuration(rpo), rfc3339(ok.RestoredPoint), orNone(ok.BackupID))
				f.Start = ok.Start.UTC()
				f.Evidence = []Evidence{probeEvidence(ok, "restored point "+rfc3339(ok.RestoredPoint))}
				out = append(out, f)
			}
		}
	}
	out = append(out, e.checkRestoreOverdue(lastSuccess)...)
	return out
}

func (e *evaluator) checkRestoreOverdue(lastSuccess map[envDataset]*model.ProbeResult) []Finding {
	datasets := map[envDataset]model.SeriesKey{}
	for _, k := range e.order {
		if e.series[k].lastGood == nil {
			continue
		}
		d := envDataset{k.Env, k.Dataset}
		if prev, ok := datasets[d]; !ok || k.Source < prev.Source {
			datasets[d] = k
		}
	}
	keys := make([]envDataset, 0, len(datasets))
	for d := range datasets {
		keys = append(keys, d)
	}
	slices.SortFunc(keys, func(a, b envDataset) int { return cmp.Or(cmp.Compare(a.env, b.env), cmp.Compare(a.dataset, b.dataset)) })
	var out []Finding
	for _, d := range keys {
		env := e.env(d.env)
		if env == nil || env.RestoreTestEvery <= 0 {
			continue
		}
		every := env.RestoreTestEvery.D()
		last := lastSuccess[d]
		if last != nil && e.at.Sub(last.Start) <= every {
			continue
		}
		f := e.newFinding(CheckRestoreOverdue, d.env, Subject{Dataset: d.dataset})
		f.Expected = fmt.Sprintf("a successful restore test at least every %s", FormatDuration(every))
		if last == nil {
			f.Observed = "no successful restore test recorded"
		} else {
			f.Observed = fmt.Sprintf("last successful restore test %s ago (%s, probe %s)", FormatDuration(e.at.Sub(last.Start)), rfc3339(last.Start), last.Probe)
			f.Start = last.Start.Add(every).UTC()
			f.Evidence = []Evidence{probeEvidence(last, "last successful run")}
		}
		out = append(out, f)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
