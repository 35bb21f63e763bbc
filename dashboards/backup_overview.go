package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/bargauge"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// BackupOverview shows, per environment, whether the last good backups are
// within the RPO, how many releases stay restorable and what failed.
func BackupOverview() *dashboard.DashboardBuilder {
	return newDashboard("restorable-backup-overview", "Restorable / Backup overview",
		"Freshness, retention and failures of backups against each environment's policy.").
		WithVariable(envVariable()).
		WithRow(dashboard.NewRowBuilder("Recovery point")).
		WithPanel(rpoCompliance()).
		WithPanel(failedLastAttempts()).
		WithPanel(deployGate()).
		WithPanel(rpoShareUsed()).
		WithPanel(lastGoodBackupAge()).
		WithRow(dashboard.NewRowBuilder("Retention")).
		WithPanel(releasesRetained()).
		WithPanel(oldestRetainedBackupAge()).
		WithRow(dashboard.NewRowBuilder("Backups")).
		WithPanel(backupsByStatus()).
		WithPanel(lastBackupDuration()).
		WithRow(dashboard.NewRowBuilder("Protection")).
		WithPanel(unencryptedWhereRequired()).
		WithPanel(mutableWhereRequired()).
		WithPanel(keyOutsideAllowlist())
}

// lastGoodBackupAgeExpr is the age of the newest successful backup of any
// type, per dataset, as the RPO alert computes it.
const lastGoodBackupAgeExpr = `time() - max by (env, source, dataset) (restorable_backup_last_success_timestamp_seconds{env=~"$env"})`

func rpoCompliance() *stat.PanelBuilder {
	return defaultStat("Datasets within RPO",
		"Share of datasets whose newest successful backup (any type) is younger than the environment's RPO. Below 100% the RestorableBackupRPOBreached alert fires and deploys are held.",
		units.PercentUnit).
		Span(12).
		Thresholds(thresholds(base("red"), from(1, "green"))).
		Targets(targets(instantQuery(`sum by (env) (
  (`+lastGoodBackupAgeExpr+`)
  <= bool on (env) group_left
  min by (env) (restorable_policy_rpo_seconds)
)
/
count by (env) (max by (env, source, dataset) (restorable_backup_last_success_timestamp_seconds{env=~"$env"}))`, "{{env}}")))
}

func failedLastAttempts() *stat.PanelBuilder {
	return defaultStat("Datasets whose last backup failed",
		"Datasets whose newest finished backup attempt failed or was partial. Each one holds deploys of its environment (RestorableBackupFailed).",
		units.Short).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`sum by (env) (1 - restorable_backup_last_attempt_success{env=~"$env"})`, "{{env}}")))
}

func deployGate() *stat.PanelBuilder {
	return defaultStat("Deploy gate",
		"Whether the deploy gate of each environment allows a release now (restorable_deploy_gate_open); the exporter's /api/v1/gate gives the reasons.",
		unitNone).
		Mappings(boolMappings("closed", "red", "open", "green")).
		Targets(targets(instantQuery(`restorable_deploy_gate_open{env=~"$env"}`, "{{env}}")))
}

func rpoShareUsed() *bargauge.PanelBuilder {
	return defaultBarGauge("Age of last good backup, share of RPO",
		"Age of each dataset's newest successful backup divided by its environment's RPO: at 100% the RPO is breached.",
		units.PercentUnit).
		Thresholds(ratioThresholds()).
		Targets(targets(instantQuery(`(`+lastGoodBackupAgeExpr+`)
/ on (env) group_left
min by (env) (restorable_policy_rpo_seconds)`, "{{env}} / {{source}} / {{dataset}}")))
}

func lastGoodBackupAge() *timeseries.PanelBuilder {
	return defaultTimeseries("Age of last good backup",
		"Age of each dataset's newest successful backup of any type; the dashed lines are the RPO of each environment.",
		units.Seconds).
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

func unencryptedWhereRequired() *stat.PanelBuilder {
	return defaultStat("Unencrypted where required",
		"Datasets whose newest successful backup is not encrypted in environments whose policy requires encryption (RestorableBackupUnencrypted).",
		units.Short).
		Span(8).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`sum by (env) (
  (1 - restorable_backup_last_encrypted{env=~"$env"})
  * on (env) group_left
  max by (env) (restorable_policy_encryption_required)
)`, "{{env}}")))
}

func mutableWhereRequired() *stat.PanelBuilder {
	return defaultStat("Mutable where required",
		"Datasets whose newest successful backup can be changed or deleted in environments whose policy requires immutability (RestorableBackupMutable).",
		units.Short).
		Span(8).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`sum by (env) (
  (1 - restorable_backup_last_immutable{env=~"$env"})
  * on (env) group_left
  max by (env) (restorable_policy_immutability_required)
)`, "{{env}}")))
}

func keyOutsideAllowlist() *stat.PanelBuilder {
	return defaultStat("KMS key outside the allowlist",
		"Datasets whose newest successful backup is encrypted with a KMS key the environment's policy does not allow (RestorableBackupKeyNotAllowed).",
		units.Short).
		Span(8).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`sum by (env) (1 - restorable_backup_last_key_allowed{env=~"$env"})`, "{{env}}")))
}
