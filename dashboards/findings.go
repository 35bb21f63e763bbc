package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
)

// The panels in this file show the exporter's policy findings
// (restorable_policy_finding, restorable_policy_findings) instead of
// re-deriving a check from raw metrics and policy targets in PromQL: the
// policy is decided once, by the exporter, so a panel cannot disagree with
// the alerts, the gate or `analyze findings`.

// findingEnvMatcher filters finding series on the env variable. A finding
// that compares environments (agent_drift) carries all of them in env,
// joined with commas, so it shows when any of them is selected; Grafana
// expands a multi-value $env to (a|b), which the group keeps whole.
const findingEnvMatcher = `env=~"(.*,)?($env)(,.*)?"`

// severityColor is the colour of a finding severity, everywhere one is
// shown.
type severityColor struct{ severity, color string }

// severityColors lists the severities from most to least urgent.
func severityColors() []severityColor {
	return []severityColor{{"critical", "red"}, {"warning", "orange"}, {"info", "blue"}}
}

// findingsTable lists the open findings whose check matches checkMatcher
// (a PromQL label matcher such as `check=~"restore_test.*"`, or "" for
// every check), one row per check and dataset.
func findingsTable(title, description, checkMatcher string) *table.PanelBuilder {
	selector := findingEnvMatcher
	if checkMatcher != "" {
		selector = checkMatcher + ", " + selector
	}
	mappings := make(map[string]dashboard.ValueMappingResult, len(severityColors()))
	for i, s := range severityColors() {
		mappings[s.severity] = dashboard.ValueMappingResult{Text: cog.ToPtr(s.severity), Color: cog.ToPtr(s.color), Index: cog.ToPtr(int32(i))}
	}
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unitNone).
		Height(8).
		Span(24).
		Filterable(true).
		NoValue("no open findings").
		SortBy([]cog.Builder[common.TableSortByFieldState]{
			common.NewTableSortByFieldStateBuilder().DisplayName("env"),
		}).
		Targets(targets(instantQuery(`restorable_policy_finding{`+selector+`}`, "").
			Format(prometheus.PromQueryFormatTable))).
		// An instant table query returns one column per label plus Time and
		// Value; the scrape's job and instance say nothing about the finding.
		WithTransformation(dashboard.DataTransformerConfig{
			Id: "organize",
			Options: map[string]any{
				"excludeByName": map[string]bool{"Time": true, "__name__": true, "job": true, "instance": true},
				"indexByName":   map[string]int{"env": 0, "source": 1, "dataset": 2, "check": 3, "severity": 4, "Value": 5},
				"renameByName":  map[string]string{"Value": "open findings"},
			},
		}).
		OverrideByName("severity", []dashboard.DynamicConfigValue{
			{Id: "mappings", Value: []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
				Type:    dashboard.MappingTypeValueToText,
				Options: mappings,
			}}}},
			{Id: "custom.cellOptions", Value: map[string]any{"type": string(common.TableCellDisplayModeColorText)}},
		})
}

// findingsBySeverity counts the open findings of each environment by
// severity (restorable_policy_findings, which has a 0 for every configured
// environment and severity).
func findingsBySeverity() *stat.PanelBuilder {
	p := defaultStat("Open findings by severity",
		"Open policy findings of each environment by severity, from the exporter's policy evaluation (restorable_policy_findings). Critical and warning findings fire alerts; info findings (archive_after, ephemeral_data) are advice shown only here and in the table below. A finding that compares environments (agent_drift) is counted under all of them, joined with commas.",
		unitNone).
		Span(18)
	var queries []*prometheus.DataqueryBuilder
	for i, s := range severityColors() {
		queries = append(queries, instantQuery(`sum by (env) (restorable_policy_findings{severity="`+s.severity+`", `+findingEnvMatcher+`})`, "{{env}} "+s.severity))
		// Zero is green for every severity; an open finding takes the
		// severity's colour.
		p = p.OverrideByQuery(string(rune('A'+i)), []dashboard.DynamicConfigValue{
			{Id: "thresholds", Value: thresholdsValue(base("green"), from(1, s.color))},
		})
	}
	return p.Targets(targets(queries...))
}

// findingCount is a stat of the datasets of each environment that have an
// open finding of check; environments without one show 0 rather than no
// data, from the gate gauge that every configured environment has.
func findingCount(title, description, check string) *stat.PanelBuilder {
	return defaultStat(title, description, unitNone).
		Thresholds(zeroIsGood()).
		Targets(targets(instantQuery(`count by (env) (restorable_policy_finding{check="`+check+`", env=~"$env"})
or on (env)
0 * max by (env) (restorable_deploy_gate_open{env=~"$env"})`, "{{env}}")))
}
