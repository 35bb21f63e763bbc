package probe

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil"
)

// resticRepo creates a repository in dir holding one snapshot of a small
// tree of random files, and returns the snapshot's listing.
func resticRepo(t *testing.T, dir string) *resticListing {
	t.Helper()
	testutil.Program(t, "restic")
	data := filepath.Join(dir, "data")
	for i, size := range []int{300_000, 200_000, 10, 0, 5000} {
		sub := filepath.Join(data, "sub"+string(rune('a'+i%2)))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(sub, "file"+string(rune('0'+i))), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("suba/file0", filepath.Join(data, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "password"), []byte("probe-test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"RESTIC_REPOSITORY=" + filepath.Join(dir, "repo"), "RESTIC_PASSWORD_FILE=" + filepath.Join(dir, "password")}
	for _, args := range [][]string{{"init"}, {"backup", "--host=app1", "data"}} {
		if _, err := runx.Run(context.Background(), runx.Cmd{Path: "restic", Args: append([]string{"--no-cache", "--quiet"}, args...), Env: env, Dir: dir}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := runx.Run(context.Background(), runx.Cmd{Path: "restic", Args: []string{"--no-cache", "ls", "--json", "latest"}, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	l, err := parseResticLs(res.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

const resticConfig = `
environments:
  staging: {rpo: 24h, rto: 5m}
sources:
  - name: app-files
    type: restic
    env: staging
    dataset: app
    restic: {repository: repo, password_file: password}
probes:
  - name: files-restore
    kind: restic
    source: app-files
    options:
      sample_files: 3
      read_data_subset: "100%"
`

func TestResticRestoresAndVerifiesASnapshot(t *testing.T) {
	dir := t.TempDir()
	l := resticRepo(t, dir)
	cfg := loadConfig(t, dir, resticConfig+"      work_dir: "+dir+"\n")
	cats := catalogs{"app-files": {Backups: []model.Backup{{Source: "app-files", Env: "staging", Dataset: "app", ID: l.id, Status: model.StatusSucceeded, End: l.time, Type: model.BackupSnapshot}}}}
	h := newHarness(t, cfg, cats)
	h.start(t)
	r := h.run(t, "files-restore")
	if !r.Success {
		t.Fatalf("probe failed: %s\n%s", r.Error, r.Details)
	}
	if r.FilesVerified != 5 || r.BytesVerified != 505_010 || r.BackupID != l.id || !r.RestoredPoint.Equal(l.time) {
		t.Errorf("verified %d files, %d bytes of %s at %s", r.FilesVerified, r.BytesVerified, r.BackupID, r.RestoredPoint)
	}
	if !strings.Contains(r.Details, "3 files compared byte for byte") {
		t.Errorf("details: %s", r.Details)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, DirPrefix+"*")); len(left) != 0 {
		t.Errorf("restore directories left: %v", left)
	}
}

func TestResticDetectsADeletedPackFile(t *testing.T) {
	dir := t.TempDir()
	l := resticRepo(t, dir)
	// The largest pack holds file data.
	var victim string
	var largest int64
	_ = filepath.Walk(filepath.Join(dir, "repo", "data"), func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Size() > largest {
			victim, largest = p, info.Size()
		}
		return nil
	})
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, dir, resticConfig)
	cats := catalogs{"app-files": {Backups: []model.Backup{{Source: "app-files", Env: "staging", Dataset: "app", ID: l.id, Status: model.StatusSucceeded, End: l.time}}}}
	h := newHarness(t, cfg, cats)
	h.start(t)
	r := h.run(t, "files-restore")
	if r.Success {
		t.Fatal("a repository with a deleted pack passed")
	}
	if !strings.Contains(r.Error, "restic check found the repository damaged") || !strings.Contains(r.Error, filepath.Base(victim)) {
		t.Errorf("error does not name the damage and the pack %s: %s", filepath.Base(victim), r.Error)
	}
}

func TestCompareRestoreNamesMissingAndShortFiles(t *testing.T) {
	dir := t.TempDir()
	l := &resticListing{id: "abc", files: map[string]int64{"/data/a": 3, "/data/b": 5, "/data/c": 1}}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"a": "abc", "b": "ab", "extra": "x"} {
		if err := os.WriteFile(filepath.Join(dir, "data", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	problems, files, bytes := compareRestore(dir, l)
	want := []string{"/data/b: 2 bytes restored, the snapshot has 5", "/data/c: missing from the restore", "/data/extra: restored but not in the snapshot"}
	if strings.Join(problems, "|") != strings.Join(want, "|") || files != 1 || bytes != 3 {
		t.Errorf("problems %q, %d files, %d bytes", problems, files, bytes)
	}
}
