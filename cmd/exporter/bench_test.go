package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startExporter100k runs the built exporter on a manifest source of 100k
// backups across 1k datasets, with history on as in production, and waits
// until it is ready.
func startExporter100k(b *testing.B) *exporter {
	b.Helper()
	dir := b.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		b.Fatal(err)
	}
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for f := range 10 {
		fh, err := os.Create(filepath.Join(manifests, fmt.Sprintf("part-%02d.ndjson", f)))
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(fh)
		for d := f * 100; d < (f+1)*100; d++ {
			for i := range 100 {
				end := base.Add(time.Duration(i) * 6 * time.Hour)
				status := "succeeded"
				if i%17 == 0 {
					status = "failed"
				}
				fmt.Fprintf(w, `{"dataset":"dataset-%04d","id":"b-%d","type":"%s","release":"v%d","start":%q,"end":%q,"status":%q,"logical_bytes":%d,"stored_bytes":%d,"encrypted":true,"region":"eu-west-1","storage_class":"STANDARD"}`+"\n",
					d, i, []string{"full", "incr", "diff"}[i%3], i/20, end.Add(-10*time.Minute).Format(time.RFC3339), end.Format(time.RFC3339), status, 1<<30+i, 1<<28+i)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := fh.Close(); err != nil {
			b.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfg, []byte(`environments:
  prod: {rpo: 1h, retention: {releases: 3}}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, timeout: 5m, manifest: {dir: manifests}}
`), 0o644); err != nil {
		b.Fatal(err)
	}
	bin := buildExporterB(b)
	e := startExporterB(b, bin, cfg, filepath.Join(dir, "history"))
	return e
}

// BenchmarkExporterScrape100k runs the built exporter on a manifest source
// of 100k backups across 1k datasets and scrapes /metrics. Targets: under
// 50 ms per scrape, peak RSS of the exporter process under 200 MB. History
// is on, as in production, so the first collection also writes 100k rows.
func BenchmarkExporterScrape100k(b *testing.B) {
	e := startExporter100k(b)
	gzipClient := &http.Client{}
	plainClient := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(c *http.Client) int {
		resp, err := c.Get("http://" + e.addr + "/metrics")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return int(n)
	}
	size := get(plainClient)
	// Prometheus asks for gzip; the time is measured as it scrapes. The
	// uncompressed rendering is reported beside it.
	start := time.Now()
	const plainRuns = 10
	for range plainRuns {
		get(plainClient)
	}
	plain := time.Since(start) / plainRuns
	b.ResetTimer()
	for b.Loop() {
		get(gzipClient)
	}
	b.StopTimer()
	b.ReportMetric(float64(plain.Microseconds())/1000, "ms/uncompressed-scrape")
	b.ReportMetric(float64(size)/1e6, "MB/scrape")
	b.ReportMetric(float64(vmHWM(b, e.cmd.Process.Pid))/1024, "exporter-peak-rss-MB")
}

// vmHWM is the peak resident set of a process in KiB.
func vmHWM(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
