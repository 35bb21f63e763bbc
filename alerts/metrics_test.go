package alerts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	// goldenMetrics is the exporter's /metrics output on its end-to-end
	// fixtures, kept up to date by that test.
	goldenMetrics = "../cmd/exporter/testdata/e2e-output.txt"
	dashboardsDir = "../dashboards/json"
)

// exposedMetrics returns the metric names in a Prometheus text exposition:
// the names of TYPE and HELP lines and of every sample (so histogram
// _bucket, _sum and _count series count too).
func exposedMetrics(data []byte) map[string]bool {
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "# TYPE ") || strings.HasPrefix(line, "# HELP "):
			if f := strings.Fields(line); len(f) >= 3 {
				names[f[2]] = true
			}
		case strings.HasPrefix(line, "#"):
		default:
			if i := strings.IndexAny(line, "{ "); i > 0 {
				names[line[:i]] = true
			}
		}
	}
	return names
}

// dashboardQueries returns every panel and variable query of the
// generated dashboards, by dashboard file.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	dashboards, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil || len(dashboards) == 0 {
		t.Fatalf("find generated dashboards in %s: %v (found %d; run `make dashboards`)", dashboardsDir, err, len(dashboards))
	}
	out := map[string][]string{}
	for _, path := range dashboards {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read dashboard: %v", err)
		}
		var d any
		if err := json.Unmarshal(data, &d); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		where := "dashboard " + filepath.Base(path)
		walkQueries(d, func(q string) {
			// Variable queries such as label_values(...) are Grafana's, not PromQL.
			if !strings.HasPrefix(q, "label_values(") && !strings.HasPrefix(q, "query_result(") {
				out[where] = append(out[where], q)
			}
		})
	}
	return out
}

// walkQueries calls fn with every panel query (expr) and variable query
// (query, definition) in a decoded dashboard.
func walkQueries(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
				fn(s)
				continue
			}
			walkQueries(x, fn)
		}
	case []any:
		for _, x := range v {
			walkQueries(x, fn)
		}
	}
}

func TestExposedMetrics(t *testing.T) {
	exposition := []byte(`# HELP restorable_backups Backups in the source's catalog.
# TYPE restorable_backups gauge
restorable_backups{env="prod",status="failed"} 1
# HELP restorable_collector_duration_seconds Duration.
# TYPE restorable_collector_duration_seconds histogram
restorable_collector_duration_seconds_bucket{le="+Inf"} 3
restorable_collector_duration_seconds_sum 1.5
restorable_collector_duration_seconds_count 3
restorable_build_info 1
`)
	var got []string
	for m := range exposedMetrics(exposition) {
		got = append(got, m)
	}
	slices.Sort(got)
	want := []string{
		"restorable_backups",
		"restorable_build_info",
		"restorable_collector_duration_seconds",
		"restorable_collector_duration_seconds_bucket",
		"restorable_collector_duration_seconds_count",
		"restorable_collector_duration_seconds_sum",
	}
	if !slices.Equal(got, want) {
		t.Errorf("exposedMetrics = %v, want %v", got, want)
	}
}
