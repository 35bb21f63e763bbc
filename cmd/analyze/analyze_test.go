package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/policy"
)

// runIn runs analyze in this process with the clock at estateEnd.
func runIn(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb, estateEnd)
	return code, out.String(), errb.String()
}

type wantFinding struct {
	check, env, subject, observed string
	start, end                    time.Time
}

func findingsOf(t *testing.T, out string) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("findings are not JSON: %v\n%s", err, out)
	}
	return rep
}

func assertFindings(t *testing.T, got []policy.Finding, want []wantFinding) {
	t.Helper()
	matched := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, f := range got {
			if matched[i] || f.Check != w.check || f.Env != w.env || f.Subject.String() != w.subject || !strings.Contains(f.Observed, w.observed) {
				continue
			}
			if !w.start.IsZero() && !f.Start.Equal(w.start) {
				t.Errorf("%s %s: start %s, want %s", w.check, w.subject, f.Start, w.start)
			}
			if !w.end.IsZero() && !f.End.Equal(w.end) {
				t.Errorf("%s %s: end %s, want %s", w.check, w.subject, f.End, w.end)
			}
			matched[i], found = true, true
			break
		}
		if !found {
			t.Errorf("missing %s in %s for %s: %q", w.check, w.env, w.subject, w.observed)
		}
	}
	for i, f := range got {
		if !matched[i] {
			t.Errorf("unexpected %s in %s for %s: %s", f.Check, f.Env, f.Subject, f.Observed)
		}
	}
}

func TestEstate(t *testing.T) {
	dir := t.TempDir()
	cfg := writeEstate(t, dir)
	hour := time.Hour

	t.Run("findings at the end of the story", func(t *testing.T) {
		code, out, stderr := runIn(t, "--config.file", cfg, "findings", "--format", "json")
		if code != exitFindings {
			t.Fatalf("exit %d, want %d: %s", code, exitFindings, stderr)
		}
		rep := findingsOf(t, out)
		if !rep.At.Equal(estateEnd()) || !rep.Since.Equal(estateDay(90)) || rep.History != filepath.Join(dir, "history") {
			t.Errorf("report at %s since %s of %s", rep.At, rep.Since, rep.History)
		}
		assertFindings(t, rep.Findings, []wantFinding{
			{check: "rpo", env: "prod", subject: "pg/billing", observed: "newest successful backup billing-116 ended 3d22h ago", start: estateDay(117).Add(4 * hour)},
			{check: "restore_test.failed", env: "prod", subject: "pg/billing/billing-restore", observed: "run billing-119 at 2026-04-30T06:00:00Z failed: pg_restore: could not read archive"},
			{check: "pitr.gap", env: "prod", subject: "pg/orders/orders", observed: "WAL archive stuck at " + walName(estateWALStops, 1) + " since " + estateDay(estateWALStops).Format(time.RFC3339), start: estateDay(estateWALStops).Add(26 * hour)},
			{check: "pitr.gap", env: "prod", subject: "pg/orders/orders", observed: "WAL archive ends at " + walName(estateWALStops, 1) + ", before the newest backup is consistent"},
			{check: "failures", env: "prod", subject: "pg/orders", observed: "1 failed or partial backup in the last 24h; newest orders-119-incr: archive-push timed out", start: estateDay(119).Add(10 * hour)},
			{check: "immutability", env: "prod", subject: "pg/orders", observed: "3 backups not immutable; newest orders-112"},
			{check: "restore_test.overdue", env: "prod", subject: "billing", observed: "last successful restore test 21d18h ago", start: estateDay(112).Add(6 * hour)},
			{check: "release.backup", env: "staging", subject: "files/uploads@s3", observed: "s3 first seen " + estateDay(100).Add(3*hour-10*time.Minute).Format(time.RFC3339) + "; s2 has no successful backup", start: estateDay(100).Add(3*hour - 10*time.Minute)},
			{check: "archive_after", env: "prod", subject: "pg/orders", observed: "15 backups in hot storage after 30d; oldest orders-075 is 44d22h old, 30.0 GiB stored"},
			{check: "archive_after", env: "prod", subject: "pg/billing", observed: "15 backups in hot storage after 30d; oldest billing-075 is 44d22h old, 30.0 GiB stored"},
			{check: "rpo.history", env: "prod", subject: "pg/orders", observed: "RPO breached for 3d22h", start: estateDay(estateOutage).Add(4 * hour), end: estateDay(estateOutageEnd).Add(2 * hour)},
			{check: "rpo.history", env: "staging", subject: "files/uploads", observed: "RPO breached for 10d3h", start: estateDay(90), end: estateDay(100).Add(3 * hour)},
		})
		if rep.Summary["critical"] != 4 || rep.Summary["warning"] != 4 || rep.Summary["info"] != 4 {
			t.Errorf("summary %v", rep.Summary)
		}
		for _, f := range rep.Findings {
			if f.Check == "release.backup" && (len(f.Evidence) != 1 || f.Evidence[0].ID != "up-100") {
				t.Errorf("release evidence %+v, want the first s3 backup up-100", f.Evidence)
			}
		}
	})

	t.Run("the findings table fits the width and keeps every word", func(t *testing.T) {
		code, out, _ := runIn(t, "--config.file", cfg, "findings", "--format", "json")
		rep := findingsOf(t, out)
		if code != exitFindings || len(rep.Findings) == 0 {
			t.Fatalf("exit %d, %d findings", code, len(rep.Findings))
		}
		for _, tc := range []struct {
			columns string
			width   int
		}{{"", defaultWidth}, {"not a number", defaultWidth}, {"120", 120}, {"60", 60}} {
			t.Setenv("COLUMNS", tc.columns)
			code, out, stderr := runIn(t, "--config.file", cfg, "findings")
			if code != exitFindings {
				t.Fatalf("COLUMNS=%q: exit %d: %s", tc.columns, code, stderr)
			}
			table, _, _ := strings.Cut(out, "\n\n")
			widest := 0
			for _, line := range strings.Split(table, "\n") {
				widest = max(widest, len([]rune(line)))
			}
			if widest > tc.width || widest < tc.width-20 {
				t.Errorf("COLUMNS=%q: widest line %d, want at most %d and close to it:\n%s", tc.columns, widest, tc.width, table)
			}
			got := parseFindingsTable(t, table)
			if len(got) != len(rep.Findings) {
				t.Fatalf("COLUMNS=%q: %d rows for %d findings:\n%s", tc.columns, len(got), len(rep.Findings), table)
			}
			for i, f := range rep.Findings {
				want := [3]string{f.Subject.String(), f.Observed, f.Expected}
				for j := range want {
					if squeeze(got[i][j]) != squeeze(want[j]) {
						t.Errorf("COLUMNS=%q: finding %d reads %q, want %q:\n%s", tc.columns, i, got[i][j], want[j], table)
					}
				}
			}
		}
		code, out, _ = runIn(t, "--config.file", cfg, "findings", "--format", "csv")
		for _, f := range rep.Findings {
			if code != exitFindings || !strings.Contains(out, f.Observed) {
				t.Errorf("csv lacks %q on one line:\n%s", f.Observed, out)
			}
		}
	})

	t.Run("sarif points each result at the configuration line of its subject", func(t *testing.T) {
		t.Chdir(dir)
		code, out, stderr := runIn(t, "--config.file", "restorable.yml", "findings", "--format", "sarif")
		if code != exitFindings {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var doc sarifDoc
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		rep := findingsOf(t, func() string {
			_, o, _ := runIn(t, "--config.file", "restorable.yml", "findings", "--format", "json")
			return o
		}())
		results := doc.Runs[0].Results
		if len(results) != len(rep.Findings) || len(results) == 0 {
			t.Fatalf("%d results for %d findings", len(results), len(rep.Findings))
		}
		lines := strings.Split(estateConfig, "\n")
		lineOf := func(text string) int {
			for i, l := range lines {
				if strings.Contains(l, text) {
					return i + 1
				}
			}
			t.Fatalf("no %q in the configuration", text)
			return 0
		}
		for i, f := range rep.Findings {
			// An environment's policy begins on the line after its name.
			want := lineOf("  "+f.Env+":") + 1
			if f.Subject.Source != "" {
				want = lineOf("{name: " + f.Subject.Source + ",")
			}
			loc := results[i].Locations[0].PhysicalLocation
			if loc == nil || loc.ArtifactLocation.URI != "restorable.yml" || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" || loc.Region == nil || loc.Region.StartLine != want {
				t.Errorf("%s %s/%s: physical location %+v, want restorable.yml line %d", f.Check, f.Env, f.Subject, loc, want)
			}
		}
	})

	t.Run("findings in the middle of the outage", func(t *testing.T) {
		at := estateDay(102).Add(12 * hour)
		code, out, stderr := runIn(t, "--config.file", cfg, "findings", "--format", "json", "--at", at.Format(time.RFC3339), "--env", "prod", "--fail-on", "critical")
		if code != exitFindings {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		rep := findingsOf(t, out)
		assertFindings(t, rep.Findings, []wantFinding{
			{check: "rpo", env: "prod", subject: "pg/orders", observed: "newest successful backup orders-099 ended 3d10h ago", start: estateDay(estateOutage).Add(4 * hour)},
			{check: "archive_after", env: "prod", subject: "pg/orders", observed: "15 backups in hot storage after 30d"},
			{check: "archive_after", env: "prod", subject: "pg/billing", observed: "15 backups in hot storage after 30d"},
		})
	})

	t.Run("a quiet environment exits 0", func(t *testing.T) {
		code, out, stderr := runIn(t, "--config.file", cfg, "findings", "--env", "staging", "--fail-on", "critical")
		if code != exitOK {
			t.Fatalf("exit %d: %s\n%s", code, stderr, out)
		}
		if !strings.Contains(out, "release.backup") || !strings.Contains(out, "2 findings: 0 critical, 1 warning, 1 info") {
			t.Errorf("table output:\n%s", out)
		}
	})

	t.Run("forecast", func(t *testing.T) { testForecast(t, cfg) })
	t.Run("forecast needs two weeks of history", func(t *testing.T) { testForecastShortHistory(t, cfg) })
	t.Run("forecast chart reads in Chromium", func(t *testing.T) {
		for _, at := range []time.Time{estateEnd(), estateDay(2)} {
			svg := filepath.Join(t.TempDir(), "f.svg")
			code, _, stderr := runIn(t, "--config.file", cfg, "forecast", "--at", at.Format(time.RFC3339), "--svg", svg)
			data, err := os.ReadFile(svg)
			if code != exitOK || err != nil {
				t.Fatalf("forecast at %s: exit %d, %v: %s", at, code, err, stderr)
			}
			checkChartInChromium(t, string(data))
		}
	})
	t.Run("tiering", func(t *testing.T) { testTiering(t, cfg) })

	t.Run("sql and schema", func(t *testing.T) {
		code, out, stderr := runIn(t, "--config.file", cfg, "sql", "--format", "csv", "SELECT env, count(DISTINCT id) AS n FROM backups GROUP BY env ORDER BY env")
		if code != exitOK || out != "env,n\nprod,234\nstaging,60\n" {
			t.Errorf("sql: exit %d\n%s%s", code, out, stderr)
		}
		for _, q := range []string{
			"CREATE TABLE copy AS SELECT * FROM backups",
			"SELECT 1 AS a; SELECT 2 AS b",
			"CREATE TABLE z AS SELECT 42 AS v; SELECT * FROM z",
		} {
			code, out, stderr = runIn(t, "--config.file", cfg, "sql", q)
			if code != exitError || out != "" || !strings.Contains(stderr, "only one statement that reads is allowed") {
				t.Errorf("sql %q: exit %d: %s%s", q, code, out, stderr)
			}
		}
		code, out, _ = runIn(t, "--config.file", cfg, "schema", "--format", "json")
		var tables []schemaTable
		if err := json.Unmarshal([]byte(out), &tables); code != exitOK || err != nil || len(tables) != 7 || tables[2].Rows != 36 || tables[3].Table != "audit" || tables[3].Rows != 0 ||
			tables[4].Table != "events" || tables[4].Rows != 0 || tables[5].Table != "request_counts" || tables[5].Rows != 0 ||
			tables[6].Table != "cost_lines" || tables[6].Rows != 0 {
			t.Errorf("schema: exit %d, %v: %+v", code, err, tables)
		}
	})
}

// testForecastShortHistory: with less history than minForecastDays the
// forecast says so, in every format, instead of extrapolating.
func testForecastShortHistory(t *testing.T, cfg string) {
	at := estateDay(2).Format(time.RFC3339)
	svg := filepath.Join(t.TempDir(), "f.svg")
	code, out, stderr := runIn(t, "--config.file", cfg, "forecast", "--at", at, "--format", "json", "--svg", svg)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Forecasts []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got.Forecasts) == 0 {
		t.Fatalf("%v: %s", err, out)
	}
	for _, f := range got.Forecasts {
		if f["enough_history"] != false || f["days_fitted"].(float64) >= minForecastDays || !strings.Contains(f["note"].(string), "not enough history") {
			t.Errorf("short history: %v", f)
		}
		for _, k := range []string{"r2", "trend_bytes", "trend_low_bytes", "trend_high_bytes", "wave_bytes"} {
			if v, ok := f[k]; !ok || v != nil {
				t.Errorf("%s = %v with %v days of history, want null", k, v, f["days_fitted"])
			}
		}
	}
	data, err := os.ReadFile(svg)
	if err != nil || !strings.Contains(string(data), "Not enough history for a forecast") || strings.Contains(string(data), "stroke-dasharray=\"6 4\"") || strings.Contains(string(data), "R²") {
		t.Errorf("chart of a short history: %v\n%s", err, data)
	}
	_, out, _ = runIn(t, "--config.file", cfg, "forecast", "--at", at)
	if !strings.Contains(out, fmt.Sprintf("Not enough history for a forecast (at least %d days fitted): prod STANDARD", minForecastDays)) {
		t.Errorf("table of a short history:\n%s", out)
	}
	// Two weeks of history are enough.
	code, out, _ = runIn(t, "--config.file", cfg, "forecast", "--env", "prod", "--at", estateDay(minForecastDays).Format(time.RFC3339), "--format", "json")
	if code != exitOK || !strings.Contains(out, `"enough_history": true`) || strings.Contains(out, `"trend_bytes": null`) {
		t.Errorf("forecast after %d days:\n%s", minForecastDays, out)
	}
}

// testForecast checks the trend and the release wave of prod against
// sums computed here from the repository sizes the estate wrote.
func testForecast(t *testing.T, cfg string) {
	code, out, stderr := runIn(t, "--config.file", cfg, "forecast", "--env", "prod", "--fit", "30d", "--horizon", "180d", "--format", "json", "--svg", filepath.Join(t.TempDir(), "f.svg"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Forecasts []struct {
			Env          string
			StorageClass string `json:"storage_class"`
			Basis        string
			Days         int64   `json:"days_fitted"`
			Stored       float64 `json:"stored_bytes"`
			Slope        float64 `json:"slope_bytes_per_day"`
			Intercept    float64 `json:"intercept_bytes"`
			R2           float64 `json:"r2"`
			Trend        float64 `json:"trend_bytes"`
			Low          float64 `json:"trend_low_bytes"`
			High2        float64 `json:"trend_high_bytes"`
			Seen         int     `json:"releases_seen"`
			PerRelease   float64 `json:"bytes_per_release"`
			Planned      int     `json:"releases_planned"`
			Wave         float64 `json:"wave_bytes"`
			Dedup        float64 `json:"dedup_ratio"`
			Compression  float64 `json:"compression_ratio"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Forecasts) != 1 {
		t.Fatalf("forecasts %s", out)
	}
	f := got.Forecasts[0]
	// Least squares over days 90..120, x counted from day 90.
	var n, sx, sy, sxx, sxy, syy float64
	for d := 90; d <= 120; d++ {
		x, y := float64(d-90), float64(ordersStored(d))
		n++
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
		syy += y * y
	}
	Sxx, Sxy, Syy := sxx-sx*sx/n, sxy-sx*sy/n, syy-sy*sy/n
	slope := Sxy / Sxx
	icpt := sy/n - slope*sx/n
	r2 := Sxy * Sxy / (Sxx * Syy)
	x0 := 30.0 + 180
	trend := icpt + slope*x0
	// t(0.975) with 29 degrees of freedom, from a printed table.
	const t29 = 2.045229642
	s := math.Sqrt((Syy - slope*Sxy) / (n - 2))
	half := t29 * s * math.Sqrt(1+1/n+(x0-sx/n)*(x0-sx/n)/Sxx)
	perRelease := float64(ordersStored(112)-ordersStored(0)) / 8
	wave := float64(ordersStored(120)) + 12*perRelease
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"days", float64(f.Days), 31}, {"stored", f.Stored, float64(ordersStored(120))},
		{"slope", f.Slope, slope}, {"intercept", f.Intercept, icpt}, {"r2", f.R2, r2}, {"trend", f.Trend, trend},
		{"low", f.Low, trend - half}, {"high", f.High2, trend + half},
		{"per release", f.PerRelease, perRelease}, {"wave", f.Wave, wave},
		{"releases seen", float64(f.Seen), 2}, {"planned", float64(f.Planned), 12},
		{"dedup", f.Dedup, 2}, {"compression", f.Compression, 2},
	} {
		if math.Abs(c.got-c.want) > 1e-6*math.Max(1, math.Abs(c.want)) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if f.Basis != "repositories" || f.StorageClass != "STANDARD" {
		t.Errorf("basis %s class %s", f.Basis, f.StorageClass)
	}
}

// testTiering prices moving one backup by hand from the default table:
// orders-089 is 30d22h old, expires at 60d, 2 GiB in 128 objects of 16 MiB.
func testTiering(t *testing.T, cfg string) {
	code, out, stderr := runIn(t, "--config.file", cfg, "tiering", "--env", "prod", "--by", "backup", "--format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got struct {
		Moves []move
		Total struct {
			Backups int `json:"backups"`
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Total.Backups != 30 {
		t.Errorf("%d backups could move, want the 15 older than 30d of each dataset", got.Total.Backups)
	}
	var m *move
	for i := range got.Moves {
		if got.Moves[i].Backup == "orders-089" {
			m = &got.Moves[i]
		}
	}
	if m == nil {
		t.Fatalf("no advice for orders-089: %s", out)
	}
	const gib = 1 << 30
	period := 60 - (30 + 22.0/24)
	objects := 128.0
	type class struct {
		name                                string
		price, minDays, per1000, ovh, ovhSt float64
	}
	best, bestNet := "", 0.0
	from := 2 * 0.023
	for _, c := range []class{
		{"STANDARD_IA", 0.0125, 30, 0.01, 0, 0}, {"ONEZONE_IA", 0.01, 30, 0.01, 0, 0}, {"GLACIER_IR", 0.004, 90, 0.02, 0, 0},
		{"GLACIER", 0.0036, 90, 0.03, 32768, 8192}, {"DEEP_ARCHIVE", 0.00099, 180, 0.05, 32768, 8192},
	} {
		to := 2*c.price + objects*(c.ovh*c.price+c.ovhSt*0.023)/gib
		early := 0.0
		if period < c.minDays {
			early = to * (c.minDays - period) / 30
		}
		net := (from-to)*period/30 - objects/1000*c.per1000 - early
		if net > bestNet {
			best, bestNet = c.name, net
		}
	}
	if m.To != best || math.Abs(m.Net-bestNet) > 1e-9 || math.Abs(m.PeriodDays-period) > 1e-9 || m.Objects != 128 {
		t.Errorf("orders-089: to %s net %v over %v days (%d objects), want %s %v over %v", m.To, m.Net, m.PeriodDays, m.Objects, best, bestNet, period)
	}
	if !m.ExpiryKnown || !m.OverRTO {
		t.Errorf("expiry known %v, restore over the 1h RTO %v", m.ExpiryKnown, m.OverRTO)
	}
}

func TestTQuantile(t *testing.T) {
	// Values from a printed table of Student's t.
	for _, tc := range []struct{ p, df, want float64 }{
		{0.975, 1, 12.7062}, {0.975, 5, 2.5706}, {0.975, 29, 2.0452}, {0.975, 1000, 1.9623}, {0.95, 10, 1.8125}, {0.025, 10, -2.2281},
	} {
		if got := tQuantile(tc.p, tc.df); math.Abs(got-tc.want) > 5e-4 {
			t.Errorf("tQuantile(%v, %v) = %v, want %v", tc.p, tc.df, got, tc.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	base := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       base,
		"2026-04-30":                time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC),
		"2026-04-30T10:00:00Z":      time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC),
		"2026-04-30T12:00:00+02:00": time.Date(2026, 4, 30, 10, 0, 0, 0, time.UTC),
		"7d":                        base.Add(-7 * 24 * time.Hour),
		"-36h":                      base.Add(-36 * time.Hour),
	} {
		got, err := parseTime(in, base)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseTime(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseTime("yesterday", base); err == nil {
		t.Error("parseTime accepted yesterday")
	}
}

func TestFindingsNeedAPolicyAndAHistory(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runIn(t, "--config.file", filepath.Join(dir, "missing.yml"), "findings")
	if code != exitError || !strings.Contains(stderr, "read config") {
		t.Errorf("missing config: exit %d: %s", code, stderr)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	writeFile(t, cfg, "environments: {prod: {rpo: 1h}}\n")
	code, _, stderr = runIn(t, "--config.file", cfg, "findings")
	if code != exitError || !strings.Contains(stderr, "does not exist: run the exporter first") {
		t.Errorf("missing history: exit %d: %s", code, stderr)
	}
	code, _, stderr = runIn(t, "--config.file", cfg, "--history", dir, "findings")
	if code != exitError || !strings.Contains(stderr, "has no backups yet: run the exporter first") {
		t.Errorf("empty history: exit %d: %s", code, stderr)
	}
	code, _, stderr = runIn(t, "--config.file", cfg, "--history", dir, "findings", "--env", "qa")
	if code != exitError || !strings.Contains(stderr, `"qa" is not an environment`) {
		t.Errorf("unknown env: exit %d: %s", code, stderr)
	}
	code, _, stderr = runIn(t, "findings", "--format", "xml")
	if code != exitError || !strings.Contains(stderr, "xml") {
		t.Errorf("bad format: exit %d: %s", code, stderr)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// docs/analyze.md must describe every check of the catalog.
func TestDocsListEveryCheck(t *testing.T) {
	doc, err := os.ReadFile("../../docs/analyze.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range policy.Checks() {
		if !strings.Contains(string(doc), "| `"+c.ID+"` | "+c.Severity.String()+" |") {
			t.Errorf("docs/analyze.md does not list check %s with severity %s", c.ID, c.Severity)
		}
		for _, p := range c.Params {
			if !strings.Contains(string(doc), "`"+p+"`") {
				t.Errorf("docs/analyze.md does not name parameter %s of %s", p, c.ID)
			}
		}
	}
}

// parseFindingsTable reads the subject, observed and expected text of
// each row of a findings table back, joining the lines they wrap over.
func parseFindingsTable(t *testing.T, table string) [][3]string {
	t.Helper()
	lines := strings.Split(table, "\n")
	subjectAt := strings.Index(lines[0], "SUBJECT")
	if subjectAt < 0 {
		t.Fatalf("no SUBJECT column:\n%s", table)
	}
	var rows [][3]string
	field := 0
	for _, line := range lines[1:] {
		rest := strings.TrimSpace(line)
		switch {
		case !strings.HasPrefix(line, " "):
			rows = append(rows, [3]string{strings.TrimSpace(line[subjectAt:])})
			field = 0
			continue
		case len(rows) == 0:
			t.Fatalf("continuation line before any row:\n%s", table)
		case strings.HasPrefix(rest, "observed "):
			field, rest = 1, strings.TrimPrefix(rest, "observed ")
		case strings.HasPrefix(rest, "expected "):
			field, rest = 2, strings.TrimPrefix(rest, "expected ")
		}
		rows[len(rows)-1][field] += " " + rest
	}
	return rows
}

// squeeze drops every blank, so that text compares equal to itself
// wrapped, even where a word longer than a line was cut.
func squeeze(s string) string { return strings.Join(strings.Fields(s), "") }
