package manifest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

var fixedNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func collect(t *testing.T, dir string, mutate func(*config.Source)) (*model.Catalog, error) {
	t.Helper()
	src := &config.Source{Name: "ci", Type: config.TypeManifest, Env: "staging", Manifest: &config.ManifestOptions{Dir: dir}}
	if mutate != nil {
		mutate(src)
	}
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return fixedNow })
	if err != nil {
		t.Fatal(err)
	}
	return c.Collect(context.Background())
}

func TestCollectGood(t *testing.T) {
	cat, err := collect(t, "testdata/good", func(s *config.Source) { s.Labels = map[string]string{"team": "payments"} })
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]model.Backup{}
	for _, b := range cat.Backups {
		byID[b.ID] = b
	}
	if len(byID) != 5 {
		t.Fatalf("got %d backups (%v), want 5: hidden and temporary files must be ignored", len(byID), keys(byID))
	}
	rel := byID["build-4711"]
	if rel.Env != "prod" || rel.Release != "v1.4.0" || rel.Type != model.BackupFull || !rel.Encrypted || !rel.Immutable ||
		rel.StoredBytes != 524288 || rel.Details().Checksum[:7] != "sha256:" || rel.RetainUntil.Year() != 2027 ||
		rel.End.Sub(rel.Start) != 190*time.Second || rel.Tags["pipeline"] != "123" || rel.Tags["team"] != "payments" {
		t.Errorf("build-4711 = %+v", rel)
	}
	if b := byID["n-1"]; b.Env != "staging" || b.Status != model.StatusSucceeded || b.Dataset != "orders" {
		t.Errorf("n-1 took env %q status %q dataset %q; want the source's env and succeeded by default", b.Env, b.Status, b.Dataset)
	}
	if b := byID["n-2"]; b.Status != model.StatusFailed || b.Error != "pg_dump: connection refused" {
		t.Errorf("n-2 = %+v", b)
	}
	if b := byID["n-3"]; b.Status != model.StatusRunning || !b.End.IsZero() {
		t.Errorf("running backup n-3 = %+v", b)
	}
	if b := byID["a-1"]; len(b.Details().Paths) != 1 || b.Type != model.BackupSnapshot {
		t.Errorf("a-1 = %+v", b)
	}
}

func keys(m map[string]model.Backup) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestCollectBadInput(t *testing.T) {
	for _, tc := range []struct {
		dir, want string
		kind      runx.Kind
	}{
		{"testdata/truncated", "parse manifest nightly.ndjson:2: truncated JSON: unexpected EOF", runx.KindParse},
		{"testdata/unknown-field", `parse manifest a.ndjson:1: json: unknown field "relase"`, runx.KindParse},
		{"testdata/duplicate", `parse manifest b.ndjson: backup id "n-1" of dataset orders already appears in a.ndjson`, runx.KindParse},
		{"testdata/bad-checksum", "parse manifest a.json: backup 0: checksum: sha256 digest must be 64 hex digits", runx.KindParse},
		{"testdata/does-not-exist", "list manifests in testdata/does-not-exist: lstat testdata/does-not-exist: no such file or directory", runx.KindIO},
	} {
		t.Run(filepath.Base(tc.dir), func(t *testing.T) {
			_, err := collect(t, tc.dir, nil)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tc.want)
			}
			if k := runx.KindOf(err); k != tc.kind {
				t.Errorf("kind = %q, want %q", k, tc.kind)
			}
		})
	}
}

func TestCollectEmptyDirectory(t *testing.T) {
	cat, err := collect(t, "testdata/empty", nil)
	if err != nil || len(cat.Backups) != 0 {
		t.Errorf("empty dir: %v, %d backups", err, len(cat.Backups))
	}
}

func TestRecordValidation(t *testing.T) {
	p := &parser{src: &config.Source{Name: "ci"}}
	for rec, want := range map[string]string{
		`{"dataset":"d","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"}`:                                      "env: required (or set env on the source)",
		`{"env":"prod","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"}`:                                       "dataset: required (or set dataset on the source)",
		`{"env":"prod","dataset":"d","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"}`:                                  "id: required",
		`{"env":"prod","dataset":"d","id":"1","type":"weekly","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"}`:                       `type: "weekly" is not one of full, diff, incr, snapshot, logical, wal`,
		`{"env":"prod","dataset":"d","id":"1","type":"full","status":"ok","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"}`:           `status: "ok" is not one of succeeded, failed, partial, running`,
		`{"env":"prod","dataset":"d","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-20T01:10:00Z"}`:                         "end 2026-11-20T01:10:00Z is before start 2026-11-21T01:00:00Z",
		`{"env":"prod","dataset":"d","id":"1","type":"full","start":"21.11.2026","end":"2026-11-21T01:10:00Z"}`:                                   `start: "21.11.2026" is not an RFC 3339 time such as 2026-05-01T02:00:00Z`,
		`{"env":"prod","dataset":"d","id":"1","type":"full","start":"now-1h","end":"now"}`:                                                        `start: "now-1h" is not an RFC 3339 time such as 2026-05-01T02:00:00Z`,
		`{"env":"prod","dataset":"d","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z","stored_bytes":-1}`:       "sizes and counts must not be negative",
		`{"env":"prod","dataset":"d","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z","checksum":"crc32:abcd"}`: `checksum: "crc32:abcd" must be ALGORITHM:HEX with ALGORITHM one of sha256, sha512, sha1, md5`,
	} {
		_, err := p.record([]byte(rec))
		if err == nil || err.Error() != want {
			t.Errorf("record %s\n got: %v\nwant: %s", rec, err, want)
		}
	}
}

// The demo writes times relative to the collection; only sources that ask
// for it accept them.
func TestRelativeTimes(t *testing.T) {
	dir := t.TempDir()
	rec := `{"dataset":"d","id":"1","type":"full","start":"now-26h","end":"now-25h30m","retain_until":"now+30d"}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "a.ndjson"), []byte(rec), 0o600); err != nil {
		t.Fatal(err)
	}
	cat, err := collect(t, dir, func(s *config.Source) { s.Manifest.RelativeTo = "now" })
	if err != nil {
		t.Fatal(err)
	}
	b := cat.Backups[0]
	if !b.Start.Equal(fixedNow.Add(-26*time.Hour)) || !b.End.Equal(fixedNow.Add(-25*time.Hour-30*time.Minute)) || !b.RetainUntil.Equal(fixedNow.Add(30*24*time.Hour)) {
		t.Errorf("relative times: start %s end %s retain %s", b.Start, b.End, b.RetainUntil)
	}
	if _, err := collect(t, dir, nil); err == nil || !strings.Contains(err.Error(), "is not an RFC 3339 time") {
		t.Errorf("relative time without relative_to: %v", err)
	}
}

// The bundled demo must parse: `make run` depends on it.
func TestDemoManifestsParse(t *testing.T) {
	cfg, err := config.Load("../../examples/demo/restorable.yml")
	if err != nil {
		t.Fatal(err)
	}
	envs := map[string]int{}
	repos, unhealthy := map[string]int{}, 0
	for _, src := range cfg.Sources {
		if src.Type != config.TypeManifest {
			continue // the demo's bill: collectors/billing reads it
		}
		c, err := New(src, slog.New(slog.DiscardHandler), time.Now)
		if err != nil {
			t.Fatal(err)
		}
		cat, err := c.Collect(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", src.Name, err)
		}
		envs[src.Env] += len(cat.Backups)
		for _, r := range cat.Repositories {
			repos[r.Env]++
			if !r.Healthy {
				unhealthy++
			}
		}
	}
	for _, env := range []string{"dev", "staging", "prod"} {
		if envs[env] == 0 {
			t.Errorf("demo has no backups in %s", env)
		}
		// The Storage dashboard and the repository alert need
		// repository records in the demo.
		if repos[env] == 0 {
			t.Errorf("demo has no repository in %s", env)
		}
	}
	if unhealthy == 0 {
		t.Error("demo has no unhealthy repository: RestorableRepositoryUnhealthy would never fire in it")
	}
}

// The documented JSON Schema and the parser must agree on the fields.
func TestSchemaMatchesRecord(t *testing.T) {
	data, err := os.ReadFile("../../docs/manifest.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatal(err)
	}
	rt := reflect.TypeFor[Record]()
	fields := map[string]bool{}
	for i := range rt.NumField() {
		fields[rt.Field(i).Tag.Get("json")] = true
	}
	for f := range fields {
		if _, ok := schema.Properties[f]; !ok {
			t.Errorf("field %q is parsed but not in the schema", f)
		}
	}
	for p := range schema.Properties {
		if !fields[p] {
			t.Errorf("schema property %q is not parsed", p)
		}
	}
}
