package alerts

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/restorable/restorable/internal/policy"
)

const (
	findingMetric = "restorable_policy_finding"
	metricsDoc    = "../docs/metrics.md"
)

// selectors parses a PromQL expression with Prometheus's own parser and
// returns its vector selectors. Grafana's interval variables are replaced
// by a duration first; other variables sit inside label values.
func selectors(t *testing.T, where, expr string) []*parser.VectorSelector {
	t.Helper()
	for _, v := range []string{"$__rate_interval", "$__interval", "$__range"} {
		expr = strings.ReplaceAll(expr, v, "5m")
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: PromQL does not parse: %v\n%s", where, err, expr)
		return nil
	}
	var out []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// documentedMetrics are the metric names docs/metrics.md lists in its
// tables (a name in backticks at the start of a row).
func documentedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(metricsDoc)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(restorable_[a-z0-9_]+)`").FindAllStringSubmatch(string(data), -1) {
		out[m[1]] = true
	}
	return out
}

// TestQueriesSelectDocumentedMetrics parses every rule expression and
// every dashboard query with the PromQL parser and checks that each
// restorable_* metric they select is documented in docs/metrics.md and
// served by the exporter (its golden /metrics output).
func TestQueriesSelectDocumentedMetrics(t *testing.T) {
	documented := documentedMetrics(t)
	golden, err := os.ReadFile(goldenMetrics)
	if err != nil {
		t.Fatal(err)
	}
	exposed := exposedMetrics(golden)
	check := func(where, expr string) {
		for _, vs := range selectors(t, where, expr) {
			name := vs.Name
			if name == "" || !strings.HasPrefix(name, "restorable_") {
				continue
			}
			if !documented[name] {
				t.Errorf("%s selects %s, which docs/metrics.md does not document", where, name)
			}
			if !exposed[name] {
				t.Errorf("%s selects %s, which the exporter does not serve (%s)", where, name, goldenMetrics)
			}
		}
	}
	n := 0
	for _, r := range alertRules(t) {
		check("alert "+r.Alert, r.Expr)
		n++
	}
	for where, queries := range dashboardQueries(t) {
		for _, q := range queries {
			check(where, q)
			n++
		}
	}
	if n < 20 {
		t.Fatalf("only %d queries found", n)
	}
}

// findingChecks returns the checks an alert's expression fires on: the
// values its restorable_policy_finding selectors let through for check.
func findingChecks(t *testing.T, r rule) []string {
	var out []string
	for _, vs := range selectors(t, "alert "+r.Alert, r.Expr) {
		if vs.Name != findingMetric {
			continue
		}
		var m *labels.Matcher
		for _, lm := range vs.LabelMatchers {
			if lm.Name == "check" {
				m = lm
			}
		}
		if m == nil {
			t.Errorf("%s: selects %s without a check matcher", r.Alert, findingMetric)
			continue
		}
		for _, c := range policy.Checks() {
			if m.Matches(c.ID) && !slices.Contains(out, c.ID) {
				out = append(out, c.ID)
			}
		}
	}
	return out
}

// TestAlertsFireOnFindings ties the rules to the policy: every check that
// the exporter evaluates at warning or critical has exactly one alert,
// with the check's severity; an alert is labelled gate=deploy exactly when
// its checks deny deploys (policy.GateChecks); alerts on findings select
// restorable_policy_finding only, never a re-derived threshold.
func TestAlertsFireOnFindings(t *testing.T) {
	covered := map[string][]string{}
	for _, r := range alertRules(t) {
		checks := findingChecks(t, r)
		if len(checks) == 0 {
			continue
		}
		for _, vs := range selectors(t, r.Alert, r.Expr) {
			if vs.Name != findingMetric {
				t.Errorf("%s fires on findings but also selects %s: a second policy", r.Alert, vs.Name)
			}
		}
		for _, id := range checks {
			covered[id] = append(covered[id], r.Alert)
			c, _ := policy.Lookup(id)
			if r.Labels["severity"] != c.Severity.String() {
				t.Errorf("%s: severity %s, but check %s is %s", r.Alert, r.Labels["severity"], id, c.Severity)
			}
			gating := slices.Contains(policy.GateChecks(), id)
			if labelled := r.Labels[GateLabel] == GateValue; labelled != gating {
				t.Errorf("%s: %s=%q for check %s, which the policy's gate %s", r.Alert, GateLabel, r.Labels[GateLabel], id, map[bool]string{true: "blocks on", false: "does not block on"}[gating])
			}
		}
	}
	for _, c := range policy.Checks() {
		want := 1
		if c.History || c.Severity < policy.SeverityWarning {
			want = 0
		}
		if got := covered[c.ID]; len(got) != want {
			t.Errorf("check %s (%s, history %v) is covered by alerts %v, want %d", c.ID, c.Severity, c.History, got, want)
		}
	}
}
