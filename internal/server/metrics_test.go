package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	rcollectors "github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/metrics"
	rmodel "github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

const scrapeCfg = `
environments:
  prod: {rpo: 1h, retention: {releases: 2}}
sources:
  - {name: db, type: manifest, env: prod, interval: 5m, manifest: {dir: x}}
`

// scrapeFixture is a /metrics route over a real collector and registry.
type scrapeFixture struct {
	store   *rcollectors.Store
	derived *metrics.Collector
	own     *prometheus.Registry
	scrapes prometheus.Counter
	probeMu sync.Mutex
	probe   rmodel.ProbeResult
	h       http.Handler
	plain   http.Handler
}

func newScrapeFixture(t testing.TB) *scrapeFixture {
	t.Helper()
	f := &scrapeFixture{store: rcollectors.NewStore(), own: prometheus.NewRegistry()}
	cfg := parseCfg(t, scrapeCfg)
	f.store.Configure(cfg)
	f.record(1)
	f.probe = rmodel.ProbeResult{Probe: "p", Kind: "artifact", Env: "prod", Dataset: "d0", Start: time.Unix(1_700_000_000, 0), Duration: time.Minute, Success: true, BytesVerified: 7}
	f.derived = metrics.NewCollector(metrics.Sources{Store: f.store, Probes: func() []metrics.ProbeStatus {
		f.probeMu.Lock()
		defer f.probeMu.Unlock()
		return []metrics.ProbeStatus{{Last: f.probe}}
	}})
	f.derived.SetConfig(cfg)
	f.scrapes = prometheus.NewCounter(prometheus.CounterOpts{Name: "restorable_test_events_total", Help: "Events."})
	f.own.MustRegister(f.scrapes, collectors.NewBuildInfoCollector())
	exp := metrics.Exposition{Own: f.own, Derived: f.derived}
	var err error
	f.h, err = New(Options{Logger: slog.New(slog.DiscardHandler), Gatherer: exp, TelemetryPath: "/metrics", Ready: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	f.plain = promhttp.HandlerFor(exp, promhttp.HandlerOpts{EnableOpenMetrics: true})
	return f
}

func parseCfg(t testing.TB, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("t.yml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// record stores a collection of n datasets with one backup each.
func (f *scrapeFixture) record(n int) {
	end := time.Unix(1_700_000_000, 0)
	cat := &rmodel.Catalog{}
	for i := range n {
		cat.Backups = append(cat.Backups, rmodel.Backup{Source: "db", Env: "prod", Dataset: fmt.Sprintf("d%d", i), ID: fmt.Sprint(i),
			Type: rmodel.BackupFull, Status: rmodel.StatusSucceeded, Start: end.Add(-time.Minute), End: end, LogicalBytes: 1000 + int64(i)})
	}
	f.store.Record(rcollectors.Run{Source: "db", Type: "manifest", Start: end, Duration: time.Second, Catalog: cat})
}

const omAccept = "application/openmetrics-text;version=1.0.0"

// scrape returns the decoded body and the response of one GET /metrics.
func scrape(t *testing.T, h http.Handler, accept, encoding string) (string, *http.Response) {
	t.Helper()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if encoding != "" {
		req.Header.Set("Accept-Encoding", encoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	body := rec.Body.Bytes()
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			t.Fatalf("read gzip body: %v", err)
		}
	}
	return string(body), resp
}

// families parses a text or OpenMetrics body into families by name, with
// their metrics in a stable order.
func families(t *testing.T, body string, om bool) map[string]*dto.MetricFamily {
	t.Helper()
	out := map[string]*dto.MetricFamily{}
	if om {
		if !strings.HasSuffix(body, "\n# EOF\n") || strings.Count(body, "# EOF") != 1 {
			t.Fatalf("OpenMetrics body must end with exactly one # EOF:\n%s", tail(body))
		}
		// expfmt has no OpenMetrics parser: compare the lines, in a
		// stable order, as one pseudo family.
		lines := strings.Split(strings.TrimSuffix(body, "# EOF\n"), "\n")
		slices.Sort(lines)
		out["lines"] = &dto.MetricFamily{Help: proto.String(strings.Join(lines, "\n"))}
		return out
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse body: %v\n%s", err, tail(body))
	}
	for name, mf := range mfs {
		slices.SortFunc(mf.Metric, func(a, b *dto.Metric) int { return strings.Compare(a.String(), b.String()) })
		out[name] = mf
	}
	return out
}

func tail(s string) string {
	if len(s) > 2000 {
		return "..." + s[len(s)-2000:]
	}
	return s
}

func sameFamilies(t *testing.T, what string, want, got map[string]*dto.MetricFamily) {
	t.Helper()
	for name, w := range want {
		if g, ok := got[name]; !ok {
			t.Errorf("%s: family %s missing", what, name)
		} else if !proto.Equal(w, g) {
			t.Errorf("%s: family %s differs:\nwant %v\ngot  %v", what, name, w, g)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected family %s", what, name)
		}
	}
}

// TestScrapeEqualsUncached: for every format and compression the cached
// route serves exactly the own families followed by what an uncached
// encoding of the derived families produces, and the same families as
// promhttp over the merged gatherer, on the first and the cached scrape.
func TestScrapeEqualsUncached(t *testing.T) {
	f := newScrapeFixture(t)
	for _, tc := range []struct {
		name, accept, encoding string
		om                     bool
		wantEncoding           string
	}{
		{"text", "", "", false, ""},
		{"text gzip", "", "gzip", false, "gzip"},
		{"text as Prometheus asks", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1", "gzip", false, "gzip"},
		{"openmetrics", omAccept, "", true, ""},
		{"openmetrics gzip", omAccept, "gzip", true, "gzip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for round := range 2 {
				got, resp := scrape(t, f.h, tc.accept, tc.encoding)
				want, wantResp := scrape(t, f.plain, tc.accept, tc.encoding)
				if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != tc.wantEncoding {
					t.Fatalf("round %d: status %d, encoding %q, want 200 %q", round, resp.StatusCode, resp.Header.Get("Content-Encoding"), tc.wantEncoding)
				}
				for _, h := range []string{"Content-Type", "Content-Encoding"} {
					if resp.Header.Get(h) != wantResp.Header.Get(h) {
						t.Errorf("%s: %q, promhttp sends %q", h, resp.Header.Get(h), wantResp.Header.Get(h))
					}
				}
				if v, w := resp.Header.Values("Vary"), wantResp.Header.Values("Vary"); !slices.Equal(v, w) {
					t.Errorf("Vary: %q, promhttp sends %q", v, w)
				}
				sameFamilies(t, fmt.Sprintf("round %d", round), families(t, want, tc.om), families(t, got, tc.om))

				// Byte for byte: own families, then the derived ones as an
				// uncached encoding writes them.
				format := expfmt.Format(resp.Header.Get("Content-Type"))
				own, err := f.own.Gather()
				if err != nil {
					t.Fatal(err)
				}
				var ownBody bytes.Buffer
				enc := expfmt.NewEncoder(&ownBody, format)
				for _, mf := range own {
					if err := enc.Encode(mf); err != nil {
						t.Fatal(err)
					}
				}
				derived, err := f.derived.Gather()
				if err != nil {
					t.Fatal(err)
				}
				derivedBody, err := encodeFamilies(derived, format)
				if err != nil {
					t.Fatal(err)
				}
				if exact := ownBody.String() + string(derivedBody); got != exact {
					t.Errorf("round %d: body is not own+uncached derived encoding:\n%s", round, lineDiffOf(exact, got))
				}
			}
		})
	}
}

func lineDiffOf(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var d []string
	for _, l := range w {
		if !slices.Contains(g, l) {
			d = append(d, "- "+l)
		}
	}
	for _, l := range g {
		if !slices.Contains(w, l) {
			d = append(d, "+ "+l)
		}
	}
	if len(d) == 0 {
		return "(same lines, different order)"
	}
	return strings.Join(d, "\n")
}

// TestScrapeFollowsState: the cached body changes with a new collection, a
// new probe result and a reload, and the own metrics are never stale.
func TestScrapeFollowsState(t *testing.T) {
	f := newScrapeFixture(t)
	for _, enc := range []string{"", "gzip"} {
		t.Run("encoding="+enc, func(t *testing.T) {
			has := func(line string) bool {
				t.Helper()
				body, _ := scrape(t, f.h, "", enc)
				return slices.Contains(strings.Split(body, "\n"), line)
			}
			before, _ := scrape(t, f.h, "", enc)
			f.scrapes.Inc()
			want := fmt.Sprintf("restorable_test_events_total %d", int(testutilValue(t, f.scrapes)))
			if !has(want) {
				t.Errorf("own counter increment not in the next scrape: want %q", want)
			}

			f.record(3)
			if !has(`restorable_backup_last_size_bytes{backup_type="full",dataset="d2",env="prod",source="db"} 1002`) {
				t.Error("a new collection does not show in the next scrape")
			}
			f.probeMu.Lock()
			f.probe.BytesVerified++
			verified := f.probe.BytesVerified
			f.probeMu.Unlock()
			if !has(fmt.Sprintf(`restorable_restore_probe_verified_bytes{dataset="d0",env="prod",kind="artifact",probe="p"} %d`, verified)) {
				t.Error("a new probe result does not show in the next scrape")
			}
			f.derived.SetConfig(parseCfg(t, strings.Replace(scrapeCfg, "rpo: 1h", "rpo: 2h", 1)))
			if !has(`restorable_policy_rpo_seconds{env="prod"} 7200`) {
				t.Error("a reload does not show in the next scrape")
			}
			f.derived.SetConfig(parseCfg(t, scrapeCfg))
			f.record(1)
			if after, _ := scrape(t, f.h, "", enc); after == before {
				t.Error("the body did not change at all after the own counter moved")
			}
		})
	}
}

func testutilValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestScrapeGzipMembers: the gzip body is two members, the own part and the
// cached derived part; Go's gzip reader reads them as one stream, the text
// parser and the real promtool accept the result.
func TestScrapeGzipMembers(t *testing.T) {
	f := newScrapeFixture(t)
	req := httptest.NewRequest("GET", "/metrics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	raw := rec.Body.Bytes()

	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	first, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(first), "restorable_test_events_total") || strings.Contains(string(first), "restorable_backup_") {
		t.Errorf("first gzip member should hold the own metrics only:\n%s", first)
	}
	if err := zr.Reset(bytes.NewReader(raw[len(raw)-zrRemaining(t, raw):])); err != nil {
		t.Fatalf("no second gzip member: %v", err)
	}

	body, _ := scrape(t, f.h, "", "gzip")
	mfs := families(t, body, false)
	for _, name := range []string{"restorable_test_events_total", "restorable_backup_last_size_bytes", "restorable_restore_probe_success", "go_build_info"} {
		if mfs[name] == nil {
			t.Errorf("%s missing from the decoded gzip body", name)
		}
	}
	promtool := testutil.Program(t, "promtool")
	lint := exec.Command(promtool, "check", "metrics")
	lint.Stdin = strings.NewReader(body)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics on the decoded gzip body: %v\n%s", err, out)
	}
}

// zrRemaining is the length of raw after its first gzip member.
func zrRemaining(t *testing.T, raw []byte) int {
	t.Helper()
	r := bytes.NewReader(raw)
	zr, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	zr.Multistream(false)
	if _, err := io.Copy(io.Discard, zr); err != nil {
		t.Fatal(err)
	}
	if r.Len() == 0 {
		t.Fatal("the gzip body has a single member: the derived part was not appended as its own member")
	}
	return r.Len()
}

// TestScrapeNegotiation: the cached route picks the same format and
// compression as promhttp for the headers clients send.
func TestScrapeNegotiation(t *testing.T) {
	f := newScrapeFixture(t)
	for _, accept := range []string{"", "text/plain", omAccept, "application/openmetrics-text;version=0.0.1", "*/*", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"} {
		for _, enc := range []string{"", "gzip", "identity", "*", "gzip;q=0", "gzip;q=0.5, identity;q=0.9", "identity;q=0.1, gzip", "br", "gzip, identity", "identity;q=0"} {
			_, got := scrape(t, f.h, accept, enc)
			_, want := scrape(t, f.plain, accept, enc)
			for _, h := range []string{"Content-Type", "Content-Encoding"} {
				if got.Header.Get(h) != want.Header.Get(h) {
					t.Errorf("Accept %q, Accept-Encoding %q: %s %q, promhttp %q", accept, enc, h, got.Header.Get(h), want.Header.Get(h))
				}
			}
		}
	}
}

// TestScrapeConcurrent: concurrent scrapes of an unchanged state, some
// while the state changes, each get a whole, parseable body.
func TestScrapeConcurrent(t *testing.T) {
	f := newScrapeFixture(t)
	f.record(200)
	var wg sync.WaitGroup
	bodies := make([]string, 40)
	for i := range bodies {
		wg.Go(func() {
			b, _ := scrape(t, f.h, []string{"", omAccept}[i%2], []string{"", "gzip"}[i/2%2])
			bodies[i] = b
		})
	}
	wg.Wait()
	for i, b := range bodies {
		if i >= 4 && b != bodies[i%4] {
			t.Errorf("scrape %d differs from scrape %d of the same state and format", i, i%4)
		}
		families(t, b, i%2 == 1)
	}
}

// TestScrapeFallbacks: a name filter and a family in both parts are served
// by promhttp over the merged families, so nothing is split; a gather error
// answers 500 as promhttp does.
func TestScrapeFallbacks(t *testing.T) {
	f := newScrapeFixture(t)
	req := httptest.NewRequest("GET", "/metrics?name[]=restorable_policy_rpo_seconds", nil)
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if mfs := families(t, rec.Body.String(), false); len(mfs) != 1 || mfs["restorable_policy_rpo_seconds"] == nil {
		t.Errorf("name[] filter: got %s (status %d)", rec.Body, rec.Code)
	}

	clash := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "restorable_policy_rpo_seconds", Help: "Recovery point objective: the largest acceptable age of the last good backup."}, []string{"env"})
	clash.WithLabelValues("staging").Set(60)
	f.own.MustRegister(clash)
	body, _ := scrape(t, f.h, "", "gzip")
	if n := strings.Count(body, "# TYPE restorable_policy_rpo_seconds "); n != 1 {
		t.Errorf("a family in both parts is split in %d pieces", n)
	}
	if !strings.Contains(body, `restorable_policy_rpo_seconds{env="staging"} 60`) || !strings.Contains(body, `restorable_policy_rpo_seconds{env="prod"} 3600`) {
		t.Errorf("merged family lost a series:\n%s", body)
	}
	f.own.Unregister(clash)

	f.own.MustRegister(badCollector{})
	_, resp := scrape(t, f.h, "", "gzip")
	_, want := scrape(t, f.plain, "", "gzip")
	if resp.StatusCode != want.StatusCode || resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Content-Encoding") != "" {
		t.Errorf("gather error: status %d encoding %q, promhttp %d", resp.StatusCode, resp.Header.Get("Content-Encoding"), want.StatusCode)
	}
}

// badCollector emits the same series twice, which the registry reports at
// gather time.
type badCollector struct{}

func (badCollector) Describe(chan<- *prometheus.Desc) {}
func (b badCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("restorable_bad", "x", nil, nil), prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(prometheus.NewDesc("restorable_bad", "x", nil, nil), prometheus.GaugeValue, 2)
}

// TestPrometheusScrapesCachedBody: the real Prometheus scrapes the route
// (it asks for gzip) and stores both the own and the derived metrics.
func TestPrometheusScrapesCachedBody(t *testing.T) {
	prom := testutil.Program(t, "prometheus")
	f := newScrapeFixture(t)
	srv := httptest.NewServer(f.h)
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	target := strings.TrimPrefix(srv.URL, "http://")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: r\n    static_configs: [{targets: [%q]}]\n", target)), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+addr)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus logs:\n%s", tail(logs.String()))
		}
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	query := func(q string) string {
		resp, err := client.Get("http://" + addr + "/api/v1/query?query=" + q)
		if err != nil {
			return ""
		}
		defer resp.Body.Close() //nolint:errcheck // test read
		var r struct {
			Data struct {
				Result []struct {
					Value []any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil || len(r.Data.Result) != 1 {
			return ""
		}
		return fmt.Sprint(r.Data.Result[0].Value[1])
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		up := query(`up`)
		derived := query(`restorable_policy_rpo_seconds`)
		own := query(`restorable_test_events_total`)
		samples := query(`scrape_samples_scraped`)
		if up == "1" && derived == "3600" && own == "0" {
			// Every sample of the uncached exposition arrived.
			body, _ := scrape(t, f.plain, "", "")
			want := 0
			for _, l := range strings.Split(body, "\n") {
				if l != "" && !strings.HasPrefix(l, "#") {
					want++
				}
			}
			if samples != fmt.Sprint(want) {
				t.Errorf("Prometheus scraped %s samples, the exposition has %d", samples, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not store the scraped metrics: up=%q rpo=%q own=%q", up, derived, own)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// BenchmarkScrapeCached is gzip scrapes of an unchanged state of 1k
// datasets by 50 concurrent scrapers, with the go_ and process_ collectors
// the exporter registers.
func BenchmarkScrapeCached(b *testing.B) {
	f := newScrapeFixture(b)
	f.record(1000)
	f.own.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	b.SetParallelism(25)
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		for pb.Next() {
			rec := httptest.NewRecorder()
			f.h.ServeHTTP(rec, req)
		}
	})
}
