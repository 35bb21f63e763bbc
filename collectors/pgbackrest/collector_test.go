package pgbackrest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fakePgBackRest writes a script that stands in for pgbackrest: it appends
// its arguments to calls.log and runs body.
func fakePgBackRest(t *testing.T, body string) (bin, callLog string) {
	t.Helper()
	dir := t.TempDir()
	callLog = filepath.Join(dir, "calls.log")
	bin = filepath.Join(dir, "pgbackrest")
	script := "#!/bin/sh\necho \"$*\" >> '" + callLog + "'\n" + body + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, callLog
}

func calls(t *testing.T, callLog string) []string {
	t.Helper()
	data, err := os.ReadFile(callLog)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// catalogCalls are the calls that read the catalog, without the reads of
// one backup set's databases (`info --set`), which have tests of their own.
func catalogCalls(t *testing.T, callLog string) []string {
	t.Helper()
	return slices.DeleteFunc(calls(t, callLog), func(c string) bool { return strings.Contains(c, "--set=") })
}

func fixturePath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func newCollector(t *testing.T, opts *config.PgBackRestOptions) *Collector {
	t.Helper()
	src := testSource()
	src.PgBackRest = opts
	c, err := New(src, discard(), observed)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCollectReadsEachSelectedStanza(t *testing.T) {
	bin, callLog := fakePgBackRest(t, `case "$*" in
*--stanza=demo*) cat '`+fixturePath(t, "healthy.json")+`' ;;
*) cat '`+fixturePath(t, "missing-stanza-path.json")+`' | sed 's/"demo"/"nosuch"/' ;;
esac`)
	c := newCollector(t, &config.PgBackRestOptions{Binary: bin, Config: "/etc/pgbackrest/pgbackrest.conf", Stanzas: []string{"demo", "nosuch"}})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := catalogCalls(t, callLog)
	want := []string{
		"--config=/etc/pgbackrest/pgbackrest.conf --stanza=demo --log-level-console=off --log-level-stderr=warn --log-level-file=off --output=json info",
		"--config=/etc/pgbackrest/pgbackrest.conf --stanza=nosuch --log-level-console=off --log-level-stderr=warn --log-level-file=off --output=json info",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(cat.Backups) != 3 || !strings.HasPrefix(cat.Backups[0].ID, "demo/") {
		t.Errorf("got %d backups, first %q; two stanzas qualify ids", len(cat.Backups), cat.Backups[0].ID)
	}
	if len(cat.Repositories) != 2 || cat.Repositories[1].Name != "nosuch" || cat.Repositories[1].Healthy || cat.Repositories[1].Status != "missing stanza path" {
		t.Errorf("a stanza that does not exist must show as an unhealthy repository: %+v", cat.Repositories)
	}
}

func TestCollectAllStanzasInOneCall(t *testing.T) {
	bin, callLog := fakePgBackRest(t, "cat '"+fixturePath(t, "all-stanzas.json")+"'")
	cat, err := newCollector(t, &config.PgBackRestOptions{Binary: bin}).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := catalogCalls(t, callLog); len(got) != 1 || strings.Contains(got[0], "--stanza") || strings.Contains(got[0], "--config") {
		t.Errorf("calls %q, want one info without --stanza and --config", got)
	}
	if len(cat.Backups) != 5 || len(cat.Repositories) != 2 {
		t.Errorf("got %d backups and %d repositories", len(cat.Backups), len(cat.Repositories))
	}
}

func TestCollectOneStanzaKeepsLabels(t *testing.T) {
	bin, _ := fakePgBackRest(t, "cat '"+fixturePath(t, "healthy.json")+"'")
	cat, err := newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: []string{"demo"}}).Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if cat.Backups[0].ID != "20261125-201458F" || cat.Backups[1].Parent != "20261125-201458F" {
		t.Errorf("id %q parent %q, want the pgBackRest labels", cat.Backups[0].ID, cat.Backups[1].Parent)
	}
}

func TestCollectFailures(t *testing.T) {
	tests := []struct {
		name    string
		body    string // script body; empty means the program does not exist
		stanzas []string
		timeout time.Duration
		kind    runx.Kind
		want    string
	}{
		{name: "not installed", kind: runx.KindNotFound, want: "not found"},
		{name: "hangs", body: "exec sleep 30", timeout: 300 * time.Millisecond, kind: runx.KindTimeout, want: "killed after"},
		{name: "exits non-zero", body: "echo 'ERROR: [055]: unable to open missing file' >&2; exit 55", kind: runx.KindExit, want: "unable to open missing file"},
		{name: "garbage", body: "echo 'this is not json'", kind: runx.KindParse, want: "expected a JSON array"},
		{name: "truncated", body: "head -c 500 '" + fixturePath(t, "healthy.json") + "'", kind: runx.KindParse, want: "truncated JSON"},
		{name: "other stanza answered", body: "cat '" + fixturePath(t, "healthy.json") + "'", stanzas: []string{"payments"}, kind: runx.KindParse, want: "no stanza payments"},
		{name: "no stanza in repository", body: "echo '[]'", kind: runx.KindConfig, want: "found no stanza"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "pgbackrest-missing")
			if tt.body != "" {
				bin, _ = fakePgBackRest(t, tt.body)
			}
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			cat, err := newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: tt.stanzas}).Collect(ctx)
			if err == nil {
				t.Fatalf("no error, catalog %+v", cat)
			}
			if k := runx.KindOf(err); k != tt.kind {
				t.Errorf("kind %q, want %q (%v)", k, tt.kind, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	tests := []struct {
		name string
		edit func(*config.Source)
		want string
	}{
		{"relative config", func(s *config.Source) { s.PgBackRest.Config = "pgbackrest.conf" }, "absolute path"},
		{"empty stanza", func(s *config.Source) { s.PgBackRest.Stanzas = []string{""} }, "not a stanza name"},
		{"option as stanza", func(s *config.Source) { s.PgBackRest.Stanzas = []string{"--repo=2"} }, "not a stanza name"},
		{"duplicate stanza", func(s *config.Source) { s.PgBackRest.Stanzas = []string{"a", "a"} }, "listed twice"},
		{"dataset from host", func(s *config.Source) { s.DatasetFrom = "host" }, "does not apply"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := testSource()
			tt.edit(src)
			_, err := New(src, discard(), observed)
			if err == nil || !strings.Contains(err.Error(), tt.want) || runx.KindOf(err) != runx.KindConfig {
				t.Errorf("error %v, want a config error containing %q", err, tt.want)
			}
		})
	}
	src := testSource()
	src.PgBackRest = nil
	c, err := New(src, discard(), observed)
	if err != nil || c.binary != "pgbackrest" {
		t.Errorf("no options: %v, binary %q", err, c.binary)
	}
}

// The operations the collector declares are the ones a collection counts,
// so the exporter's zero-initialised call counters are the series that
// later increase, not look-alikes beside them.
func TestOperationsAreTheCountedCalls(t *testing.T) {
	bin, _ := fakePgBackRest(t, `cat '`+fixturePath(t, "healthy.json")+`'`)
	for _, stanzas := range [][]string{nil, {"demo"}} {
		c := newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: stanzas})
		var meter runx.Meter
		if _, err := c.Collect(runx.WithMeter(context.Background(), &meter)); err != nil {
			t.Fatal(err)
		}
		declared := c.Operations()
		for op := range meter.Calls() {
			if !slices.Contains(declared, op) {
				t.Errorf("stanzas %v: the collection counted operation %q, the collector declares %q", stanzas, op, declared)
			}
		}
		if len(meter.Calls()) == 0 {
			t.Errorf("stanzas %v: no call counted", stanzas)
		}
	}
}
