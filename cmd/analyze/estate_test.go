package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/model"
)

// The estate is a four-month history written by the real history writer
// with a clock the test moves: what an exporter collecting two sources
// twice a day would have written. Its story, day by day (day 0 is
// estateStart, collections at 00:00 and 12:00):
//
//   - prod pg/orders: a full backup ending at 02:00 every day but days
//     100-103 (an outage); kept 45 days; release v<day/14>; 2 GiB each;
//     days 110-112 lost their object lock; a failed backup at day 119
//     10:00 that the catalog drops at the next collection (the last one, at
//     estateEnd). Its repository
//     grows by about 1 GiB a day and its WAL archive stops advancing on
//     day 115.
//   - prod pg/billing: the same, until its last backup on day 116.
//   - staging files/uploads: a snapshot at 03:00 every other day, kept 20
//     days; release s1 until day 79, s2 (every backup failed) on days
//     80-99, s3 from day 100.
//   - restore probes of orders every 7 days (all pass) and of billing
//     (pass until day 98, fail from day 105).
const (
	estateDays      = 120
	estateOutage    = 100 // first day of the orders outage
	estateOutageEnd = 104 // first day orders backs up again
	billingLastDay  = 116
	estateWALStops  = 115
	estateGiB       = int64(1) << 30
)

func estateStart() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

func estateDay(d int) time.Time { return estateStart().Add(time.Duration(d) * 24 * time.Hour) }

// estateEnd is when the estate's story ends and the analysis looks.
func estateEnd() time.Time { return estateDay(estateDays) }

const estateConfig = `environments:
  prod:
    rpo: 26h
    rto: 1h
    retention: {releases: 2, max_age: 60d}
    require: {encryption: any, immutable: true}
    archive_after: 30d
    restore_test_every: 14d
  staging:
    rpo: 48h
    retention: {releases: 1}
    archive_after: 30d
checks:
  period: 30d
sources:
  - {name: pg, type: manifest, env: prod, manifest: {dir: manifests}}
  - {name: files, type: manifest, env: staging, manifest: {dir: manifests}}
probes:
  - {name: orders-restore, kind: command, source: pg, options: {command: ["true"]}}
  - {name: billing-restore, kind: command, source: pg, options: {command: ["true"]}}
history:
  root: history
`

func ordersBackup(d int) model.Backup {
	end := estateDay(d).Add(2 * time.Hour)
	return model.Backup{
		Source: "pg", Env: "prod", Dataset: "orders", ID: fmt.Sprintf("orders-%03d", d), Type: model.BackupFull,
		Release: fmt.Sprintf("v%d", d/14), Start: end.Add(-time.Hour), End: end, Status: model.StatusSucceeded,
		LogicalBytes: 8 * estateGiB, StoredBytes: 2 * estateGiB, StorageClass: "STANDARD", Region: "eu-west-1",
		Encrypted: true, Immutable: d < 110 || d > 112,

		Detail: &model.BackupDetail{Agent: "pgbackrest", AgentVersion: "2.54.0", WALStart: walName(d, 0), WALStop: walName(d, 1)},
	}
}

func billingBackup(d int) model.Backup {
	b := ordersBackup(d)
	b.Dataset, b.ID, b.Immutable = "billing", fmt.Sprintf("billing-%03d", d), true
	b.Detail.WALStart, b.Detail.WALStop = "", ""
	return b
}

func uploadsBackup(d int) model.Backup {
	end := estateDay(d).Add(3 * time.Hour)
	release, status := "s1", model.StatusSucceeded
	switch {
	case d >= 100:
		release = "s3"
	case d >= 80:
		release, status = "s2", model.StatusFailed
	}
	return model.Backup{
		Source: "files", Env: "staging", Dataset: "uploads", ID: fmt.Sprintf("up-%03d", d), Type: model.BackupSnapshot,
		Release: release, Start: end.Add(-10 * time.Minute), End: end, Status: status,
		StoredBytes: estateGiB, LogicalBytes: 2 * estateGiB, StorageClass: "STANDARD", Encrypted: true,

		Detail: &model.BackupDetail{Agent: "restic", AgentVersion: "0.17.3", Paths: []string{"/srv/uploads"}},
	}
}

// walName is the WAL segment day d's backup starts (or, with 1, ends) at.
func walName(d, off int) string { return fmt.Sprintf("%08X%08X%08X", 1, 0, 16+2*d+off) }

// ordersStored is the size of the orders repository on day d: a line with
// deterministic wobble.
func ordersStored(d int) int64 {
	return 100*estateGiB + int64(d)*estateGiB + int64((d*37)%11-5)*(50<<20)
}

// catalogs returns what the two sources list at moment now.
func catalogs(now time.Time) (pg, files model.Catalog) {
	for d := 0; d < estateDays; d++ {
		age := now.Sub(ordersBackup(d).End)
		if age < 0 || age > 45*24*time.Hour {
			continue
		}
		if d < estateOutage || d >= estateOutageEnd {
			pg.Backups = append(pg.Backups, ordersBackup(d))
		}
		if d <= billingLastDay {
			pg.Backups = append(pg.Backups, billingBackup(d))
		}
	}
	failed := model.Backup{
		Source: "pg", Env: "prod", Dataset: "orders", ID: "orders-119-incr", Type: model.BackupIncr, Release: "v8",
		Start: estateDay(119).Add(9 * time.Hour), End: estateDay(119).Add(10 * time.Hour), Status: model.StatusFailed,
		Error: "archive-push timed out",
	}
	if now.Equal(estateDay(119).Add(12 * time.Hour)) {
		pg.Backups = append(pg.Backups, failed)
	}
	for d := 0; d < estateDays; d += 2 {
		age := now.Sub(uploadsBackup(d).End)
		if age >= 0 && age <= 20*24*time.Hour {
			files.Backups = append(files.Backups, uploadsBackup(d))
		}
	}
	day := int(now.Sub(estateStart()).Hours() / 24)
	walMax := walName(min(day, estateWALStops), 1)
	pg.Repositories = []model.Repository{{
		Source: "pg", Env: "prod", Dataset: "orders", Name: "orders", ObservedAt: now,
		StoredBytes: ordersStored(day), LogicalBytes: 4 * ordersStored(day), DedupRatio: 2, CompressionRatio: 2,
		StorageClass: "STANDARD", WALMin: walName(0, 0), WALMax: walMax, Healthy: true,
	}}
	return pg, files
}

func estateProbes() []model.ProbeResult {
	var out []model.ProbeResult
	for d := 0; d < estateDays; d += 7 {
		start := estateDay(d).Add(6 * time.Hour)
		out = append(out, model.ProbeResult{
			RunID: fmt.Sprintf("orders-%d", d), Probe: "orders-restore", Kind: "postgres-logical", Env: "prod", Dataset: "orders",
			Source: "pg", BackupID: ordersBackup(d).ID, RestoredPoint: ordersBackup(d).End, Start: start, Duration: 20 * time.Minute, Success: true,
		})
		run := model.ProbeResult{
			RunID: fmt.Sprintf("billing-%d", d), Probe: "billing-restore", Kind: "postgres-logical", Env: "prod", Dataset: "billing",
			Source: "pg", BackupID: billingBackup(d).ID, RestoredPoint: billingBackup(d).End, Start: start, Duration: 25 * time.Minute, Success: d <= 98,
		}
		if !run.Success {
			run.Error = "pg_restore: could not read archive"
		}
		out = append(out, run)
	}
	return out
}

// writeEstate writes the estate's history and configuration into dir and
// returns the configuration's path.
func writeEstate(t testing.TB, dir string) string {
	t.Helper()
	cfgPath := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfgPath, []byte(estateConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	now := estateStart()
	w, err := history.Open(filepath.Join(dir, "history"), history.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for ; !now.After(estateEnd()); now = now.Add(12 * time.Hour) {
		pg, files := catalogs(now)
		if _, err := w.AppendCatalog("pg", &pg); err != nil {
			t.Fatal(err)
		}
		if _, err := w.AppendCatalog("files", &files); err != nil {
			t.Fatal(err)
		}
		var due []model.ProbeResult
		for _, p := range estateProbes() {
			if !p.Start.After(now) && now.Sub(p.Start) < 12*time.Hour {
				due = append(due, p)
			}
		}
		if err := w.AppendProbes(due...); err != nil {
			t.Fatal(err)
		}
		if now.Hour() == 0 {
			if err := w.Compact(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return cfgPath
}
