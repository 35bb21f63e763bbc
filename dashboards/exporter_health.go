package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// ExporterHealth shows whether the exporter and its collectors work, and
// what collecting costs: external calls and bytes read.
//
// Collector metrics are labelled by source, not env, so this dashboard
// filters on source.
func ExporterHealth() *dashboard.DashboardBuilder {
	return newDashboard("restorable-exporter-health", "Restorable / Exporter health",
		"The exporter itself: scrape target, configuration, collectors, the calls they make and the history it writes.").
		WithVariable(labelVariable("source", "Source", "restorable_collector_success",
			"Configured backup sources.")).
		WithRow(dashboard.NewRowBuilder("Exporter")).
		WithPanel(exporterUp()).
		WithPanel(configReload()).
		WithPanel(lastConfigReload()).
		WithPanel(exporterVersion()).
		WithRow(dashboard.NewRowBuilder("Collectors")).
		WithPanel(collectorSuccess()).
		WithPanel(collectorSuccessAge()).
		WithPanel(collectorDuration()).
		WithPanel(collectorErrorsByKind()).
		WithPanel(collectorRuns()).
		WithRow(dashboard.NewRowBuilder("Cost of collecting")).
		WithPanel(externalCalls()).
		WithPanel(bytesRead()).
		WithRow(dashboard.NewRowBuilder("History")).
		WithPanel(historyRowsWritten()).
		WithPanel(historyWriteErrors())
}

func exporterUp() *stat.PanelBuilder {
	return defaultStat("Exporter up",
		`Whether Prometheus can scrape each exporter of job "restorable" (RestorableExporterDown).`,
		unitNone).
		Mappings(boolMappings("down", "red", "up", "green")).
		Targets(targets(instantQuery(`up{job="restorable"}`, "{{instance}}")))
}

func configReload() *stat.PanelBuilder {
	return defaultStat("Configuration",
		"Whether the exporter accepted the configuration at its last reload (RestorableConfigReloadFailed).",
		unitNone).
		Mappings(boolMappings("rejected", "red", "loaded", "green")).
		Targets(targets(instantQuery(`restorable_config_last_reload_successful`, "{{instance}}")))
}

func lastConfigReload() *stat.PanelBuilder {
	return defaultStat("Last successful reload",
		"When the exporter last loaded its configuration successfully.",
		units.DateTimeFromNow).
		ColorMode(common.BigValueColorModeNone).
		Targets(targets(instantQuery(`restorable_config_last_reload_success_timestamp_seconds * 1000`, "{{instance}}")))
}

func exporterVersion() *stat.PanelBuilder {
	return defaultStat("Version",
		"Version and revision of each running exporter.",
		unitNone).
		ColorMode(common.BigValueColorModeNone).
		TextMode(common.BigValueTextModeName).
		Targets(targets(instantQuery(`restorable_build_info`, "{{version}} ({{revision}})")))
}

func collectorSuccess() *stat.PanelBuilder {
	return defaultStat("Last collection",
		"Whether the last collection of each source succeeded (RestorableCollectorFailing); a failing source keeps serving its last catalog.",
		unitNone).
		Span(24).
		Mappings(boolMappings("failed", "red", "succeeded", "green")).
		Targets(targets(instantQuery(`restorable_collector_success{source=~"$source"}`, "{{source}} ({{type}})")))
}

func collectorSuccessAge() *timeseries.PanelBuilder {
	return defaultTimeseries("Time since last successful collection",
		"Age of each source's last successful collection; the dashed lines are three collection intervals, beyond which RestorableCollectorStale fires.",
		units.Seconds).
		Targets(targets(
			promQuery(`time() - restorable_collector_last_success_timestamp_seconds{source=~"$source"}`, "{{source}} ({{type}})"),
			promQuery(`3 * restorable_collector_interval_seconds{source=~"$source"}`, "stale {{source}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func collectorDuration() *timeseries.PanelBuilder {
	return defaultTimeseries("Collection duration",
		"How long the last collection of each source took; close to the source's timeout means collections are about to fail.",
		units.Seconds).
		Targets(targets(promQuery(`restorable_collector_duration_seconds{source=~"$source"}`, "{{source}} ({{type}})")))
}

func collectorErrorsByKind() *timeseries.PanelBuilder {
	return defaultTimeseries("Collection errors by kind",
		"Failed collections per source and kind (not_found, timeout, exit, parse, io, config, canceled, other) in each interval.",
		units.Short).
		Min(0).
		DrawStyle(common.GraphDrawStyleBars).
		Targets(targets(promQuery(`sum by (source, kind) (increase(restorable_collector_errors_total{source=~"$source"}[$__rate_interval]))`, "{{source}} {{kind}}")))
}

func collectorRuns() *timeseries.PanelBuilder {
	return defaultTimeseries("Collections per hour",
		"Collections of each source per hour, successful or not.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (source) (rate(restorable_collector_runs_total{source=~"$source"}[$__rate_interval])) * 3600`, "{{source}}")))
}

func externalCalls() *timeseries.PanelBuilder {
	return defaultTimeseries("External calls per hour",
		"Calls the collectors make to programs and APIs per hour, by source and operation: what the exporter costs the systems it watches.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (source, operation) (rate(restorable_collector_external_calls_total{source=~"$source"}[$__rate_interval])) * 3600`, "{{source}} {{operation}}")))
}

func bytesRead() *timeseries.PanelBuilder {
	return defaultTimeseries("Bytes read by collectors",
		"Bytes per second the collectors' child programs read (restic, pgbackrest, ...).",
		units.BytesPerSecondIEC).
		Min(0).
		Targets(targets(promQuery(`sum by (source) (rate(restorable_collector_read_bytes_total{source=~"$source"}[$__rate_interval]))`, "{{source}}")))
}

func historyRowsWritten() *timeseries.PanelBuilder {
	return defaultTimeseries("History rows written per hour",
		"Rows the exporter appends to its long-term history per hour, by table.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (table) (rate(restorable_history_rows_written_total[$__rate_interval])) * 3600`, "{{table}}")))
}

func historyWriteErrors() *timeseries.PanelBuilder {
	return defaultTimeseries("History write errors",
		"Failed history writes in each interval; each one is a gap in the evidence for reviews and audits (RestorableHistoryWriteErrors).",
		units.Short).
		Min(0).
		DrawStyle(common.GraphDrawStyleBars).
		Targets(targets(promQuery(`sum by (instance) (increase(restorable_history_write_errors_total[$__rate_interval]))`, "{{instance}}")))
}
