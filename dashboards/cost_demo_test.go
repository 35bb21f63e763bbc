package dashboards

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/restorable/restorable/internal/testutil"
)

// familySeries returns every sample of mfs by its series in PromQL
// notation; histograms and summaries as the exposition format writes them
// (_bucket with le, quantile, _sum, _count).
func familySeries(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.Metric {
			labels := make([]string, 0, len(m.Label)+1)
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			put := func(name string, v float64, extra ...string) {
				out[name+"{"+strings.Join(append(slices.Clip(labels), extra...), ", ")+"}"] = v
			}
			bound := func(label string, f float64) string {
				return label + "=" + strconv.Quote(strconv.FormatFloat(f, 'g', -1, 64))
			}
			switch {
			case m.Gauge != nil:
				put(name, m.Gauge.GetValue())
			case m.Counter != nil:
				put(name, m.Counter.GetValue())
			case m.Untyped != nil:
				put(name, m.Untyped.GetValue())
			case m.Histogram != nil:
				h := m.Histogram
				for _, b := range h.Bucket {
					put(name+"_bucket", float64(b.GetCumulativeCount()), bound("le", b.GetUpperBound()))
				}
				// A gathered histogram leaves its +Inf bucket implicit.
				if n := len(h.Bucket); n == 0 || !math.IsInf(h.Bucket[n-1].GetUpperBound(), 1) {
					put(name+"_bucket", float64(h.GetSampleCount()), bound("le", math.Inf(1)))
				}
				put(name+"_sum", h.GetSampleSum())
				put(name+"_count", float64(h.GetSampleCount()))
			case m.Summary != nil:
				s := m.Summary
				for _, q := range s.Quantile {
					put(name, q.GetValue(), bound("quantile", q.GetQuantile()))
				}
				put(name+"_sum", s.GetSampleSum())
				put(name+"_count", float64(s.GetSampleCount()))
			}
		}
	}
	return out
}

// exposedFamilies parses an exposition-format file, such as the exporter's
// golden /metrics output, with Prometheus's own text parser.
func exposedFamilies(t *testing.T, path string) []*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // test read
	p := expfmt.NewTextParser(model.UTF8Validation)
	byName, err := p.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, mf := range byName {
		out = append(out, mf)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out
}

// promtoolInput turns samples into promtool input series that hold their
// value for 20 minutes at a one-minute interval, long enough for rate().
func promtoolInput(samples map[string]float64) []map[string]string {
	names := make([]string, 0, len(samples))
	for s := range samples {
		names = append(names, s)
	}
	slices.Sort(names)
	out := make([]map[string]string, 0, len(names))
	for _, s := range names {
		v := samples[s]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		// Plain decimals: the series notation reads "+" as its own.
		out = append(out, map[string]string{"series": s, "values": strconv.FormatFloat(v, 'f', -1, 64) + "+0x20"})
	}
	return out
}

// Every panel of the Cost dashboard shows data. The panels the bills fill
// are evaluated over the metrics of the bundled demo (the FOCUS sample and
// a messy export); those only AWS sources fill (the exporter's own API
// cost) over the exporter's golden output, where the AWS APIs are
// replayed, and are checked to be empty on the demo, so that the list
// cannot hide a panel the demo should fill. The request panels show both
// origins: the bills' request lines on the demo, S3's CloudWatch request
// metrics and the bills' on the golden output. The real promtool
// evaluates each query with $env as Grafana sends "All" (.*).
func TestCostPanelsHaveData(t *testing.T) {
	promtool := testutil.Program(t, "promtool")
	both := []string{
		"Requests per day by bucket and operation",
		"Request cost per day by bucket and operation",
	}
	awsOnly := []string{
		"Exporter API cost per day by source and operation",
		"Exporter API cost per month vs budget",
		"Collection interval vs the shortest within budget",
	}
	// absent() of a query is empty when the query returns data, and one
	// sample without labels when it returns none.
	hasData := func(expr string) promExprTest {
		return promExprTest{Expr: "absent(" + expr + ")", EvalTime: "20m", ExpSamples: []promSample{}}
	}
	noData := func(expr string) promExprTest {
		return promExprTest{Expr: "absent(" + expr + ")", EvalTime: "20m", ExpSamples: []promSample{{Labels: "{}", Value: 1}}}
	}
	grafana := strings.NewReplacer("$env", ".*", "$__rate_interval", "5m")
	var onDemo, onGolden []promExprTest
	billQueries := 0
	seen := map[string]bool{}
	for _, d := range decode(t, render(t)) {
		if d.UID != "restorable-cost" {
			continue
		}
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				expr := grafana.Replace(tg.Expr)
				switch {
				case slices.Contains(both, p.Title):
					seen[p.Title] = true
					onGolden = append(onGolden, hasData(expr), hasData(strings.Replace(expr, `{env=~".*"}`, `{env=~".*", origin="cloudwatch"}`, 1)))
					onDemo = append(onDemo, hasData(expr))
				case slices.Contains(awsOnly, p.Title):
					seen[p.Title] = true
					onGolden = append(onGolden, hasData(expr))
					onDemo = append(onDemo, noData(expr))
				default:
					billQueries++
					onDemo = append(onDemo, hasData(expr))
				}
			}
		}
	}
	for _, title := range append(both, awsOnly...) {
		if !seen[title] {
			t.Errorf("the Cost dashboard has no panel %q", title)
		}
	}
	if billQueries < 8 {
		t.Errorf("%d queries of the bill panels checked on the demo, want every bill panel's", billQueries)
	}
	golden := familySeries(exposedFamilies(t, "../cmd/exporter/testdata/e2e-output.txt"))
	_, out, err := promtoolTestRules(t, promtool, "cost.test.yml",
		promtoolGroup{Input: promtoolInput(familySeries(demoMetrics(t))), Tests: onDemo},
		promtoolGroup{Input: promtoolInput(golden), Tests: onGolden},
	)
	if err != nil {
		t.Errorf("promtool test rules over the Cost panels' queries (a query whose absent() has a sample returns no data): %v\n%s", err, out)
	}
}

// moneyMetrics are the metrics whose series are amounts of money: those
// with a currency label in the exporter's golden output or the demo's
// metrics.
func moneyMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, mfs := range [][]*dto.MetricFamily{exposedFamilies(t, "../cmd/exporter/testdata/e2e-output.txt"), demoMetrics(t)} {
		for _, mf := range mfs {
			for _, m := range mf.Metric {
				for _, l := range m.Label {
					if l.GetName() == "currency" {
						out[mf.GetName()] = true
					}
				}
			}
		}
	}
	return out
}

// moneyPanelProblems returns how the panel's queries break the Cost
// dashboard's promises about money (dashboards/README.md): an aggregation
// over money series that does not keep both source and currency (summing
// across billing sources counts the spend a Cost Explorer source and a CUR
// of the same account both report twice; across currencies adds euros to
// dollars), and a query of money series whose legend does not name the
// currency. Aggregations that keep every label (topk, bottomk, limitk,
// limit_ratio) merge nothing.
func moneyPanelProblems(p panelJSON, money map[string]bool) []string {
	grafana := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1d")
	isMoney := func(n parser.Node) bool {
		found := false
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && money[vs.Name] {
				found = true
			}
			return nil
		})
		return found
	}
	var out []string
	for _, tg := range p.Targets {
		e, err := parser.NewParser(parser.Options{}).ParseExpr(grafana.Replace(tg.Expr))
		if err != nil {
			out = append(out, fmt.Sprintf("query %s does not parse: %v", tg.RefID, err))
			continue
		}
		if !isMoney(e) {
			continue
		}
		if !strings.Contains(tg.LegendFormat, "{{currency}}") {
			out = append(out, fmt.Sprintf("query %s shows money, but its legend %q does not name {{currency}}", tg.RefID, tg.LegendFormat))
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			a, ok := n.(*parser.AggregateExpr)
			if !ok || !isMoney(a.Expr) || slices.Contains([]string{"topk", "bottomk", "limitk", "limit_ratio"}, a.Op.String()) {
				return nil
			}
			for _, keep := range []string{"source", "currency"} {
				if slices.Contains(a.Grouping, keep) == a.Without {
					out = append(out, fmt.Sprintf("query %s merges money series across %s values: %s", tg.RefID, keep, a))
				}
			}
			return nil
		})
	}
	return out
}

func TestMoneyPanelProblemsFindsBrokenPromises(t *testing.T) {
	money := map[string]bool{"restorable_billing_cost_last_day": true, "restorable_requests_cost": true}
	tests := []struct {
		expr, legend string
		want         int
	}{
		{`sum by (source, env, currency) (restorable_billing_cost_last_day{env=~"$env"})`, "{{source}}: {{env}} ({{currency}})", 0},
		{`sum by (origin, source, currency) (restorable_requests_cost / ignoring (currency) group_left restorable_requests_period_seconds) * 86400`, "{{source}} ({{currency}})", 0},
		{`sum without (env) (restorable_billing_cost_last_day)`, "{{source}} ({{currency}})", 0},
		{`topk(5, restorable_billing_cost_last_day)`, "{{source}} ({{currency}})", 0},
		{`sum by (source) (restorable_billing_rows)`, "{{source}}", 0},
		// Across sources.
		{`sum by (env, currency) (restorable_billing_cost_last_day{env=~"$env"})`, "{{env}} ({{currency}})", 1},
		{`sum without (source) (restorable_billing_cost_last_day)`, "{{env}} ({{currency}})", 1},
		{`max by (currency) (sum by (source, currency) (restorable_billing_cost_last_day))`, "{{currency}}", 1},
		{`sum(rate(restorable_requests_cost[$__rate_interval]))`, "{{currency}}", 2},
		// Across currencies, and then with no currency for the legend.
		{`sum by (source) (restorable_billing_cost_last_day)`, "{{source}} ({{currency}})", 1},
		// The legend does not name the currency.
		{`sum by (source, currency) (restorable_billing_cost_last_day)`, "{{source}}", 1},
		{`restorable_requests_cost`, "{{source}} {{resource}}", 1},
	}
	for _, tc := range tests {
		p := panelJSON{Title: "test", Targets: []targetJSON{{RefID: "A", Expr: tc.expr, LegendFormat: tc.legend}}}
		if got := moneyPanelProblems(p, money); len(got) != tc.want {
			t.Errorf("moneyPanelProblems(%s, legend %q) = %q, want %d problems", tc.expr, tc.legend, got, tc.want)
		}
	}
}

// The Cost dashboard sums cost per billing source, never across sources,
// and names the currency in the legend of every query that shows money
// (dashboards/README.md, Cost's doc comment).
func TestCostPanelsKeepSourcesAndCurrencies(t *testing.T) {
	money := moneyMetrics(t)
	for _, name := range []string{
		"restorable_billing_cost_month_to_date", "restorable_billing_cost_last_day", "restorable_requests_cost",
		"restorable_collector_api_cost_estimated_total", "restorable_collector_api_cost_monthly_projected",
		"restorable_collector_api_budget_monthly",
	} {
		if !money[name] {
			t.Errorf("%s has no currency label in the exporter's golden output or the demo's metrics", name)
		}
	}
	moneyQueries := 0
	for _, d := range decode(t, render(t)) {
		if d.UID != "restorable-cost" {
			continue
		}
		for _, p := range allPanels(d.Panels) {
			for _, problem := range moneyPanelProblems(p, money) {
				t.Errorf("panel %q: %s", p.Title, problem)
			}
			for _, tg := range p.Targets {
				for name := range money {
					if strings.Contains(tg.Expr, name) {
						moneyQueries++
						break
					}
				}
			}
		}
	}
	if moneyQueries < 8 {
		t.Errorf("%d queries of the Cost dashboard show money, want every cost, request cost, API cost and budget query", moneyQueries)
	}
}
