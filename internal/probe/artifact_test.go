package probe

import (
	"crypto/md5"  //nolint:gosec // the manifest format allows md5
	"crypto/sha1" //nolint:gosec // and sha1
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

const artifactConfig = `
environments:
  prod: {rpo: 1h, rto: 30m}
sources:
  - name: releases
    type: manifest
    env: prod
    manifest: {dir: manifests}
probes:
  - name: release-artifact
    kind: artifact
    source: releases
    schedule: "@every 1h"
`

func digest(h hash.Hash, data []byte) string {
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// artifactBackup writes an artifact below dir/manifests and returns the
// catalog record a manifest would hold for it.
func artifactBackup(t *testing.T, dir, name string, data []byte, checksum string) model.Backup {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "manifests", "artifacts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "manifests", "artifacts", name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
	return model.Backup{Source: "releases", Env: "prod", Dataset: "app", ID: name, Type: model.BackupLogical, Release: "v1.2.0",
		Start: end.Add(-time.Minute), End: end, Status: model.StatusSucceeded, StoredBytes: int64(len(data)),
		Detail:   &model.BackupDetail{Checksum: checksum},
		Location: "artifacts/" + name}
}

func TestArtifactVerifiesEveryManifestChecksumAlgorithm(t *testing.T) {
	data := []byte(strings.Repeat("backup bytes\n", 1000))
	for _, tc := range []struct {
		alg string
		h   hash.Hash
	}{{"sha256", sha256.New()}, {"sha512", sha512.New()}, {"sha1", sha1.New()}, {"md5", md5.New()}} { //nolint:gosec // see imports
		t.Run(tc.alg, func(t *testing.T) {
			dir := t.TempDir()
			cfg := loadConfig(t, dir, artifactConfig)
			b := artifactBackup(t, dir, "app.tar.gz", data, tc.alg+":"+digest(tc.h, data))
			h := newHarness(t, cfg, catalogs{"releases": {Backups: []model.Backup{b}}})
			h.start(t)
			r := h.run(t, "release-artifact")
			if !r.Success {
				t.Fatalf("probe failed: %s", r.Error)
			}
			if r.BytesVerified != int64(len(data)) || r.FilesVerified != 1 {
				t.Errorf("verified %d bytes in %d files, want %d in 1", r.BytesVerified, r.FilesVerified, len(data))
			}
			if r.BackupID != "app.tar.gz" || r.Release != "v1.2.0" || r.Env != "prod" || r.Dataset != "app" || r.Kind != KindArtifact {
				t.Errorf("result names %q %q %q %q %q", r.BackupID, r.Release, r.Env, r.Dataset, r.Kind)
			}
			if r.RTOTarget != 30*time.Minute {
				t.Errorf("RTO target %s, want 30m", r.RTOTarget)
			}
			if got := r.AchievedRPO(); got != 10*time.Hour {
				t.Errorf("achieved RPO %s, want 10h (12:00 run of a 02:00 backup)", got)
			}
		})
	}
}

func TestArtifactDetectsCorruption(t *testing.T) {
	data := []byte(strings.Repeat("0123456789abcdef", 4096))
	good := "sha256:" + digest(sha256.New(), data)
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"checksum does not match", append(append([]byte{}, data[:100]...), append([]byte{'X'}, data[101:]...)...), "sha256 checksum is"},
		{"truncated archive", data[:len(data)/2], "truncated or replaced"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := loadConfig(t, dir, artifactConfig)
			b := artifactBackup(t, dir, "app.tar.gz", tc.content, good)
			b.StoredBytes = int64(len(data))
			h := newHarness(t, cfg, catalogs{"releases": {Backups: []model.Backup{b}}})
			h.start(t)
			r := h.run(t, "release-artifact")
			if r.Success {
				t.Fatal("a corrupted artifact passed")
			}
			if !strings.Contains(r.Error, tc.want) || !strings.Contains(r.Error, "app.tar.gz") {
				t.Errorf("error %q does not name the backup and %q", r.Error, tc.want)
			}
		})
	}
}

func TestArtifactPicksLatestGoodBackupOfRelease(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, strings.Replace(artifactConfig, "source: releases", "source: releases\n    release: v1", 1))
	old := artifactBackup(t, dir, "old.tar", []byte("old"), "sha256:"+digest(sha256.New(), []byte("old")))
	old.Release = "v1"
	newer := artifactBackup(t, dir, "newer.tar", []byte("newer"), "sha256:"+digest(sha256.New(), []byte("newer")))
	newer.Release, newer.End = "v1", old.End.Add(time.Hour)
	failed := artifactBackup(t, dir, "failed.tar", []byte("x"), "")
	failed.Release, failed.End, failed.Status = "v1", old.End.Add(2*time.Hour), model.StatusFailed
	other := artifactBackup(t, dir, "v2.tar", []byte("v2"), "")
	other.Release, other.End = "v2", old.End.Add(3*time.Hour)
	h := newHarness(t, cfg, catalogs{"releases": {Backups: []model.Backup{old, failed, other, newer}}})
	h.start(t)
	r := h.run(t, "release-artifact")
	if !r.Success || r.BackupID != "newer.tar" {
		t.Fatalf("restored %q (success %v, %s), want the latest good backup of v1, newer.tar", r.BackupID, r.Success, r.Error)
	}
}

func TestArtifactWithoutChecksumIsRefusedUnlessAllowed(t *testing.T) {
	dir := t.TempDir()
	cfg := loadConfig(t, dir, artifactConfig)
	b := artifactBackup(t, dir, "app.tar", []byte("data"), "")
	h := newHarness(t, cfg, catalogs{"releases": {Backups: []model.Backup{b}}})
	h.start(t)
	if r := h.run(t, "release-artifact"); r.Success || !strings.Contains(r.Error, "no checksum") {
		t.Fatalf("a record without checksum passed or was not named: %+v", r)
	}
}
