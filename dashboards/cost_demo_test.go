package dashboards

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/restorable/restorable/internal/testutil"
)

// familySeries returns every gauge and counter sample of mfs by its series
// in PromQL notation.
func familySeries(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Untyped != nil:
				v = m.Untyped.GetValue()
			default:
				continue
			}
			labels := make([]string, 0, len(m.Label))
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+strconv.Quote(l.GetValue()))
			}
			out[mf.GetName()+"{"+strings.Join(labels, ", ")+"}"] = v
		}
	}
	return out
}

// goldenSeries reads the samples of an exposition-format file, such as the
// exporter's golden /metrics output, by series.
func goldenSeries(t *testing.T, path string) map[string]float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // test read
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("%s: cannot read the sample %q", path, line)
		}
		out[line[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
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
	type sample struct {
		Labels string  `json:"labels"`
		Value  float64 `json:"value"`
	}
	type exprTest struct {
		Expr       string   `json:"expr"`
		EvalTime   string   `json:"eval_time"`
		ExpSamples []sample `json:"exp_samples"`
	}
	// absent() of a query is empty when the query returns data, and one
	// sample without labels when it returns none.
	hasData := func(expr string) exprTest {
		return exprTest{Expr: "absent(" + expr + ")", EvalTime: "20m", ExpSamples: []sample{}}
	}
	noData := func(expr string) exprTest {
		return exprTest{Expr: "absent(" + expr + ")", EvalTime: "20m", ExpSamples: []sample{{Labels: "{}", Value: 1}}}
	}
	grafana := strings.NewReplacer("$env", ".*", "$__rate_interval", "5m")
	var onDemo, onGolden []exprTest
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
	golden := goldenSeries(t, "../cmd/exporter/testdata/e2e-output.txt")
	// promtool reads YAML, of which JSON is a subset.
	file, err := json.MarshalIndent(map[string]any{
		"rule_files":          []string{},
		"evaluation_interval": "1m",
		"tests": []map[string]any{
			{"interval": "1m", "input_series": promtoolInput(familySeries(demoMetrics(t))), "promql_expr_test": onDemo},
			{"interval": "1m", "input_series": promtoolInput(golden), "promql_expr_test": onGolden},
		},
	}, "", "  ")
	if err != nil {
		t.Fatalf("encode promtool test: %v", err)
	}
	path := filepath.Join(t.TempDir(), "cost.test.yml")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatalf("write promtool test: %v", err)
	}
	if out, err := exec.Command(promtool, "test", "rules", path).CombinedOutput(); err != nil {
		t.Errorf("promtool test rules over the Cost panels' queries (a query whose absent() has a sample returns no data): %v\n%s", err, out)
	}
}
