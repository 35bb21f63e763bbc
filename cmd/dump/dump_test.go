package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/collectors/manifest"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/probe"
	"github.com/restorable/restorable/internal/testutil"
)

const adminDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// TestDumpPostgres dumps a real database, and checks that the checksums
// and the manifest record it writes are what a probe and the manifest
// collector read.
func TestDumpPostgres(t *testing.T) {
	testutil.Program(t, "pg_dump")
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(t, "no PostgreSQL on 127.0.0.1:5432")
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		testutil.Unavailable(t, "cannot connect to PostgreSQL as postgres: "+err.Error())
	}
	defer admin.Close(ctx) //nolint:errcheck // test connection
	db := fmt.Sprintf("restorable_dumptest_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)") })
	src, err := pgx.Connect(ctx, strings.Replace(adminDSN, "/postgres?", "/"+db+"?", 1))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE orders (id int PRIMARY KEY, amount numeric, note text)",
		"INSERT INTO orders SELECT g, g * 1.5, 'order ' || g FROM generate_series(1, 500) g",
		"CREATE TABLE customers (id int PRIMARY KEY, name text)",
		"INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 50) g",
	} {
		if _, err := src.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_ = src.Close(ctx)

	dir := t.TempDir()
	out := filepath.Join(dir, "orders.dump")
	mf := filepath.Join(dir, "manifests", "dumps.ndjson")
	if err := os.MkdirAll(filepath.Dir(mf), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TEST_SOURCE_DSN", strings.Replace(adminDSN, "/postgres?", "/"+db+"?", 1))
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"postgres", "--dsn-env", "TEST_SOURCE_DSN", "--out", out, "--manifest", mf, "--env", "prod", "--dataset", "orders", "--release", "v1.4"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if strings.Contains(stdout.String()+stderr.String(), "postgres://") {
		t.Error("the connection string was printed")
	}
	data, err := os.ReadFile(probe.ChecksumsPath(out))
	if err != nil {
		t.Fatal(err)
	}
	sums, err := probe.ParseChecksums(data)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, tc := range sums.Tables {
		rows[tc.Name] = tc.Rows
	}
	if rows["public.orders"] != 500 || rows["public.customers"] != 50 {
		t.Errorf("checksummed rows = %v", rows)
	}

	// The manifest collector reads the record the dump wrote.
	src2 := &config.Source{Name: "dumps", Type: config.TypeManifest, Manifest: &config.ManifestOptions{Dir: filepath.Dir(mf)}}
	c, err := manifest.New(src2, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := c.Collect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 1 {
		t.Fatalf("manifest has %d backups", len(cat.Backups))
	}
	b := cat.Backups[0]
	if b.Env != "prod" || b.Dataset != "orders" || b.Release != "v1.4" || b.Location != out || !strings.HasPrefix(b.Details().Checksum, "sha256:") || b.StoredBytes == 0 {
		t.Errorf("manifest record = %+v", b)
	}

	// A dump never overwrites a file.
	stderr.Reset()
	if code := run(ctx, []string{"postgres", "--dsn-env", "TEST_SOURCE_DSN", "--out", out}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "never overwrites") {
		t.Errorf("second dump to the same file: exit %d, %s", code, stderr.String())
	}
}

func TestDumpNeedsASecretSource(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"postgres", "--out", filepath.Join(t.TempDir(), "x.dump")}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "--dsn-env or --dsn-file") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
