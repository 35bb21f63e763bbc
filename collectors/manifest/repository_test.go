package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// A manifest can say where its backups are stored: a record of kind
// "repository" becomes a repository of the catalog, next to the backups of
// the same files, with its size, deduplication and health, so that the
// storage panels and the unhealthy-repository alert work for manifest-only
// estates. Files without such records read exactly as before.
func TestRepositoryRecords(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("nightly.ndjson", `{"dataset":"orders","id":"n-1","type":"logical","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z","stored_bytes":100}
{"kind":"repository","dataset":"orders","name":"s3://acme-backups/orders","stored_bytes":5000,"logical_bytes":20000,"dedup_ratio":2.5,"compression_ratio":1.6,"storage_class":"STANDARD_IA","region":"eu-west-1","healthy":true}
`)
	write("vault.json", `{"backups":[{"kind":"repository","env":"prod","name":"vault","healthy":false,"error":"restic check: pack 3f2a is damaged","observed_at":"2026-11-25T06:00:00Z","backup_locked":true}]}`)
	cat, err := collect(t, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 1 || cat.Backups[0].ID != "n-1" {
		t.Errorf("backups %+v, want n-1 only", cat.Backups)
	}
	if len(cat.Repositories) != 2 {
		t.Fatalf("repositories %+v, want 2", cat.Repositories)
	}
	s3, vault := cat.Repositories[0], cat.Repositories[1]
	want := model.Repository{Source: "ci", Env: "staging", Dataset: "orders", Name: "s3://acme-backups/orders", ObservedAt: fixedNow,
		StorageClass: "STANDARD_IA", Region: "eu-west-1", StoredBytes: 5000, LogicalBytes: 20000, DedupRatio: 2.5, CompressionRatio: 1.6, Healthy: true}
	if s3 != want {
		t.Errorf("repository\n got %+v\nwant %+v", s3, want)
	}
	if vault.Healthy || vault.StatusCode == 0 || vault.Status != "restic check: pack 3f2a is damaged" || vault.Env != "prod" ||
		!vault.BackupLocked || !vault.ObservedAt.Equal(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("unhealthy repository %+v", vault)
	}

	// A second record of the same repository is an error, like a
	// duplicate backup id.
	write("z-again.ndjson", `{"kind":"repository","name":"vault","healthy":true}`+"\n")
	if _, err := collect(t, dir, nil); err == nil || !strings.Contains(err.Error(), `repository "vault" already appears in vault.json`) {
		t.Errorf("duplicate repository: %v", err)
	}
}

func TestRepositoryRecordValidation(t *testing.T) {
	p := &parser{src: &config.Source{Name: "ci", Env: "prod"}}
	for rec, want := range map[string]string{
		`{"kind":"repository","healthy":true}`:                                                                              "name: required for a repository record",
		`{"kind":"repository","name":"r"}`:                                                                                  "healthy: required for a repository record (true, or false with the problem in error)",
		`{"kind":"repository","name":"r","healthy":true,"stored_bytes":-1}`:                                                 "sizes and ratios must not be negative",
		`{"kind":"repository","name":"r","healthy":true,"id":"b-1"}`:                                                        "id: describes a backup, not a repository record",
		`{"kind":"repository","name":"r","healthy":true,"start":"2026-11-21T01:00:00Z"}`:                                    "start: describes a backup, not a repository record",
		`{"kind":"snapshot","name":"r","healthy":true}`:                                                                     `kind: "snapshot" is not one of backup, repository`,
		`{"dataset":"d","id":"1","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z","healthy":true}`: `healthy: describes a repository: add "kind": "repository"`,
		`{"kind":"repository","name":"r","healthy":true,"observed_at":"yesterday"}`:                                         `observed_at: "yesterday" is not an RFC 3339 time such as 2026-05-01T02:00:00Z`,
	} {
		cat := &model.Catalog{}
		var r Record
		if err := strictUnmarshal([]byte(rec), &r); err != nil {
			t.Fatal(err)
		}
		err := p.add(&r, cat)
		if err == nil || err.Error() != want {
			t.Errorf("record %s\n got: %v\nwant: %s", rec, err, want)
		}
	}
}
