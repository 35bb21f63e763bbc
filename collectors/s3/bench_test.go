package s3

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

// benchObjects is the size of the benchmark bucket: 1,000,000 by default,
// RESTORABLE_S3_BENCH_OBJECTS to develop with fewer.
func benchObjects(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("RESTORABLE_S3_BENCH_OBJECTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("RESTORABLE_S3_BENCH_OBJECTS=%q", v)
		}
	}
	return n
}

// benchBucket returns a versitygw root directory holding bucket "bench"
// with n objects under prod/dsNN/, written straight into the posix
// backend's directories (far faster than n PutObject requests) and kept
// under /tmp between runs: the marker file says it is complete.
func benchBucket(b *testing.B, n int) string {
	root := filepath.Join(os.TempDir(), fmt.Sprintf("restorable-s3-bench-%d", n))
	marker := root + ".complete"
	if _, err := os.Stat(marker); err == nil {
		return root
	}
	if err := os.RemoveAll(root); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	const datasets = 20
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for d := range datasets {
		if err := os.MkdirAll(filepath.Join(root, "bench", "prod", fmt.Sprintf("ds%02d", d)), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	body := []byte("x")
	for i := range n {
		name := filepath.Join(root, "bench", "prod", fmt.Sprintf("ds%02d", i%datasets), t0.Add(time.Duration(i)*time.Minute).Format("20060102T150405Z")+".dump")
		if err := os.WriteFile(name, body, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %d objects in %s under %s", n, time.Since(start).Round(time.Second), root)
	return root
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes, and
// resetPeakRSS starts a new peak (clear_refs 5), so the figure is the
// collection's.
func peakRSS(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// measured is what a benchmark reads after a collection, while its
// catalog is held: the peak RSS since resetPeakRSS, then the live heap
// after a garbage collection (so the difference is what the collection
// needed beyond its result). With RESTORABLE_S3_BENCH_HEAPPROFILE=FILE
// the heap profile of that moment is written to FILE (go tool pprof
// -sample_index=inuse_space FILE shows where the live memory is).
func measured(b *testing.B, cat *model.Catalog) (rss, live int64) {
	rss = peakRSS(b)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if name := os.Getenv("RESTORABLE_S3_BENCH_HEAPPROFILE"); name != "" {
		f, err := os.Create(name)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	runtime.KeepAlive(cat)
	return rss, int64(ms.HeapAlloc)
}

// BenchmarkListBucket lists a bucket of 1,000,000 objects on versitygw
// through the collector (ListObjectsV2 over the template's prefix, every
// key mapped to a backup) and with `rclone size` on the same bucket in the
// same run. It reports the LIST requests (ceil(N/1000) expected), the
// wall time of both, their ratio (the goal is at most 1.0), the peak RSS
// of the collection and the live heap once it returned, its catalog held.
//
// Two cases list the same bucket: every object a backup (the catalog then
// holds N records of 336 bytes and their locations, which bounds the peak
// memory from below), and one object in 20 a backup (the template names one dataset
// while the listing covers the whole bucket), as in a bucket that holds
// other objects besides the backups.
func BenchmarkListBucket(b *testing.B) {
	n := benchObjects(b)
	root := benchBucket(b, n)
	srv, _ := gateway(b, root)
	b.Run("all-backups", func(b *testing.B) {
		benchList(b, srv, n, n, true, source(srv.Endpoint, "bench", "prod/{dataset}/{time}.dump", nil))
	})
	b.Run("one-in-20", func(b *testing.B) {
		benchList(b, srv, n, (n+19)/20, false, source(srv.Endpoint, "bench", "prod/ds07/{time}.dump", func(s *config.Source) {
			s.Dataset = "ds07"
			s.S3.Prefixes = []string{"prod/"}
		}))
	})
}

// benchList collects src, and runs rclone size on the same bucket when
// withRclone (once per bucket is enough: the listing is the same).
func benchList(b *testing.B, srv *testutil.S3Server, n, backups int, withRclone bool, src *config.Source) {
	rclone, rcloneErr := exec.LookPath("rclone")
	if !withRclone {
		rcloneErr = exec.ErrNotFound
	}
	var ours, theirs time.Duration
	var lists int
	var rss, live int64
	for b.Loop() {
		debug.FreeOSMemory()
		resetPeakRSS()
		start := time.Now()
		cat, calls, err := collect(b, src, time.Now())
		ours += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if len(cat.Backups) != backups {
			b.Fatalf("%d backups, want %d", len(cat.Backups), backups)
		}
		lists = calls["S3 ListObjectsV2"]
		r, l := measured(b, cat)
		rss, live = max(rss, r), max(live, l)
		cat = nil
		if rcloneErr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
			cmd := exec.CommandContext(ctx, rclone, "size", "bench:bench")
			// rclone's AWS SDK (v1) refuses AWS_CA_BUNDLE with its own
			// transport; the endpoint is plain HTTP and needs none.
			var env []string
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "AWS_CA_BUNDLE=") {
					env = append(env, e)
				}
			}
			cmd.Env = append(env,
				"RCLONE_CONFIG_BENCH_TYPE=s3", "RCLONE_CONFIG_BENCH_PROVIDER=Other",
				"RCLONE_CONFIG_BENCH_ENDPOINT="+srv.Endpoint, "RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true",
				"RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="+srv.AccessKey, "RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="+srv.SecretKey,
				"RCLONE_CONFIG_BENCH_REGION=us-east-1", "RCLONE_CONFIG=/dev/null")
			start = time.Now()
			out, err := cmd.CombinedOutput()
			theirs += time.Since(start)
			cancel()
			if err != nil {
				b.Fatalf("rclone size: %v: %s", err, out)
			}
			if !strings.Contains(string(out), fmt.Sprintf("Total objects: %s", humanCount(n))) && !strings.Contains(string(out), fmt.Sprintf("(%d)", n)) {
				b.Fatalf("rclone counted another bucket: %s", out)
			}
		}
	}
	want := (n + 999) / 1000
	if lists != want {
		b.Errorf("ListObjectsV2 requests = %d, want ceil(%d/1000) = %d", lists, n, want)
	}
	b.ReportMetric(float64(lists), "list_requests/op")
	b.ReportMetric(ours.Seconds()/float64(b.N), "collector_s/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	b.ReportMetric(float64(live)/(1<<20), "live_heap_MiB")
	if rcloneErr == nil {
		b.ReportMetric(theirs.Seconds()/float64(b.N), "rclone_size_s/op")
		b.ReportMetric(ours.Seconds()/theirs.Seconds(), "x_rclone")
	} else if withRclone {
		b.Logf("rclone not installed: no comparison")
	}
}

// humanCount writes n as rclone prints object counts above 1000 ("1M",
// "100k"); only used to recognise its answer.
func humanCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

// benchInventory writes an S3 Inventory report (manifest.json and CSV.gz
// data files of 100,000 rows each) of the benchmark bucket's n objects
// into bucket "inventory" of the same versitygw root, in the documented
// layout, once.
func benchInventory(b *testing.B, root string, n int) {
	dir := filepath.Join(root, "inventory", "reports", "bench", "daily")
	marker := filepath.Join(root, "inventory.complete")
	if _, err := os.Stat(marker); err == nil {
		return
	}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		b.Fatal(err)
	}
	const datasets, perFile = 20, 100_000
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	schema := "Bucket, Key, Size, LastModifiedDate, StorageClass, IsLatest, IsDeleteMarker, EncryptionStatus"
	var files []string
	for start := 0; start < n; start += perFile {
		name := fmt.Sprintf("reports/bench/daily/data/%08d.csv.gz", start)
		var buf strings.Builder
		for i := start; i < min(n, start+perFile); i++ {
			at := t0.Add(time.Duration(i) * time.Minute)
			fmt.Fprintf(&buf, "\"bench\",\"prod%%2Fds%02d%%2F%s.dump\",\"1\",\"%s\",\"STANDARD\",\"true\",\"false\",\"SSE-S3\"\n",
				i%datasets, at.Format("20060102T150405Z"), at.Format("2006-01-02T15:04:05.000Z"))
		}
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write([]byte(buf.String())); err != nil {
			b.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "inventory", name), gz.Bytes(), 0o644); err != nil {
			b.Fatal(err)
		}
		files = append(files, fmt.Sprintf(`{"key":%q,"size":%d,"MD5checksum":"00"}`, name, gz.Len()))
	}
	manifest := fmt.Sprintf(`{"sourceBucket":"bench","destinationBucket":"arn:aws:s3:::inventory","version":"2016-11-30","creationTimestamp":"1714608000000","fileFormat":"CSV","fileSchema":%q,"files":[%s]}`,
		schema, strings.Join(files, ","))
	if err := os.MkdirAll(filepath.Join(dir, "2024-05-02T01-00Z"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "2024-05-02T01-00Z", "manifest.json"), []byte(manifest), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkInventory reads the same 1,000,000 objects from an S3
// Inventory report instead of a listing, with one collector as the
// exporter keeps it: its first collection finds the newest report (one
// ListObjectsV2 request over the report folders, reported as
// discovery_list_requests), the measured ones read the report found
// (list_requests/op, 0 within the discovery interval): a GetObject of the
// manifest and of each data file. It reports the peak RSS of a measured
// collection and the live heap once it returned, its catalog held.
func BenchmarkInventory(b *testing.B) {
	n := benchObjects(b)
	root := benchBucket(b, n)
	benchInventory(b, root, n)
	srv, _ := gateway(b, root)
	src := source(srv.Endpoint, "bench", "prod/{dataset}/{time}.dump", func(s *config.Source) {
		s.S3.Mode = config.S3ModeInventory
		s.S3.Inventory = &config.S3Inventory{Bucket: "inventory", Prefix: "reports", Config: "daily", DiscoveryInterval: config.DefaultInventoryDiscovery}
	})
	c, err := New(src, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	_, calls, err := collectWith(b, c)
	if err != nil {
		b.Fatal(err)
	}
	discovery := calls["S3 ListObjectsV2"]
	var lists, gets int
	var rss, live int64
	for b.Loop() {
		debug.FreeOSMemory()
		resetPeakRSS()
		cat, calls, err := collectWith(b, c)
		if err != nil {
			b.Fatal(err)
		}
		if len(cat.Backups) != n {
			b.Fatalf("%d backups, want %d", len(cat.Backups), n)
		}
		lists, gets = calls["S3 ListObjectsV2"], calls["S3 GetObject"]
		r, l := measured(b, cat)
		rss, live = max(rss, r), max(live, l)
	}
	b.ReportMetric(float64(discovery), "discovery_list_requests")
	b.ReportMetric(float64(lists), "list_requests/op")
	b.ReportMetric(float64(gets), "get_requests/op")
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_MiB")
	b.ReportMetric(float64(live)/(1<<20), "live_heap_MiB")
}
