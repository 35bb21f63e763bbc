package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restorable/restorable/internal/model"
)

// The facts of pgbackrest_exporter are metrics with bounded labels: the
// delta and restore sizes of the newest backup of each type, the database
// version as an _info label, the restore lock and the progress of a
// running backup. A fact the source does not report is an absent series,
// never a 0 that reads as "no restore lock" or "0 % done".
func TestPgBackRestFactMetrics(t *testing.T) {
	full := backup("f1", model.BackupFull, model.StatusSucceeded, t0.Add(-24*time.Hour), "", "")
	full.SetDetails(model.BackupDetail{DeltaBytes: 1000, RestoreBytes: 300})
	incr := backup("i1", model.BackupIncr, model.StatusSucceeded, t0.Add(-time.Hour), "", "")
	incr.SetDetails(model.BackupDetail{DeltaBytes: 20, RestoreBytes: 310})
	running := model.Repository{Source: "db", Env: "prod", Dataset: "payments", Name: "payments", Healthy: true, DatabaseVersion: "15",
		BackupLocked: true, BackupProgressKnown: true, BackupProgress: 0.25, BackupBytesDone: 250, BackupBytesTotal: 1000,
		RestoreLockKnown: true}
	old := model.Repository{Source: "db", Env: "prod", Dataset: "payments", Name: "archive", Healthy: true, DatabaseVersion: "13",
		BackupLocked: true, BackupProgressKnown: true, BackupProgress: 0}
	idle := model.Repository{Source: "db", Env: "prod", Dataset: "payments", Name: "idle", Healthy: true,
		BackupProgressKnown: true, BackupProgress: 0.5}
	reg, _ := setup(t, &model.Catalog{Backups: []model.Backup{full, incr}, Repositories: []model.Repository{running, old, idle}})
	want := `
# HELP restorable_backup_last_delta_bytes Bytes the newest successful backup of this type copied before compression: all of its data for a full, what changed for a diff or incr (pgBackRest info.delta).
# TYPE restorable_backup_last_delta_bytes gauge
restorable_backup_last_delta_bytes{backup_type="full",dataset="payments",env="prod",source="db"} 1000
restorable_backup_last_delta_bytes{backup_type="incr",dataset="payments",env="prod",source="db"} 20
# HELP restorable_backup_last_restore_bytes Bytes a restore of the newest successful backup of this type reads from its repository: the backup and every backup it references (pgBackRest info.repository.size).
# TYPE restorable_backup_last_restore_bytes gauge
restorable_backup_last_restore_bytes{backup_type="full",dataset="payments",env="prod",source="db"} 300
restorable_backup_last_restore_bytes{backup_type="incr",dataset="payments",env="prod",source="db"} 310
# HELP restorable_repository_database_info Version of the database the repository backs up now (PostgreSQL major version for pgBackRest); always 1.
# TYPE restorable_repository_database_info gauge
restorable_repository_database_info{database_version="13",dataset="payments",env="prod",repository="archive",source="db"} 1
restorable_repository_database_info{database_version="15",dataset="payments",env="prod",repository="payments",source="db"} 1
# HELP restorable_repository_restore_locked 1 while a restore holds the repository's lock; only for sources that report restore locks (pgBackRest 2.48 and later).
# TYPE restorable_repository_restore_locked gauge
restorable_repository_restore_locked{dataset="payments",env="prod",repository="payments",source="db"} 0
# HELP restorable_repository_backup_progress_ratio Completed fraction (0 to 1) of the backup running now; present only while one runs and the source reports its progress.
# TYPE restorable_repository_backup_progress_ratio gauge
restorable_repository_backup_progress_ratio{dataset="payments",env="prod",repository="archive",source="db"} 0
restorable_repository_backup_progress_ratio{dataset="payments",env="prod",repository="payments",source="db"} 0.25
# HELP restorable_repository_running_backup_copied_bytes Bytes the backup running now has copied; present only while one runs and the source reports it (pgBackRest 2.48 and later).
# TYPE restorable_repository_running_backup_copied_bytes gauge
restorable_repository_running_backup_copied_bytes{dataset="payments",env="prod",repository="payments",source="db"} 250
# HELP restorable_repository_running_backup_size_bytes Bytes the backup running now will copy in all; present only while one runs and the source reports it (pgBackRest 2.48 and later).
# TYPE restorable_repository_running_backup_size_bytes gauge
restorable_repository_running_backup_size_bytes{dataset="payments",env="prod",repository="payments",source="db"} 1000
`
	names := []string{"restorable_backup_last_delta_bytes", "restorable_backup_last_restore_bytes", "restorable_repository_database_info",
		"restorable_repository_restore_locked", "restorable_repository_backup_progress_ratio",
		"restorable_repository_running_backup_copied_bytes", "restorable_repository_running_backup_size_bytes"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	lint, err := testutil.GatherAndLint(reg, names...)
	if err != nil || len(lint) > 0 {
		t.Errorf("lint: %v %v", lint, err)
	}
}
