package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// RestoreVerification shows what the restore probes proved: whether the
// last restores worked, the policy's open restore findings, how long the
// restores took against the RTO, how old the restored data was and when
// each dataset was last restored.
func RestoreVerification() *dashboard.DashboardBuilder {
	return newDashboard("restorable-restore-verification", "Restorable / Restore verification",
		"Results of the scheduled restore probes against each environment's RTO, RPO and restore-test interval.").
		WithVariable(envVariable()).
		WithRow(dashboard.NewRowBuilder("Probes")).
		WithPanel(probeResult()).
		WithPanel(probeLastRun()).
		WithPanel(findingsTable("Restore findings",
			"Open findings of the restore checks (restorable_policy_finding with check restore_test.*): failed (holds deploys), rto, rpo and overdue. The exporter decides them with the same policy as the alerts and the gate; `analyze findings --env ENV` names the probe and run behind each.",
			`check=~"restore_test.*"`)).
		WithRow(dashboard.NewRowBuilder("Recovery time")).
		WithPanel(measuredRTO()).
		WithRow(dashboard.NewRowBuilder("Recovery point")).
		WithPanel(achievedRPO()).
		WithPanel(verifiedBytes()).
		WithRow(dashboard.NewRowBuilder("Restore-test freshness")).
		WithPanel(lastSuccessfulRestoreAge())
}

// lastRestoreAgeExpr is the time since each dataset was last restored
// successfully by any probe: a raw fact. Whether the restore test is
// overdue is the restore_test.overdue check's decision, in the findings.
const lastRestoreAgeExpr = `time() - max by (env, dataset) (restorable_restore_probe_last_success_timestamp_seconds{env=~"$env"})`

func probeResult() *stat.PanelBuilder {
	return defaultStat("Last probe result",
		"Whether the last run of each restore probe restored and verified its dataset; a failed newest run is a restore_test.failed finding, which holds deploys (RestorableRestoreProbeFailing).",
		unitNone).
		Span(12).
		Mappings(boolMappings("failed", "red", "succeeded", "green")).
		Targets(targets(instantQuery(`restorable_restore_probe_success{env=~"$env"}`, "{{env}} / {{probe}}")))
}

func probeLastRun() *stat.PanelBuilder {
	return defaultStat("Last probe run",
		"When each restore probe last ran, successful or not.",
		units.DateTimeFromNow).
		Span(12).
		ColorMode(common.BigValueColorModeNone).
		Targets(targets(instantQuery(`restorable_restore_probe_last_run_timestamp_seconds{env=~"$env"} * 1000`, "{{env}} / {{probe}}")))
}

func measuredRTO() *timeseries.PanelBuilder {
	return defaultTimeseries("Measured restore time vs RTO",
		"Duration of the last run of each restore probe (the measured RTO); the dashed lines are each environment's RTO. A run slower than its RTO is a restore_test.rto finding (RestorableRTOExceeded).",
		units.Seconds).
		Span(24).
		Targets(targets(
			promQuery(`restorable_restore_probe_duration_seconds{env=~"$env"}`, "{{env}} / {{probe}}"),
			promQuery(`min by (env) (restorable_policy_rto_seconds{env=~"$env"})`, "RTO {{env}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func achievedRPO() *timeseries.PanelBuilder {
	return defaultTimeseries("Achieved RPO vs target",
		"Age of the restored data when each probe run started: the data loss a restore at that moment would have meant. The dashed lines are each environment's RPO.",
		units.Seconds).
		Targets(targets(
			promQuery(`restorable_restore_probe_achieved_rpo_seconds{env=~"$env"}`, "{{env}} / {{probe}}"),
			promQuery(`min by (env) (restorable_policy_rpo_seconds{env=~"$env"})`, "RPO {{env}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func verifiedBytes() *timeseries.PanelBuilder {
	return defaultTimeseries("Verified bytes",
		"Bytes the last run of each restore probe restored and verified; a sudden drop means the probe checked less than before.",
		units.BytesIEC).
		Min(0).
		Targets(targets(promQuery(`restorable_restore_probe_verified_bytes{env=~"$env"}`, "{{env}} / {{probe}}")))
}

func lastSuccessfulRestoreAge() *timeseries.PanelBuilder {
	return defaultTimeseries("Time since last successful restore",
		"Time since any probe last restored each dataset successfully; the dashed lines are each environment's restore-test interval. A dataset beyond it is a restore_test.overdue finding (RestorableRestoreTestOverdue).",
		units.Seconds).
		Span(24).
		Targets(targets(
			promQuery(lastRestoreAgeExpr, "{{env}} / {{dataset}}"),
			promQuery(`min by (env) (restorable_policy_restore_test_interval_seconds{env=~"$env"})`, "interval {{env}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}
