package agreement

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// The interval a collector reads from a backup tool's schedule reaches
// both evaluations alike, through the catalog and through the history's
// expected_interval_seconds: an hourly Velero schedule whose newest good
// backup is 3h30m old is late in both, a daily one is not, a source's
// expected_interval wins over its schedules, and a restart changes
// nothing.
func TestScheduleIntervalAgrees(t *testing.T) {
	p := newPair(t, `environments:
  prod: {rpo: 1d}
sources:
  - {name: k8s, type: velero, env: prod, velero: {file: backups.json}}
  - {name: k8s-dr, type: velero, env: prod, expected_interval: 6h, velero: {file: dr.json}}
`)
	scheduled := func(source, dataset, id string, every time.Duration, ago time.Duration) model.Backup {
		b := good(source, dataset, id, "", p.now.Add(-ago))
		b.Type = model.BackupSnapshot
		d := b.Details()
		d.ExpectedInterval = every
		b.SetDetails(d)
		return b
	}
	p.collect("k8s", &model.Catalog{Backups: []model.Backup{
		scheduled("k8s", "hourly", "hourly-1", time.Hour, 30*time.Minute),
		scheduled("k8s", "daily", "daily-1", 24*time.Hour, 2*time.Hour),
	}})
	p.collect("k8s-dr", &model.Catalog{Backups: []model.Backup{scheduled("k8s-dr", "hourly", "hourly-1", time.Hour, 30*time.Minute)}})
	if res := p.both(p.now); len(res.Findings) != 0 {
		t.Errorf("findings of fresh backups: %+v", res.Findings)
	}
	check := func(at time.Time) {
		t.Helper()
		res := p.both(at)
		if !has(res, policy.CheckLate, "k8s/hourly") {
			t.Errorf("no backup.late for an hourly schedule 3h30m after its newest backup: %+v", res.Findings)
		}
		for _, quiet := range []string{"k8s/daily", "k8s-dr/hourly"} {
			if has(res, policy.CheckLate, quiet) {
				t.Errorf("backup.late for %s: %+v", quiet, res.Findings)
			}
		}
		if has(res, policy.CheckRPO, "k8s/hourly") {
			t.Errorf("rpo for a backup within the RPO of a day: %+v", res.Findings)
		}
	}
	check(p.now.Add(3 * time.Hour))
	if err := p.hist.Close(); err != nil {
		t.Fatal(err)
	}
	p.start()
	check(p.now.Add(3 * time.Hour))
}
