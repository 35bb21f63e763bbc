package restic

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// Issue #9, item 1: ephemeral data inside a snapshot is found, the root's
// own path elements never count, an already listed snapshot is never
// listed again, not even after a restart.
func TestEphemeralDataInsideSnapshots(t *testing.T) {
	t.Parallel()
	repo := newTestRepo(t)
	// The data directory lies below /tmp, so every root has a "tmp"
	// element of its own: the false positive the issue reports.
	if !strings.Contains(repo.data, "/tmp/") {
		t.Fatalf("test data %s is not below a tmp directory: the false positive would not be tried", repo.data)
	}
	app := repo.write("app/index.html", 100)
	repo.write("app/cache/c1", 100)
	repo.write("app/data/tmp/t1", 100)
	repo.write("app/data/x/logs/l1", 100) // three levels down: not listed
	clean := repo.write("clean/index.html", 100)
	repo.write("clean/docs/readme", 100)
	now := time.Now().Truncate(time.Second)
	repo.backup("web1", now.Add(-2*time.Hour), []string{"app=web"}, app)
	cleanID := repo.backup("web2", now.Add(-time.Hour), []string{"app=clean"}, clean)

	src := repo.source(func(s *config.Source) {
		s.Env = "staging"
		s.DatasetFrom = "tag:app"
	})
	stateDir := t.TempDir()
	c, err := New(src, nil, func() time.Time { return now }, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, calls := collectCounting(t, c)
	byDataset := func(cat *model.Catalog) map[string][]string {
		out := map[string][]string{}
		for _, b := range cat.Backups {
			out[b.Dataset] = b.Details().Paths
		}
		return out
	}
	want := map[string][]string{
		"web":   {app, app + "/cache", app + "/data", app + "/index.html", app + "/cache/c1", app + "/data/tmp", app + "/data/x"},
		"clean": {clean, clean + "/docs", clean + "/index.html", clean + "/docs/readme"},
	}
	got := byDataset(cat)
	for ds, w := range want {
		if !slices.Equal(got[ds], w) {
			t.Errorf("paths of %s:\n got %q\nwant %q", ds, got[ds], w)
		}
	}
	if calls["restic ls"] != 4 {
		t.Errorf("first collection: calls %v, want two restic ls per snapshot", calls)
	}

	// The policy flags the cache and the tmp below the root of the web
	// backup, and neither backup for the tmp in its root's own path.
	cfg := ephemeralConfig(t, repo)
	res := policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups)})
	var findings []policy.Finding
	for _, f := range res.Findings {
		if f.Check == policy.CheckEphemeral {
			findings = append(findings, f)
		}
	}
	if len(findings) != 1 || findings[0].Subject.Dataset != "web" ||
		findings[0].Observed != "1 backup contains "+app+"/cache, "+app+"/cache/c1, "+app+"/data/tmp" {
		t.Errorf("ephemeral findings %+v, want one for web naming its cache and data/tmp", findings)
	}

	// Listed snapshots are not listed again: not by the same collector,
	// and not by a new one on the same state directory (a restart).
	if _, calls := collectCounting(t, c); calls["restic ls"] != 0 {
		t.Errorf("second collection: calls %v, want no restic ls", calls)
	}
	restarted, err := New(src, nil, func() time.Time { return now }, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, calls = collectCounting(t, restarted)
	if calls["restic ls"] != 0 || calls["restic stats"] != 0 {
		t.Errorf("after a restart: calls %v, want neither restic ls nor restic stats", calls)
	}
	if got := byDataset(cat); !slices.Equal(got["web"], want["web"]) || !slices.Equal(got["clean"], want["clean"]) {
		t.Errorf("after a restart: paths %q, want %q", got, want)
	}

	// A new snapshot alone is listed; a forgotten snapshot leaves the
	// state.
	repo.write("app/cache/c2", 100)
	repo.backup("web1", now, []string{"app=web"}, app)
	if _, calls := collectCounting(t, restarted); calls["restic ls"] != 2 {
		t.Errorf("new snapshot: calls %v, want two restic ls", calls)
	}
	repo.run("forget", cleanID)
	cat, _ = collectCounting(t, restarted)
	st, err := loadState(statePath(stateDir, src.Name))
	if err != nil || st == nil {
		t.Fatalf("state: %v", err)
	}
	if len(st.Contents) != len(cat.Backups) || len(cat.Backups) != 2 {
		t.Errorf("state keeps the contents of %d snapshots, the repository has %d (want 2)", len(st.Contents), len(cat.Backups))
	}
}

// ephemeralConfig is a configuration whose staging environment has the
// ephemeral check on, with the default patterns.
func ephemeralConfig(t *testing.T, repo *testRepo) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
environments:
  staging: {rpo: 24h}
sources:
  - name: files
    type: restic
    env: staging
    dataset_from: tag:app
    restic: {repository: %q, password_file: %q}
`, repo.dir, repo.password)
	cfg, err := config.Parse(filepath.Join(t.TempDir(), "restorable.yml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Where restic 0.14 puts a root in the snapshot's tree depends on how the
// target was given; the listings below are its real output (trimmed to the
// fields read) for each way.
func TestTreeRoots(t *testing.T) {
	node := func(typ, p string) string {
		return fmt.Sprintf(`{"name":%q,"type":%q,"path":%q,"struct_type":"node"}`, filepath.Base(p), typ, p)
	}
	snap := `{"time":"2026-12-01T20:21:47Z","tree":"185acf03","paths":["/tmp/rt/data/srv/app"],"id":"36e2fb64","struct_type":"snapshot"}`
	tests := []struct {
		name  string
		roots []string
		lines []string
		want  []string // entries below the roots
	}{
		{"absolute target", []string{"/tmp/rt/srv/app"}, []string{snap,
			node("dir", "/tmp"), node("dir", "/tmp/rt"), node("dir", "/tmp/rt/srv"), node("dir", "/tmp/rt/srv/app"),
			node("dir", "/tmp/rt/srv/app/cache"), node("file", "/tmp/rt/srv/app/top.txt")},
			[]string{"/tmp/rt/srv/app/cache", "/tmp/rt/srv/app/top.txt"}},
		{"relative target (restic backup srv/app from /tmp/rt)", []string{"/tmp/rt/srv/app"}, []string{snap,
			node("dir", "/srv"), node("dir", "/srv/app"), node("dir", "/srv/app/cache")},
			[]string{"/tmp/rt/srv/app/cache"}},
		// "restic backup ." puts the contents at the top; a directory
		// inside named like the root's last element is not the root.
		{"restic backup . of a directory holding a namesake", []string{"/srv/app"}, []string{snap,
			node("dir", "/app"), node("dir", "/app/logs"), node("dir", "/cache"), node("file", "/top.txt")},
			[]string{"/srv/app/app", "/srv/app/cache", "/srv/app/top.txt", "/srv/app/app/logs"}},
		{"a root inside another", []string{"/d/srv", "/d/srv/app"}, []string{snap,
			node("dir", "/d"), node("dir", "/d/srv"), node("dir", "/d/srv/app"), node("dir", "/d/srv/app/cache"), node("file", "/d/srv/x")},
			[]string{"/d/srv/app", "/d/srv/app/cache", "/d/srv/x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nodes, err := parseLs([]byte(strings.Join(tc.lines, "\n") + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			trees, ok := treeRoots(tc.roots, nodes)
			if !ok {
				t.Fatal("roots not found")
			}
			levels := make([][]string, contentsDepth)
			contentsOf(tc.roots, trees, nodes, map[string]bool{}, levels)
			var got []string
			for _, l := range levels {
				slices.Sort(l)
				got = append(got, l...)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("entries %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := parseLs([]byte(`{"struct_type":"node","type":"dir","path":"relative"}`)); err == nil {
		t.Error("a node with a relative path was accepted")
	}
	// restic 0.17 and later name the kind of a line in message_type.
	nodes, err := parseLs([]byte(`{"message_type":"snapshot","id":"x"}` + "\n" + `{"message_type":"node","type":"dir","path":"/srv/app/cache"}` + "\n"))
	if err != nil || len(nodes) != 1 || nodes[0].Path != "/srv/app/cache" {
		t.Errorf("listing with message_type: %+v, %v", nodes, err)
	}
}

// A state file that is torn, of another repository or unwritable costs a
// rescan, never a wrong figure or a failed collection.
func TestStateFile(t *testing.T) {
	dir := t.TempDir()
	p := statePath(dir, "files")
	if filepath.Base(p) != "restic-files.json" {
		t.Errorf("state file %s, want restic-files.json", p)
	}
	if a, b := statePath(dir, "../x"), statePath(dir, "x/.."); filepath.Dir(a) != dir || filepath.Dir(b) != dir || a == b {
		t.Errorf("names with separators: %s and %s", a, b)
	}
	st := &savedState{Version: stateVersion, Scope: "s", Stats: &savedStats{Key: "k", Logical: 7}, Contents: map[string][]string{"id": {"/a/b"}}}
	if err := saveState(p, st); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(p)
	if err != nil || got.Stats.Logical != 7 || got.Contents["id"][0] != "/a/b" {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("state directory holds %d files after a save, want 1 (no temporary left)", len(entries))
	}
	if err := os.WriteFile(p, []byte(`{"version":1,"scope":"s","stats":{"key":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadState(p); err == nil {
		t.Error("a torn state file was read without an error")
	}
	if st, err := loadState(filepath.Join(dir, "missing.json")); st != nil || err != nil {
		t.Errorf("missing state: %v, %v", st, err)
	}
}
