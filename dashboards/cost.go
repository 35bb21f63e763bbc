package dashboards

import (
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
	"github.com/grafana/grafana-foundation-sdk/go/units"
)

// moneyUnit shows amounts as the bills give them: the currency is a label
// (a bill may be in any currency), shown in each legend.
const moneyUnit = unitNone

// Cost shows what backups cost from the bills, the requests made against
// their stores and what the exporter's own API requests cost.
//
// The bills' figures are billed cost, never estimates, their request
// lines' included; the request costs of CloudWatch counts and the
// exporter's own are estimated from the price table (docs/metrics.md says
// which is which). Cost series are
// summed per source, never across sources: a Cost Explorer source and a
// CUR source of the same account report the same spend twice. Its env
// variable's "All" is every value, so that the lines no attribution names
// (env "") show with it.
func Cost() *dashboard.DashboardBuilder {
	return newDashboard("restorable-cost", "Restorable / Cost",
		"What storing backups costs according to the bills, the requests made against their buckets, what the bills could not be read for, and what the exporter's own API requests cost.").
		WithVariable(envVariable().AllValue(".*")).
		WithRow(dashboard.NewRowBuilder("Storage cost (from the bills)")).
		WithPanel(storageCostThisMonth()).
		WithPanel(costLastDay()).
		WithPanel(costThisMonthByCategory()).
		WithPanel(unattributedCost()).
		WithPanel(billsReach()).
		WithRow(dashboard.NewRowBuilder("Bill rows")).
		WithPanel(rejectedBillShare()).
		WithPanel(rejectedBillRows()).
		WithPanel(billRowsByStatus()).
		WithRow(dashboard.NewRowBuilder("Requests (S3 request metrics and the bills)")).
		WithPanel(requestsPerDay()).
		WithPanel(requestCostPerDay()).
		WithRow(dashboard.NewRowBuilder("The exporter's own API requests")).
		WithPanel(exporterAPICostPerDay()).
		WithPanel(exporterAPICostProjected()).
		WithPanel(exporterIntervalWithinBudget())
}

// unattributed names the env of cost lines that no attribution names.
func unattributed(expr string) string {
	return `label_replace(` + expr + `, "env", "unattributed", "env", "")`
}

func storageCostThisMonth() *timeseries.PanelBuilder {
	return defaultTimeseries("Storage cost this month by environment and class",
		"Billed storage cost of the newest month of each billing source's bills, by environment and storage class (restorable_billing_cost_month_to_date, category storage). It grows through the month as bills arrive; lines no bucket mapping or tag attributes show as unattributed.",
		moneyUnit).
		Min(0).
		Targets(targets(promQuery(unattributed(`sum by (source, env, storage_class, currency) (restorable_billing_cost_month_to_date{env=~"$env", category="storage"})`), "{{source}}: {{env}} {{storage_class}} ({{currency}})")))
}

func costLastDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Cost of the bills' newest day by environment and category",
		"Billed cost of the newest UTC day each billing source's bills cover, by environment and category (restorable_billing_cost_last_day): the daily run rate. Bills arrive a day or more late: the day is the newest the bill covers, not today.",
		moneyUnit).
		Min(0).
		Targets(targets(promQuery(unattributed(`sum by (source, env, category, currency) (restorable_billing_cost_last_day{env=~"$env"})`), "{{source}}: {{env}} {{category}} ({{currency}})")))
}

func costThisMonthByCategory() *timeseries.PanelBuilder {
	return defaultTimeseries("Cost this month by category",
		"Billed cost of the newest month of the bills by category: storage, requests, retrieval, early_delete (deleted or moved before the class's minimum duration), transition (lifecycle moves), transfer and other.",
		moneyUnit).
		Min(0).
		Targets(targets(promQuery(`sum by (source, category, currency) (restorable_billing_cost_month_to_date{env=~"$env"})`, "{{source}}: {{category}} ({{currency}})")))
}

func unattributedCost() *stat.PanelBuilder {
	return defaultStat("Unattributed cost this month",
		"Billed cost of the newest month on lines that no bucket mapping or tag of the source's attribution names; they belong to no environment, so this panel ignores the environment selection. Add the bucket or vault to attribution.buckets, or tag it.",
		moneyUnit).
		Span(6).
		ColorMode(common.BigValueColorModeNone).
		Targets(targets(instantQuery(`sum by (source, currency) (restorable_billing_cost_month_to_date{env=""})`, "{{source}} ({{currency}})")))
}

func billsReach() *stat.PanelBuilder {
	return defaultStat("Age of the newest billed period",
		"Time since the end of the newest period each source's bills charge. Bills arrive a day or more late; an age that keeps growing means the export or the collection stopped, and the cost panels show an old month.",
		units.Seconds).
		Span(6).
		Thresholds(thresholds(base("green"), from(3*86400, "orange"), from(7*86400, "red"))).
		Targets(targets(instantQuery(`time() - restorable_billing_period_end_timestamp_seconds`, "{{source}}")))
}

func rejectedBillRows() *timeseries.PanelBuilder {
	return defaultTimeseries("Rejected bill rows by reason",
		"Rows of storage and backup services that a billing source could not read (restorable_billing_rejected_rows), by reason: their cost is missing from every cost panel. Only reasons with rows show; `analyze import billing FILE` prints the same counts per file.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (source, reason) (restorable_billing_rejected_rows) > 0`, "{{source}}: {{reason}}")))
}

func rejectedBillShare() *stat.PanelBuilder {
	return defaultStat("Share of in-scope rows rejected",
		"Rejected rows of each billing source against the rows of storage and backup services it read (kept and rejected; out-of-scope rows left out). Above 0 the bills' storage cost is understated.",
		units.PercentUnit).
		Span(24).
		Thresholds(thresholds(base("green"), from(0.0001, "orange"), from(0.01, "red"))).
		Targets(targets(instantQuery(`sum by (source) (restorable_billing_rows{status="rejected"}) / sum by (source) (restorable_billing_rows{status=~"kept|rejected"})`, "{{source}}")))
}

func billRowsByStatus() *timeseries.PanelBuilder {
	return defaultTimeseries("Bill rows by status",
		"Rows of the bill files each billing source holds: kept (the cost lines), out_of_scope (services no mapping rule names: compute, databases...) and rejected; the three sum to the rows read.",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (source, status) (restorable_billing_rows)`, "{{source}}: {{status}}")))
}

func requestsPerDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Requests per day by bucket and operation",
		"Requests per day at the rate of the latest period each source reported (restorable_requests over restorable_requests_period_seconds), by bucket and operation: from S3's CloudWatch request metrics of the configured buckets (origin cloudwatch, one period a day; AllRequests counts every operation again), and from the bills' request lines (origin bill, the bill's period, often an hour; operation the usage type, such as Requests-Tier1, or the charge description of a FOCUS export without x_UsageType; no bucket when the bill names none).",
		units.Short).
		Min(0).
		Targets(targets(promQuery(`sum by (origin, source, env, resource, operation) (restorable_requests{env=~"$env"} / restorable_requests_period_seconds{env=~"$env"}) * 86400`, "{{source}}: {{env}} {{resource}} {{operation}}")))
}

func requestCostPerDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Request cost per day by bucket and operation",
		"Cost per day of those requests: for CloudWatch counts estimated from the price table's tier-1 or tier-2 price of the bucket's storage class (DELETE is free; AllRequests mixes tiers and has no price), for the bills' request lines what the bill charged.",
		moneyUnit).
		Min(0).
		Targets(targets(promQuery(`sum by (origin, source, env, resource, operation, currency) (restorable_requests_cost{env=~"$env"} / ignoring (currency) group_left restorable_requests_period_seconds{env=~"$env"}) * 86400`, "{{source}}: {{env}} {{resource}} {{operation}} ({{currency}})")))
}

func exporterAPICostPerDay() *timeseries.PanelBuilder {
	return defaultTimeseries("Exporter API cost per day by source and operation",
		"Estimated cost per day of the API requests the exporter's collections make (Cost Explorer GetCostAndUsage, CloudWatch GetMetricData), from the price table; failed collections count too, their requests being billed.",
		moneyUnit).
		Min(0).
		Targets(targets(promQuery(`sum by (source, operation, currency) (rate(restorable_collector_api_cost_estimated_total[$__rate_interval])) * 86400`, "{{source}} {{operation}} ({{currency}})")))
}

func exporterAPICostProjected() *timeseries.PanelBuilder {
	return defaultTimeseries("Exporter API cost per month vs budget",
		"What a month of collections of each priced source costs at its configured interval (the last successful collection's cost × 730 h / interval); the dashed lines are the sources' api_budget, above which RestorableAPIBudgetExceeded fires.",
		moneyUnit).
		Min(0).
		Targets(targets(
			promQuery(`restorable_collector_api_cost_monthly_projected`, "{{source}} ({{currency}})"),
			promQuery(`restorable_collector_api_budget_monthly`, "budget {{source}} ({{currency}})"),
		)).
		OverrideByQuery("B", targetLineStyle())
}

func exporterIntervalWithinBudget() *timeseries.PanelBuilder {
	return defaultTimeseries("Collection interval vs the shortest within budget",
		"The configured interval of each source that has an API budget, and the shortest interval whose collections stay within it (dashed, restorable_collector_recommended_interval_seconds): an interval below the dashed line spends more than the budget.",
		units.Seconds).
		Span(24).
		Targets(targets(
			promQuery(`restorable_collector_interval_seconds and on (source, type) restorable_collector_recommended_interval_seconds`, "{{source}} interval"),
			promQuery(`restorable_collector_recommended_interval_seconds`, "shortest within budget {{source}}"),
		)).
		OverrideByQuery("B", targetLineStyle())
}
