package probe

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/runx"
)

// benchTables are the tables of the benchmark's source database: four of
// about the same size, with the column types a business database has.
func benchTables() []struct{ name, create, fill string } {
	return []struct{ name, create, fill string }{
		{"events", `CREATE TABLE events (id bigint PRIMARY KEY, account_id int NOT NULL, kind text NOT NULL, amount numeric(12,2), created timestamptz NOT NULL, payload text)`,
			`INSERT INTO events SELECT g, g % 100000, (ARRAY['deposit','withdrawal','transfer','fee'])[1 + g % 4], (g % 100000) / 100.0, '2026-01-01'::timestamptz + g * interval '1 second', md5(g::text) || md5((g + 1)::text) || md5((g + 2)::text) FROM generate_series($1::bigint, $2::bigint) g`},
		{"orders", `CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL, total numeric(12,2) NOT NULL, placed date NOT NULL, shipped timestamptz, address text)`,
			`INSERT INTO orders SELECT g, g % 250000, (ARRAY['new','paid','shipped','returned'])[1 + g % 4], g % 9973 * 1.1, date '2020-01-01' + (g % 2000)::int, CASE WHEN g % 3 = 0 THEN NULL ELSE '2026-01-01'::timestamptz + g * interval '1 minute' END, 'street ' || g || ', ' || md5(g::text) || ' city' FROM generate_series($1::bigint, $2::bigint) g`},
		{"documents", `CREATE TABLE documents (id bigint PRIMARY KEY, owner int NOT NULL, title text NOT NULL, body text NOT NULL, tags text[], updated timestamptz NOT NULL)`,
			`INSERT INTO documents SELECT g, g % 5000, 'document ' || g, repeat(md5(g::text), 8), ARRAY['a' || g % 10, 'b' || g % 7], '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series($1::bigint, $2::bigint) g`},
		{"audit_log", `CREATE TABLE audit_log (id bigint PRIMARY KEY, actor text NOT NULL, action text NOT NULL, target uuid NOT NULL, at timestamptz NOT NULL, ok boolean NOT NULL, detail jsonb)`,
			`INSERT INTO audit_log SELECT g, 'user' || g % 1000, (ARRAY['login','read','write','delete'])[1 + g % 4], md5(g::text)::uuid, '2026-01-01'::timestamptz + g * interval '1 second', g % 11 <> 0, jsonb_build_object('ip', '10.0.' || g % 256 || '.' || g % 251, 'n', g) FROM generate_series($1::bigint, $2::bigint) g`},
	}
}

// BenchmarkPostgresLogicalVerify measures what verification adds to a
// restore: it builds a source database with RESTORABLE_BENCH_MB (default
// 1024) MB of table data on 127.0.0.1:5432, dumps it with its checksums,
// then per iteration times a bare pg_restore of the archive into a fresh
// database and a full postgres-logical probe run (restore, checksums,
// comparison, drop) of the same archive, and reports
// verify-overhead-ratio = (probe - bare) / bare. Run it with
//
//	go test -run '^$' -bench BenchmarkPostgresLogicalVerify -benchtime 3x -timeout 30m ./internal/probe/
func BenchmarkPostgresLogicalVerify(b *testing.B) {
	admin := pgServer(b)
	ctx := context.Background()
	mb := 1024
	if v := os.Getenv("RESTORABLE_BENCH_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("RESTORABLE_BENCH_MB=%q is not a positive number", v)
		}
		mb = n
	}
	src := SandboxPrefix + "bench_source"
	bare := SandboxPrefix + "bench_bare"
	for _, db := range []string{src, bare} {
		mustExec(b, admin, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
	}
	mustExec(b, admin, "CREATE DATABASE "+src)
	b.Cleanup(func() {
		for _, db := range []string{src, bare} {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
	})
	began := time.Now()
	tableBytes := benchFill(b, pgAdminDB(src), int64(mb)<<20)
	b.Logf("generated %d MB of table data in %s", tableBytes>>20, time.Since(began).Round(time.Second))

	dir := b.TempDir()
	dump := filepath.Join(dir, "bench.dump")
	began = time.Now()
	if _, err := DumpPostgres(ctx, pgAdminDB(src), dump, PostgresDumpOptions{Jobs: 2}); err != nil {
		b.Fatalf("dump: %v", err)
	}
	info, _ := os.Stat(dump)
	b.Logf("dumped with checksums in %s (%d MB archive)", time.Since(began).Round(time.Second), info.Size()>>20)

	cfg := loadConfig(b, dir, strings.Replace(pgProbeConfig("      dump: bench.dump\n      jobs: 2\n      checksum_jobs: 2\n"), "timeout: 5m", "timeout: 1h", 1))
	h := newHarness(b, cfg, catalogs{})
	h.start(b)

	var bareTotal, probeTotal time.Duration
	b.ResetTimer()
	for b.Loop() {
		// Each side starts with no dirty buffers of the other to write.
		mustExec(b, admin, "CHECKPOINT")
		mustExec(b, admin, "CREATE DATABASE "+bare)
		t0 := time.Now()
		if _, err := runx.Run(ctx, runx.Cmd{Path: "pg_restore", Args: []string{"--no-owner", "--no-acl", "--jobs=2", "--dbname=" + pgAdminDB(bare), dump}}); err != nil {
			b.Fatalf("bare restore: %v", err)
		}
		bareTotal += time.Since(t0)
		mustExec(b, admin, "DROP DATABASE "+bare+" WITH (FORCE)")
		mustExec(b, admin, "CHECKPOINT")

		r := h.run(b, "pg")
		if !r.Success {
			b.Fatalf("probe failed: %s", r.Error)
		}
		probeTotal += r.Duration
	}
	n := float64(b.N)
	b.ReportMetric(bareTotal.Seconds()/n, "bare-restore-s/op")
	b.ReportMetric(probeTotal.Seconds()/n, "probe-s/op")
	b.ReportMetric((probeTotal-bareTotal).Seconds()/bareTotal.Seconds(), "verify-overhead-ratio")
	b.ReportMetric(float64(tableBytes>>20), "table-MB")
}

// benchFill fills the benchmark tables until they hold at least want
// bytes, two connections at a time, and returns their total size.
func benchFill(b *testing.B, dsn string, want int64) int64 {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx) //nolint:errcheck // bench
	tables := benchTables()
	for _, t := range tables {
		mustExec(b, conn, t.create)
	}
	// Rows per table per batch; measured row sizes set the batch count.
	const batch = 250_000
	perTable := want / int64(len(tables))
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 2 {
		wg.Go(func() {
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer c.Close(ctx) //nolint:errcheck // bench
			for i := range work {
				t := tables[i]
				var next int64
				for {
					var size int64
					if err := c.QueryRow(ctx, "SELECT pg_table_size($1::regclass)", t.name).Scan(&size); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
						return
					}
					if size >= perTable {
						break
					}
					if _, err := c.Exec(ctx, t.fill, next+1, next+batch); err != nil {
						mu.Lock()
						firstErr = fmt.Errorf("fill %s: %w", t.name, err)
						mu.Unlock()
						return
					}
					next += batch
				}
			}
		})
	}
	for i := range tables {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	mustExec(b, conn, "CREATE INDEX ON events (account_id); CREATE INDEX ON orders (customer_id, placed); ANALYZE")
	var total int64
	if err := conn.QueryRow(ctx, "SELECT sum(pg_table_size(c.oid))::bigint FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").Scan(&total); err != nil {
		b.Fatal(err)
	}
	return total
}
