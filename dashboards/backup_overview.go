package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// BackupOverview shows, per environment, the policy's open findings and
// the deploy gate, then the raw facts behind them: how old the last good
// backups are, how many releases stay restorable and what failed.
func BackupOverview() *dashboard.DashboardBuilder {
	return newDashboard("restorable-backup-overview", "Restorable / Backup overview",
		"Policy findings and the deploy gate of each environment, and the freshness, retention and failures of backups behind them.").
		WithVariable(envVariable()).
		WithRow(dashboard.NewRowBuilder("Policy and deploy gate")).
		WithPanel(deployGate()).
		WithPanel(findingsBySeverity()).
		WithPanel(findingsTable("Policy findings",
			"Every open finding of the exporter's policy evaluation (restorable_policy_finding), one row per check and dataset; open findings counts the releases, probes or repositories of the dataset that breach the check. source is empty for restore_test.overdue (a dataset across its sources); source and dataset are empty for agent_drift, whose env lists the environments it compares. `analyze findings --env ENV` or the exporter's /api/v1/gate say what was expected and observed.",
			"")).
		WithRow(dashboard.NewRowBuilder("Recovery point")).
		WithPanel(rpoFindings()).
		WithPanel(lastFailedFindings()).
		WithPanel(pitrGapFindings()).
		WithPanel(lastGoodBackupAge()).
		WithRow(dashboard.NewRowBuilder("Retention")).
		WithPanel(releasesRetained()).
		WithPanel(oldestRetainedBackupAge()).
		WithRow(dashboard.NewRowBuilder("Backups")).
		WithPanel(backupsByStatus()).
		WithPanel(lastBackupDuration()).
		WithRow(dashboard.NewRowBuilder("Protection")).
		WithPanel(unencryptedFindings()).
		WithPanel(mutableFindings()).
		WithPanel(keyNotAllowedFindings())
}

// lastGoodBackupAgeExpr is the age of the newest successful backup of any
// type, per dataset: a raw fact. Whether it breaches the RPO is the rpo
// check's decision, shown by rpoFindings.
const lastGoodBackupAgeExpr = `time() - max by (env, source, dataset) (restorable_backup_last_success_timestamp_seconds{env=~"$env"})`

func deployGate() *stat.PanelBuilder {
	return defaultStat("Deploy gate",
		"Whether the deploy gate of each environment allows a release now (restorable_deploy_gate_open), from the same evaluation as the findings; the exporter's /api/v1/gate gives the reasons.",
		unitNone).
		Mappings(boolMappings("closed", "red", "open", "green")).
		Targets(targets(instantQuery(`restorable_deploy_gate_open{env=~"$env"}`, "{{env}}")))
}

func rpoFindings() *stat.PanelBuilder {
	return findingCount("Datasets breaching the RPO",
		"Datasets whose newest successful backup (any type) is older than the environment's RPO, or that retain no successful backup any more: open rpo findings. Each one holds deploys of its environment (RestorableBackupRPOBreached).",
		"rpo").
		Span(8)
}

func lastFailedFindings() *stat.PanelBuilder {
	return findingCount("Datasets whose last backup failed",
		"Datasets whose newest finished backup attempt failed or was partial: open backup.last_failed findings. Each one holds deploys of its environment (RestorableBackupFailed).",
		"backup.last_failed").
		Span(8)
}

func pitrGapFindings() *stat.PanelBuilder {
	return findingCount("WAL archive gaps",
		"Database repositories whose WAL archive does not cover their backups or has stopped advancing for longer than the RPO: open pitr.gap findings, counted per dataset. Each one holds deploys of its environment (RestorablePITRGap).",
		"pitr.gap").
		Span(8)
}

func lastGoodBackupAge() *timeseries.PanelBuilder {
	return defaultTimeseries("Age of last good backup",
		"Age of each dataset's newest successful backup of any type; the dashed lines are the RPO of each environment. Datasets whose backups vanished have no line here: they are rpo findings above.",
		units.Seconds).
		Span(24).
		Targets(targets(
			promQuery(lastGoodBackupAgeExpr, "{{env}} / {{source}} / {{dataset}}"),
			promQuery(`min by (env) (restorable_policy_rpo_seconds{env=~"$env"})`, "RPO {{env}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func releasesRetained() *timeseries.PanelBuilder {
	return defaultTimeseries("Releases retained vs required",
		"Distinct release labels among the retained successful backups of each dataset; the dashed lines are the releases each environment's policy requires (RestorableBackupReleasesBelowPolicy).",
		units.Short).
		Min(0).
		Targets(targets(
			promQuery(`restorable_backup_releases_retained{env=~"$env"}`, "{{env}} / {{source}} / {{dataset}}"),
			promQuery(`max by (env) (restorable_policy_releases_required{env=~"$env"})`, "required {{env}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func oldestRetainedBackupAge() *timeseries.PanelBuilder {
	return defaultTimeseries("Oldest retained backup age",
		"Age of the oldest successful backup each dataset still retains: how far back a restore can go.",
		units.Seconds).
		Targets(targets(promQuery(`time() - restorable_backup_oldest_timestamp_seconds{env=~"$env"}`, "{{env}} / {{source}} / {{dataset}}")))
}

func backupsByStatus() *timeseries.PanelBuilder {
	return defaultTimeseries("Backups in the catalogs by status",
		"Backups the sources' catalogs list, by environment and status; a growing failed or partial count means backups keep failing.",
		units.Short).
		Min(0).
		Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).
		Targets(targets(promQuery(`sum by (env, status) (restorable_backups{env=~"$env"})`, "{{env}} {{status}}")))
}

func lastBackupDuration() *timeseries.PanelBuilder {
	return defaultTimeseries("Duration of the newest backup",
		"How long the newest successful backup of each type took; a backup that takes longer than the RPO cannot keep it.",
		units.Seconds).
		Targets(targets(promQuery(`restorable_backup_last_duration_seconds{env=~"$env"}`, "{{env}} / {{dataset}} / {{backup_type}}")))
}

func unencryptedFindings() *stat.PanelBuilder {
	return findingCount("Datasets with unencrypted backups",
		"Datasets that retain backups which are not encrypted (or not with a KMS key) where the environment requires it: open encryption findings. Each one holds deploys of its environment (RestorableBackupUnencrypted).",
		"encryption").
		Span(8)
}

func mutableFindings() *stat.PanelBuilder {
	return findingCount("Datasets with mutable backups",
		"Datasets that retain backups without object lock, append-only mode or vault lock, or whose lock expired, where the environment requires immutability: open immutability findings. Each one holds deploys of its environment (RestorableBackupMutable).",
		"immutability").
		Span(8)
}

func keyNotAllowedFindings() *stat.PanelBuilder {
	return findingCount("Datasets with a KMS key outside the allowlist",
		"Datasets that retain backups encrypted with a KMS key the environment does not allow: open encryption.kms_key findings (RestorableBackupKeyNotAllowed).",
		"encryption.kms_key").
		Span(8)
}
