package restic

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// testSource returns a restic source whose cache lives in the test's
// temporary directory.
func testSource(t *testing.T, mutate func(*config.Source)) *config.Source {
	t.Helper()
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte("test-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := &config.Source{
		Name: "files",
		Restic: &config.ResticOptions{
			Repository:    filepath.Join(t.TempDir(), "repo"),
			PasswordFile:  pw,
			CacheDir:      t.TempDir(),
			StatsInterval: config.DefaultResticStats,
		},
	}
	if mutate != nil {
		mutate(src)
	}
	return src
}

func newTestCollector(tb testing.TB, src *config.Source, now func() time.Time) *Collector {
	tb.Helper()
	c, err := New(src, nil, now, "")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// fakeRestic writes a shell script standing in for restic. It is used for
// failure modes only: everything restic does right is tested against the
// real program.
func fakeRestic(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "restic")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCollectFailures(t *testing.T) {
	tests := []struct {
		name     string
		script   string // empty: binary /nonexistent/restic
		timeout  time.Duration
		setup    func(t *testing.T, src *config.Source)
		tune     func(c *Collector)
		wantKind runx.Kind
		wantMsg  []string
	}{
		{
			name:     "restic is not installed",
			wantKind: runx.KindNotFound,
			wantMsg:  []string{"/nonexistent/restic", "not found"},
		},
		{
			name:     "restic hangs",
			script:   "exec sleep 60",
			timeout:  300 * time.Millisecond,
			wantKind: runx.KindTimeout,
			wantMsg:  []string{"list snapshots of", "killed after"},
		},
		{
			// The case: a helper in a session of its own keeps
			// restic's output pipe open after restic is killed.
			name:     "restic's setsid helper keeps stdout open",
			script:   "setsid sleep 600 & exec sleep 100000",
			timeout:  300 * time.Millisecond,
			wantKind: runx.KindTimeout,
			wantMsg:  []string{"list snapshots of", "killed after"},
		},
		{
			// The case: 1.5 GB of output drove the exporter to
			// 4.2 GB; the limit is small here so that the test is fast.
			name:     "restic floods its output",
			script:   "exec yes '[]'",
			tune:     func(c *Collector) { c.maxOutput = 1 << 20 },
			wantKind: runx.KindLimit,
			wantMsg:  []string{"list snapshots of", "exceeds the limit of 1 MiB"},
		},
		{
			name:     "restic fails",
			script:   "echo 'Fatal: wrong password or no key found' >&2; exit 12",
			wantKind: runx.KindExit,
			wantMsg:  []string{"list snapshots of", "snapshots", "exit status 12", "wrong password or no key found"},
		},
		{
			name:     "restic prints garbage",
			script:   "echo 'this is not json'",
			wantKind: runx.KindParse,
			wantMsg:  []string{"restic snapshots", "not JSON"},
		},
		{
			name:     "restic prints truncated JSON",
			script:   "head -c 700 " + mustAbs(t, "testdata/snapshots-0.14.json"),
			wantKind: runx.KindParse,
			wantMsg:  []string{"restic snapshots", "unexpected EOF"},
		},
		{
			name:   "password variable unset",
			script: "exit 0",
			setup: func(t *testing.T, src *config.Source) {
				src.Restic.PasswordFile = ""
				src.Restic.PasswordEnv = "RESTORABLE_TEST_UNSET_PASSWORD"
			},
			wantKind: runx.KindConfig,
			wantMsg:  []string{"RESTORABLE_TEST_UNSET_PASSWORD", "not set"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testSource(t, nil)
			src.Restic.Binary = "/nonexistent/restic"
			if tt.script != "" {
				src.Restic.Binary = fakeRestic(t, tt.script)
			}
			if tt.setup != nil {
				tt.setup(t, src)
			}
			c := newTestCollector(t, src, time.Now)
			if tt.tune != nil {
				tt.tune(c)
			}
			ctx := t.Context()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			type result struct {
				cat *model.Catalog
				err error
			}
			done := make(chan result, 1)
			go func() {
				cat, err := c.Collect(ctx)
				done <- result{cat, err}
			}()
			var cat *model.Catalog
			var err error
			select {
			case r := <-done:
				cat, err = r.cat, r.err
			case <-time.After(20 * time.Second):
				t.Fatal("the collection did not return within 20s")
			}
			if err == nil {
				t.Fatalf("no error; catalog %+v", cat)
			}
			if got := runx.KindOf(err); got != tt.wantKind {
				t.Errorf("kind = %q, want %q (%v)", got, tt.wantKind, err)
			}
			for _, m := range tt.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

// collectMetered runs one collection and returns its catalog and the
// external calls it made.
func collectMetered(tb testing.TB, c *Collector) (*model.Catalog, *runx.Meter) {
	tb.Helper()
	m := &runx.Meter{}
	cat, err := c.Collect(runx.WithMeter(tb.Context(), m))
	if err != nil {
		tb.Fatal(err)
	}
	return cat, m
}

func collectCounting(tb testing.TB, c *Collector) (*model.Catalog, map[string]int) {
	tb.Helper()
	cat, m := collectMetered(tb, c)
	return cat, m.Calls()
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// A password handed over in the environment never shows in an error, even
// when restic (or a wrapper around it) echoes it, and neither does the
// password of a repository URL.
func TestErrorsCarryNoSecrets(t *testing.T) {
	const password = "hunter2-correct-horse"
	const urlPassword = "url-secret-battery"
	t.Setenv("RESTORABLE_TEST_PASSWORD", password)
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-staple")
	src := testSource(t, func(s *config.Source) {
		s.Restic.PasswordFile = ""
		s.Restic.PasswordEnv = "RESTORABLE_TEST_PASSWORD"
		s.Restic.Repository = "rest:https://backup:" + urlPassword + "@rest.example.com:8000/files"
		s.Restic.ExtraEnv = []string{"AWS_SECRET_ACCESS_KEY"}
	})
	src.Restic.Binary = fakeRestic(t, `echo "Fatal: $RESTIC_PASSWORD rejected for $RESTIC_REPOSITORY ($AWS_SECRET_ACCESS_KEY) args $*" >&2; exit 1`)
	_, err := newTestCollector(t, src, time.Now).Collect(t.Context())
	if err == nil {
		t.Fatal("no error")
	}
	for _, secret := range []string{password, urlPassword, "aws-secret-staple"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error reveals a secret: %v", err)
		}
	}
	if !strings.Contains(err.Error(), "[redacted]") || !strings.Contains(err.Error(), "rest:https://backup@rest.example.com:8000/files") {
		t.Errorf("error = %v, want the secrets replaced and the location named", err)
	}
}

// restic is never asked to lock the repository and never gets a secret
// on its command line.
func TestCommandIsReadOnly(t *testing.T) {
	src := testSource(t, func(s *config.Source) {
		s.Restic.Host = "db1"
		s.Restic.Tags = []string{"env=prod", "app=payments"}
	})
	c := newTestCollector(t, src, time.Now)
	for _, sub := range []string{"snapshots", "stats"} {
		args := c.command(sub)
		if args[0] != sub || !slices.Contains(args, "--no-lock") || !slices.Contains(args, "--json") {
			t.Errorf("%s: args %v", sub, args)
		}
		joined := strings.Join(args, " ")
		if strings.Contains(joined, "test-password") || strings.Contains(joined, src.Restic.Repository) {
			t.Errorf("%s: secret or repository on the command line: %v", sub, args)
		}
		if !strings.Contains(joined, "--host db1") || !strings.Contains(joined, "--tag env=prod,app=payments") {
			t.Errorf("%s: filters missing: %v", sub, args)
		}
	}
}

// When restic stats fails but the snapshot list is fine, the backups are
// still delivered and the repository record says what went wrong. The
// failed run is not repeated every cycle.
func TestStatsFailureMarksRepositoryUnhealthy(t *testing.T) {
	list := mustAbs(t, "testdata/snapshots-0.14.json")
	tests := []struct {
		name, stats, wantStatus string
	}{
		{"stats fails", "echo 'Fatal: blob 3f2a not found in index' >&2; exit 1", "blob 3f2a not found"},
		{"stats prints garbage", "echo 'garbage'", "restic stats --mode raw-data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testSource(t, nil)
			src.Restic.Binary = fakeRestic(t, `case "$1" in snapshots) cat `+list+`;; stats) `+tt.stats+`;; esac`)
			now := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
			c := newTestCollector(t, src, func() time.Time { return now })

			cat, calls := collectCounting(t, c)
			if len(cat.Backups) != 4 {
				t.Fatalf("%d backups, want 4", len(cat.Backups))
			}
			repo := cat.Repositories[0]
			if repo.Healthy || !strings.Contains(repo.Status, tt.wantStatus) {
				t.Errorf("repository healthy=%v status %q, want unhealthy with %q", repo.Healthy, repo.Status, tt.wantStatus)
			}
			if calls["restic stats"] != 1 {
				t.Errorf("stats calls = %d", calls["restic stats"])
			}

			_, calls = collectCounting(t, c)
			if calls["restic stats"] != 0 {
				t.Errorf("a failed stats run was repeated on the next cycle (%d calls)", calls["restic stats"])
			}
			now = now.Add(statsRetry)
			cat, calls = collectCounting(t, c)
			if calls["restic stats"] != 1 {
				t.Errorf("a failed stats run was not retried after %s (%d calls)", statsRetry, calls["restic stats"])
			}
			if cat.Repositories[0].Healthy {
				t.Error("repository healthy although stats still fail")
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*config.Source)
		want   string
	}{
		{"no repository", func(s *config.Source) { s.Restic.Repository = "" }, "restic.repository"},
		{"no password", func(s *config.Source) { s.Restic.PasswordFile = "" }, "password_file or restic.password_env"},
		{"dataset from stanza", func(s *config.Source) { s.DatasetFrom = "stanza" }, `dataset_from "stanza"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(testSource(t, tt.mutate), nil, time.Now, "")
			if err == nil || runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want a config error mentioning %q", err, tt.want)
			}
		})
	}
}
