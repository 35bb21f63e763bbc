package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

const (
	// tag groups the dashboards, so each links to the others.
	tag = "restorable"
	// datasourceUID points every query at the data source variable.
	datasourceUID = "${datasource}"
	// ratioUnit shows deduplication and compression factors as "2.5x".
	ratioUnit = "suffix:x"
)

func datasourceRef() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr(datasourceUID)}
}

// newDashboard holds what every Restorable dashboard shares: tags, links to
// the other dashboards, time settings and the data source variable.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder(title).
		Uid(uid).
		Description(description).
		Tags([]string{tag}).
		Editable().
		Refresh("1m").
		Time("now-7d", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Link(dashboard.NewDashboardLinkBuilder("Restorable").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{tag}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true)).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus"))
}

// labelVariable is a multi-value variable over the values of label on
// metric, "All" by default.
func labelVariable(name, label, metric, description string) *dashboard.QueryVariableBuilder {
	query := "label_values(" + metric + ", " + name + ")"
	return dashboard.NewQueryVariableBuilder(name).
		Label(label).
		Description(description).
		Datasource(datasourceRef()).
		Query(dashboard.StringOrMap{String: cog.ToPtr(query)}).
		Definition(query).
		Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
		Sort(dashboard.VariableSortAlphabeticalAsc).
		Multi(true).
		IncludeAll(true).
		Current(dashboard.VariableOption{
			Selected: cog.ToPtr(true),
			Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
			Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
		})
}

// envVariable selects environments; every env-labelled query filters on it.
func envVariable() *dashboard.QueryVariableBuilder {
	return labelVariable("env", "Environment", "restorable_policy_rpo_seconds",
		"Environments that have a backup policy.")
}

// promQuery is a range query over the data source variable.
func promQuery(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasourceRef()).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// instantQuery is a query for panels that show only the current value.
func instantQuery(expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasourceRef()).
		Expr(expr).
		LegendFormat(legend).
		Instant()
}

// targets gives the queries of one panel the reference ids A, B, C... in
// order; Grafana needs distinct ids to keep queries, overrides and
// transformations apart.
func targets(queries ...*prometheus.DataqueryBuilder) []cog.Builder[variants.Dataquery] {
	out := make([]cog.Builder[variants.Dataquery], 0, len(queries))
	for i, q := range queries {
		out = append(out, q.RefId(string(rune('A'+i))))
	}
	return out
}

func defaultTimeseries(title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		Height(8).
		Span(12).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

func defaultStat(title, description, unit string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		Height(4).
		Span(6).
		Orientation(common.VizOrientationAuto).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeNone).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}))
}

// step is a threshold: from value on (nil for the base), color applies.
type step struct {
	value *float64
	color string
}

func from(v float64, color string) step { return step{value: &v, color: color} }

func base(color string) step { return step{color: color} }

func thresholds(steps ...step) *dashboard.ThresholdsConfigBuilder {
	v := thresholdsValue(steps...)
	return dashboard.NewThresholdsConfigBuilder().Mode(v.Mode).Steps(v.Steps)
}

// thresholdsValue is thresholds as an override's value, for panels whose
// queries need different colours.
func thresholdsValue(steps ...step) dashboard.ThresholdsConfig {
	ts := make([]dashboard.Threshold, 0, len(steps))
	for _, s := range steps {
		ts = append(ts, dashboard.Threshold{Value: s.value, Color: s.color})
	}
	return dashboard.ThresholdsConfig{Mode: dashboard.ThresholdsModeAbsolute, Steps: ts}
}

// zeroIsGood colours a count of problems: green at zero, red from one.
func zeroIsGood() *dashboard.ThresholdsConfigBuilder {
	return thresholds(base("green"), from(1, "red"))
}

// boolMappings names the two values of a 0/1 gauge.
func boolMappings(zero, zeroColor, one, oneColor string) []dashboard.ValueMapping {
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{
		Type: dashboard.MappingTypeValueToText,
		Options: map[string]dashboard.ValueMappingResult{
			"0": {Text: cog.ToPtr(zero), Color: cog.ToPtr(zeroColor), Index: cog.ToPtr[int32](0)},
			"1": {Text: cog.ToPtr(one), Color: cog.ToPtr(oneColor), Index: cog.ToPtr[int32](1)},
		},
	}}}
}

// unitNone is for panels whose values are names (through mappings) or plain
// counts without a dimension.
const unitNone = units.NoUnit

// targetLineStyle draws the series of one query as a dashed line, to set a
// policy target apart from the measurements compared with it.
func targetLineStyle() []dashboard.DynamicConfigValue {
	return []dashboard.DynamicConfigValue{
		{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		{Id: "custom.fillOpacity", Value: 0},
	}
}
