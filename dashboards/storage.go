package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// Storage shows what the backups occupy, how fast that grows and how well
// deduplication and compression work.
//
// Its first row needs backups only, so that every source type fills it
// (a manifest of backups alone included); the repository rows need
// repository facts, which restic, pgBackRest and manifests with
// repository records give (docs/metrics.md lists which source gives
// which metric). The exporter labels repositories by env, source and
// dataset, not by storage class; the cost per class comes from the bills
// and is on the Cost dashboard.
func Storage() *dashboard.DashboardBuilder {
	return newDashboard("restorable-storage", "Restorable / Storage",
		"Bytes stored by the backups and their repositories, their growth and their deduplication and compression.").
		WithVariable(envVariable()).
		WithRow(dashboard.NewRowBuilder("From the backups (every source type)")).
		WithPanel(newestBackupsStoredByDataset()).
		WithPanel(newestBackupSizeByDataset()).
		WithPanel(retainedBackupsByDataset()).
		WithPanel(newestBackupRestoreBytes()).
		WithRow(dashboard.NewRowBuilder("Stored bytes of the repositories")).
		WithPanel(storedBytesByEnv()).
		WithPanel(storedBytesByDataset()).
		WithPanel(logicalVsStoredBytes()).
		WithPanel(newestBackupStoredBytesByType()).
		WithRow(dashboard.NewRowBuilder("Growth")).
		WithPanel(growthTrendPerDay()).
		WithPanel(changeOverDay()).
		WithRow(dashboard.NewRowBuilder("Efficiency and health")).
		WithPanel(dedupRatio()).
		WithPanel(compressionRatio()).
		WithPanel(unhealthyRepositories()).
		WithPanel(lockedRepositories()).
		WithPanel(runningBackupProgress())
}

func newestBackupsStoredByDataset() *timeseries.PanelBuilder {
	return defaultTimeseries("Stored bytes of the newest backups by dataset",
		"Bytes the newest successful backup of each type added to storage, summed per dataset: from the backups alone, so every source type shows here.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`sum by (env, source, dataset) (restorable_backup_last_stored_bytes{env=~"$env"})`, "{{env}} / {{source}} / {{dataset}}")))
}

func newestBackupSizeByDataset() *timeseries.PanelBuilder {
	return defaultTimeseries("Size of the data backed up by dataset",
		"Logical size of the newest successful backup of each dataset (the largest over its types): how much data there is to protect and to restore.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`max by (env, source, dataset) (restorable_backup_last_size_bytes{env=~"$env"})`, "{{env}} / {{source}} / {{dataset}}")))
}

func retainedBackupsByDataset() *timeseries.PanelBuilder {
	return defaultTimeseries("Backups retained by dataset",
		"Successful backups in each dataset's catalog: what retention keeps and storage pays for.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (env, source, dataset) (restorable_backups{env=~"$env", status="succeeded"})`, "{{env}} / {{source}} / {{dataset}}")))
}

func newestBackupRestoreBytes() *timeseries.PanelBuilder {
	return defaultTimeseries("Bytes a restore of the newest backup reads",
		"What a restore of the newest backup of each type reads from its repository, the backups it references included (pgBackRest); against its stored bytes, the cost of a long incremental chain.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`max by (env, dataset, backup_type) (restorable_backup_last_restore_bytes{env=~"$env"})`, "{{env}} / {{dataset}} {{backup_type}}")))
}

func runningBackupProgress() *stat.PanelBuilder {
	return defaultStat("Running backups",
		"Completed fraction of each backup running now, where the source reports it (pgBackRest); empty while none runs.",
		units.PercentUnit).
		Span(12).
		ColorMode(common.BigValueColorModeNone).
		Targets(targets(instantQuery(`restorable_repository_backup_progress_ratio{env=~"$env"}`, "{{env}} / {{repository}}")))
}

func storedBytesByEnv() *timeseries.PanelBuilder {
	return defaultTimeseries("Stored bytes by environment",
		"Bytes all backup repositories of each environment occupy on storage, after deduplication and compression.",
		units.BytesIEC).
		Min(0).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Targets(targets(promQuery(`sum by (env) (restorable_repository_stored_bytes{env=~"$env"})`, "{{env}}")))
}

func storedBytesByDataset() *timeseries.PanelBuilder {
	return defaultTimeseries("Stored bytes by dataset",
		"Bytes the repositories of each source and dataset occupy on storage.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`sum by (env, source, dataset) (restorable_repository_stored_bytes{env=~"$env"})`, "{{env}} / {{source}} / {{dataset}}")))
}

func logicalVsStoredBytes() *timeseries.PanelBuilder {
	return defaultTimeseries("Logical vs stored bytes",
		"Bytes the repositories represent (logical) against the bytes they occupy (stored); the gap is what deduplication and compression save.",
		units.BytesIEC).
		Min(0).
		Targets(targets(
			promQuery(`sum by (env) (restorable_repository_logical_bytes{env=~"$env"})`, "logical {{env}}"),
			promQuery(`sum by (env) (restorable_repository_stored_bytes{env=~"$env"})`, "stored {{env}}"),
		))
}

func newestBackupStoredBytesByType() *timeseries.PanelBuilder {
	return defaultTimeseries("Stored bytes of the newest backup by type",
		"Bytes the newest successful backup of each type added to storage: what one more full, incremental or WAL backup costs.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`sum by (env, backup_type) (restorable_backup_last_stored_bytes{env=~"$env"})`, "{{env}} {{backup_type}}")))
}

func growthTrendPerDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Growth per day (6 h trend)",
		"Per-day growth of the stored bytes of each dataset, from a linear fit over the last 6 hours; negative while retention removes more than backups add.",
		units.BytesIEC).
		Targets(targets(promQuery(`sum by (env, dataset) (deriv(restorable_repository_stored_bytes{env=~"$env"}[6h])) * 86400`, "{{env}} / {{dataset}}")))
}

func changeOverDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Change over 24 h",
		"Difference between the stored bytes of each dataset now and 24 hours earlier.",
		units.BytesIEC).
		Targets(targets(promQuery(`sum by (env, dataset) (delta(restorable_repository_stored_bytes{env=~"$env"}[1d]))`, "{{env}} / {{dataset}}")))
}

func dedupRatio() *timeseries.PanelBuilder {
	return defaultTimeseries("Deduplication ratio",
		"Logical bytes per unique byte of each repository, as its source reports it; 1x means nothing is deduplicated.",
		ratioUnit).
		Min(1).
		Targets(targets(promQuery(`restorable_repository_dedup_ratio{env=~"$env"}`, "{{env}} / {{source}} / {{repository}}")))
}

func compressionRatio() *timeseries.PanelBuilder {
	return defaultTimeseries("Compression ratio",
		"Uncompressed bytes per compressed byte of each repository, as its source reports it; 1x means no compression.",
		ratioUnit).
		Min(1).
		Targets(targets(promQuery(`restorable_repository_compression_ratio{env=~"$env"}`, "{{env}} / {{source}} / {{repository}}")))
}

func unhealthyRepositories() *stat.PanelBuilder {
	return defaultStat("Unhealthy repositories",
		"Repositories their source reports as unhealthy; restores from them may fail (RestorableRepositoryUnhealthy).",
		units.Short).
		Span(12).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`sum by (env) (1 - restorable_repository_healthy{env=~"$env"})`, "{{env}}")))
}

func lockedRepositories() *stat.PanelBuilder {
	return defaultStat("Repositories locked by a backup",
		"Repositories a running backup holds locked right now; a lock that never clears blocks the next backups.",
		units.Short).
		Span(12).
		ColorMode(common.BigValueColorModeNone).
		Targets(targets(instantQuery(`sum by (env) (restorable_repository_backup_locked{env=~"$env"})`, "{{env}}")))
}
