package main

import (
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkExporterScrape100kConcurrent runs the built exporter on the
// estate of BenchmarkExporterScrape100k (100k backups across 1k datasets)
// and has 50 scrapers fetch /metrics at once over loopback, each asking as
// Prometheus does (its Accept header, gzip) and reading the compressed body
// to its last byte without decoding it, as Prometheus's scraper would on
// its own machine. Targets (issue #10): p99 under 100 ms, peak RSS of the
// exporter under 250 MB. It reports the latency percentiles of all b.N
// scrapes and the exporter's VmHWM.
func BenchmarkExporterScrape100kConcurrent(b *testing.B) {
	const scrapers = 50
	e := startExporter100k(b)
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: scrapers},
	}
	get := func() (time.Duration, int64) {
		req, err := http.NewRequest("GET", "http://"+e.addr+"/metrics", nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
		req.Header.Set("Accept-Encoding", "gzip")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0, 0
		}
		n, err := io.Copy(io.Discard, resp.Body)
		took := time.Since(start)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Errorf("scrape: %s, %v", resp.Status, err)
		}
		return took, n
	}
	// One scrape builds the cached body, as the first scrape after a
	// collection does; the benchmark measures the scrapes that follow.
	_, size := get()
	// Each scraper opens its connection before the measurement, as
	// Prometheus keeps its connection to a target between scrapes.
	var warm sync.WaitGroup
	for range scrapers {
		warm.Go(func() { get() })
	}
	warm.Wait()

	b.ResetTimer()
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		wg        sync.WaitGroup
	)
	for range scrapers {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				took, _ := get()
				mine = append(mine, took)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		i := int(p * float64(len(latencies)-1))
		return float64(latencies[i].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(size)/1e6, "MB-gzip/scrape")
	b.ReportMetric(float64(vmHWM(b, e.cmd.Process.Pid))/1024, "exporter-peak-rss-MB")
}
