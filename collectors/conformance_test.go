package collectors

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// brokenSources returns, for every collector type, a source whose catalog
// cannot be read, and the failure kind a user should see for it.
type brokenSource struct {
	src  *config.Source
	kind runx.Kind
}

func brokenSources(t *testing.T) map[string]brokenSource {
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := func(typ string) *config.Source {
		return &config.Source{Name: "broken-" + typ, Type: typ, Env: "prod", Timeout: config.Duration(10 * time.Second)}
	}
	m := map[string]brokenSource{}
	s := src(config.TypeManifest)
	s.Manifest = &config.ManifestOptions{Dir: filepath.Join(dir, "no-such-dir")}
	m[config.TypeManifest] = brokenSource{s, runx.KindIO}
	s = src(config.TypeRestic)
	s.Restic = &config.ResticOptions{Repository: filepath.Join(dir, "repo"), PasswordFile: pw, Binary: "/nonexistent/restic", CacheDir: filepath.Join(dir, "cache")}
	m[config.TypeRestic] = brokenSource{s, runx.KindNotFound}
	s = src(config.TypePgBackRest)
	s.PgBackRest = &config.PgBackRestOptions{Binary: "/nonexistent/pgbackrest"}
	m[config.TypePgBackRest] = brokenSource{s, runx.KindNotFound}
	s = src(config.TypeBilling)
	s.Billing = &config.BillingOptions{Path: filepath.Join(dir, "no-such-bills")}
	m[config.TypeBilling] = brokenSource{s, runx.KindIO}
	return m
}

// Every collector passes the same checks: it is listed for a configurable
// type, a source it cannot read fails with a kind that says why (never a
// panic, never an empty catalog that would read as "no backups"), and it
// returns at once when its context is already done.
func TestCollectorConformance(t *testing.T) {
	factories := Factories()
	var listed []string
	for typ := range factories {
		listed = append(listed, typ)
	}
	slices.Sort(listed)
	want := slices.Clone(config.SourceTypes)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("collectors listed for %v, the configuration accepts %v", listed, want)
	}
	broken := brokenSources(t)
	for _, typ := range listed {
		t.Run(typ, func(t *testing.T) {
			b, ok := broken[typ]
			if !ok {
				t.Fatalf("no broken source for %s: add one to brokenSources", typ)
			}
			c, err := factories[typ](b.src, Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			r := Collect(context.Background(), b.src, c, time.Now, slog.New(slog.DiscardHandler))
			if r.Err == nil || r.Catalog != nil {
				t.Fatalf("unreadable source gave catalog %v, error %v", r.Catalog, r.Err)
			}
			if r.Kind != b.kind {
				t.Errorf("kind %q (%v), want %q", r.Kind, r.Err, b.kind)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			done := make(chan Run, 1)
			go func() { done <- Collect(ctx, b.src, c, time.Now, slog.New(slog.DiscardHandler)) }()
			select {
			case r = <-done:
				if r.Err == nil {
					t.Error("a collection with a cancelled context succeeded")
				}
			case <-time.After(30 * time.Second):
				t.Fatal("a collection with a cancelled context hangs")
			}
		})
	}
}
