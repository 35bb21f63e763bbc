package restic

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/testutil"
)

// testRepo is a real restic repository in a temporary directory, written
// to the way a backup client does it: with a cache of its own, so the
// collector's cache knows only what the collector read.
type testRepo struct {
	tb       testing.TB
	restic   string
	dir      string
	password string
	cache    string
	data     string
}

func newTestRepo(tb testing.TB) *testRepo {
	tb.Helper()
	bin := testutil.Program(tb, "restic")
	base := tb.TempDir()
	r := &testRepo{
		tb:       tb,
		restic:   bin,
		dir:      filepath.Join(base, "repo"),
		password: filepath.Join(base, "password"),
		cache:    filepath.Join(base, "client-cache"),
		data:     filepath.Join(base, "data"),
	}
	if err := os.WriteFile(r.password, []byte("integration-password\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	r.run("init")
	return r
}

func (r *testRepo) run(args ...string) []byte {
	r.tb.Helper()
	cmd := exec.Command(r.restic, args...)
	cmd.Env = append(os.Environ(), "RESTIC_REPOSITORY="+r.dir, "RESTIC_PASSWORD_FILE="+r.password, "RESTIC_CACHE_DIR="+r.cache)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		r.tb.Fatalf("restic %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// write puts size random bytes (incompressible, so every change makes new
// pack data) into the file rel below the data directory.
func (r *testRepo) write(rel string, size int) string {
	r.tb.Helper()
	path := filepath.Join(r.data, rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		r.tb.Fatal(err)
	}
	data := make([]byte, size)
	_, _ = rand.Read(data)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		r.tb.Fatal(err)
	}
	return filepath.Dir(path)
}

// backup makes a snapshot of dir as host at the given time and returns its
// short id.
func (r *testRepo) backup(host string, at time.Time, tags []string, dir string) string {
	r.tb.Helper()
	args := []string{"backup", "--json", "--host", host, "--time", at.Local().Format("2006-01-02 15:04:05")}
	for _, t := range tags {
		args = append(args, "--tag", t)
	}
	out := r.run(append(args, dir)...)
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var sum struct {
		SnapshotID string `json:"snapshot_id"`
	}
	if err := json.Unmarshal(lines[len(lines)-1], &sum); err != nil || sum.SnapshotID == "" {
		r.tb.Fatalf("read backup summary %q: %v", lines[len(lines)-1], err)
	}
	return sum.SnapshotID
}

// stats runs restic stats the way a user would check the figures.
func (r *testRepo) stats(mode string) stats {
	r.tb.Helper()
	s, err := parseStats(r.run("stats", "--json", "--mode", mode))
	if err != nil {
		r.tb.Fatal(err)
	}
	return s
}

// packs returns the names of the pack files in the repository.
func (r *testRepo) packs() map[string]bool {
	r.tb.Helper()
	out := map[string]bool{}
	files, err := filepath.Glob(filepath.Join(r.dir, "data", "*", "*"))
	if err != nil {
		r.tb.Fatal(err)
	}
	for _, f := range files {
		out[filepath.Base(f)] = true
	}
	return out
}

func (r *testRepo) source(mutate func(*config.Source)) *config.Source {
	src := &config.Source{
		Name: "files",
		Restic: &config.ResticOptions{
			Repository:    r.dir,
			PasswordFile:  r.password,
			CacheDir:      r.tb.TempDir(),
			StatsInterval: config.DefaultResticStats,
		},
	}
	if mutate != nil {
		mutate(src)
	}
	return src
}

func TestCollectRealRepository(t *testing.T) {
	t.Parallel()
	repo := newTestRepo(t)
	now := time.Now().Truncate(time.Second)
	at := []time.Time{now.Add(-72 * time.Hour), now.Add(-48 * time.Hour), now.Add(-time.Hour), now.Add(-30 * time.Minute)}
	payments := repo.write("payments/ledger.db", 300_000)
	short := []string{repo.backup("db1", at[0], []string{"env=prod", "release=v1.1", "app=payments"}, payments)}
	repo.write("payments/ledger.db", 400_000)
	short = append(short, repo.backup("db1", at[1], []string{"env=prod", "release=v1.2", "app=payments"}, payments))
	repo.write("payments/journal.db", 100_000)
	short = append(short, repo.backup("db1", at[2], []string{"env=prod", "release=v1.3", "app=payments"}, payments))
	www := repo.write("www/index.html", 1_000)
	short = append(short, repo.backup("web1", at[3], []string{"env=staging"}, www))

	src := repo.source(func(s *config.Source) {
		s.DatasetFrom = "tag:app"
		s.Classification = "pii"
		s.Labels = map[string]string{"team": "core"}
		s.Restic.StorageClass = "STANDARD"
		s.Restic.Region = "eu-west-1"
	})
	c := newTestCollector(t, src, func() time.Time { return now })
	cat, err := c.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Backups) != 4 {
		t.Fatalf("%d backups, want 4", len(cat.Backups))
	}
	want := []struct {
		env, release, dataset string
		paths                 []string
	}{
		{"prod", "v1.1", "payments", []string{payments}},
		{"prod", "v1.2", "payments", []string{payments}},
		{"prod", "v1.3", "payments", []string{payments}},
		{"staging", "", "web1", []string{www}},
	}
	for i, b := range cat.Backups {
		w := want[i]
		if !validID(b.ID) || !strings.HasPrefix(b.ID, short[i]) {
			t.Errorf("backup %d: id %q, want the full id of snapshot %s", i, b.ID, short[i])
		}
		if !b.Start.Equal(at[i]) || !b.End.Equal(at[i]) || b.Start.Location() != time.UTC {
			t.Errorf("backup %d: start %s end %s, want %s", i, b.Start, b.End, at[i].UTC())
		}
		if b.Env != w.env || b.Release != w.release || b.Dataset != w.dataset {
			t.Errorf("backup %d: env %q release %q dataset %q, want %q %q %q", i, b.Env, b.Release, b.Dataset, w.env, w.release, w.dataset)
		}
		// The root, then what lies below it (see
		// TestEphemeralDataInsideSnapshots for the depth).
		if len(b.Details().Paths) < 2 || b.Details().Paths[0] != w.paths[0] || !strings.HasPrefix(b.Details().Paths[1], w.paths[0]+"/") {
			t.Errorf("backup %d: paths %v, want %v and its files", i, b.Details().Paths, w.paths)
		}
		if b.Tags["team"] != "core" || b.Tags["env"] != w.env {
			t.Errorf("backup %d: tags %v", i, b.Tags)
		}
		if w.dataset == "payments" && b.Tags["app"] != "payments" {
			t.Errorf("backup %d: tags %v", i, b.Tags)
		}
		if b.Source != "files" || b.Type != model.BackupSnapshot || b.Status != model.StatusSucceeded || !b.Encrypted ||
			b.Details().Agent != "restic" || b.Location != repo.dir || b.Classification != "pii" || b.StorageClass != "STANDARD" || b.Region != "eu-west-1" {
			t.Errorf("backup %d: %+v", i, b)
		}
	}

	if len(cat.Repositories) != 1 {
		t.Fatalf("%d repositories, want 1", len(cat.Repositories))
	}
	r := cat.Repositories[0]
	raw, restore := repo.stats("raw-data"), repo.stats("restore-size")
	if r.StoredBytes <= 0 || r.StoredBytes != int64(raw.TotalSize) {
		t.Errorf("stored bytes %d, want restic's raw-data size %d", r.StoredBytes, raw.TotalSize)
	}
	if r.LogicalBytes != int64(restore.TotalSize) {
		t.Errorf("logical bytes %d, want restic's restore size %d", r.LogicalBytes, restore.TotalSize)
	}
	if !r.Healthy || r.Location != repo.dir || r.StorageClass != "STANDARD" || r.Region != "eu-west-1" {
		t.Errorf("repository %+v", r)
	}
	// Labels that join (issue #9, item 2): the repository label is the
	// short name, never the path, and a repository holding two datasets
	// (payments, web1) has none of its own; restic's locks are not read.
	if r.Name != "repo" || r.Dataset != "" || !r.LocksUnknown {
		t.Errorf("repository name %q dataset %q locks unknown %v, want \"repo\", \"\" and true", r.Name, r.Dataset, r.LocksUnknown)
	}
	// The same ledger is in three snapshots, so restoring them all writes
	// more than the repository stores.
	if r.DedupRatio <= 1 {
		t.Errorf("dedup ratio %v, want > 1", r.DedupRatio)
	}

	t.Run("host and tag filters", func(t *testing.T) {
		c := newTestCollector(t, repo.source(func(s *config.Source) {
			s.Restic.Host = "db1"
			s.Restic.Tags = []string{"env=prod", "release=v1.2"}
		}), time.Now)
		cat, err := c.Collect(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(cat.Backups) != 1 || cat.Backups[0].Release != "v1.2" || !strings.HasPrefix(cat.Backups[0].ID, short[1]) {
			t.Errorf("backups %+v, want the one of db1 with release v1.2", cat.Backups)
		}
		// One dataset: the repository series joins its backups'
		// series on(env, source, dataset).
		if r := cat.Repositories[0]; r.Dataset != cat.Backups[0].Dataset || r.Dataset == "" || r.Env != cat.Backups[0].Env {
			t.Errorf("repository env %q dataset %q, want the backups' %q %q", r.Env, r.Dataset, cat.Backups[0].Env, cat.Backups[0].Dataset)
		}
		// The figures describe the filtered snapshots only.
		if got := cat.Repositories[0].LogicalBytes; got <= 0 || got >= r.LogicalBytes {
			t.Errorf("logical bytes of one snapshot %d, want less than the %d of all", got, r.LogicalBytes)
		}
	})
	t.Run("unusable cache is reported", func(t *testing.T) {
		var logs bytes.Buffer
		src := repo.source(func(s *config.Source) { s.Restic.CacheDir = "/proc/restorable-no-cache-here" })
		c, err := New(src, slog.New(slog.NewTextHandler(&logs, nil)), time.Now, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Collect(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(logs.String(), "restic runs without its cache") || !strings.Contains(logs.String(), "unable to open cache") {
			t.Errorf("logs do not warn about the missing cache:\n%s", logs.String())
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		src := repo.source(nil)
		src.Restic.PasswordFile = filepath.Join(t.TempDir(), "wrong")
		if err := os.WriteFile(src.Restic.PasswordFile, []byte("not-the-password\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := newTestCollector(t, src, time.Now).Collect(t.Context())
		if err == nil || !strings.Contains(err.Error(), "wrong password") || strings.Contains(err.Error(), "not-the-password") {
			t.Errorf("error = %v, want restic's wrong-password message without the password", err)
		}
	})
}

// The cost rule: an unchanged repository is not scanned again. The second
// collection runs no restic stats and reads no pack file, and neither does
// the first collection after a restart (a new collector on the same state
// directory and cache); a new snapshot brings the figures up to date
// reading only what the new backup wrote; the stats interval refreshes
// them even while nothing changes.
func TestUnchangedRepositoryIsNotScannedAgain(t *testing.T) {
	t.Parallel()
	repo := newTestRepo(t)
	dir := repo.write("app/blob.bin", 2<<20)
	repo.backup("host1", time.Now().Add(-2*time.Hour), []string{"env=prod"}, dir)
	repo.write("app/other.bin", 1<<20)
	repo.backup("host1", time.Now().Add(-time.Hour), []string{"env=prod"}, dir)

	now := time.Now()
	src := repo.source(nil)
	stateDir := t.TempDir()
	clock := func() time.Time { return now }
	c, err := New(src, nil, clock, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	watch := watchRepo(t, repo.dir)

	// First collection: the cache is cold, so restic reads the snapshots,
	// the index and the packs holding directory trees into it, but never a
	// pack of file contents.
	cat, calls := collectCounting(t, c)
	first := watch.read(t)
	if calls["restic snapshots"] != 1 || calls["restic stats"] == 0 {
		t.Errorf("first collection: calls %v", calls)
	}
	treePacks := cachedPacks(t, src.Restic.CacheDir)
	for p := range first.Packs {
		if !treePacks[p] {
			t.Errorf("first collection read pack %s, which holds file contents", p)
		}
	}
	stored := cat.Repositories[0].StoredBytes

	// Unchanged repository: one restic snapshots, no stats, no pack, no
	// snapshot or index file read from the repository.
	cat, calls = collectCounting(t, c)
	second := watch.read(t)
	if calls["restic snapshots"] != 1 || calls["restic stats"] != 0 {
		t.Errorf("unchanged repository: calls %v, want one restic snapshots and no restic stats", calls)
	}
	if watchSupported && (len(second.Packs) != 0 || second.Opens["snapshots"] != 0 || second.Opens["index"] != 0) {
		t.Errorf("unchanged repository: opened packs %v and files %v", second.Packs, second.Opens)
	}
	if got := cat.Repositories[0].StoredBytes; got != stored || !cat.Repositories[0].Healthy {
		t.Errorf("unchanged repository: stored bytes %d (healthy %v), want the cached %d", got, cat.Repositories[0].Healthy, stored)
	}
	if calls["restic ls"] != 0 {
		t.Errorf("unchanged repository: calls %v, want no restic ls", calls)
	}

	// A restart: a new collector on the same state directory and cache
	// costs what an unchanged repository costs a running one.
	c, err = New(src, nil, clock, stateDir)
	if err != nil {
		t.Fatal(err)
	}
	cat, calls = collectCounting(t, c)
	restart := watch.read(t)
	if calls["restic snapshots"] != 1 || calls["restic stats"] != 0 || calls["restic ls"] != 0 {
		t.Errorf("after a restart: calls %v, want one restic snapshots and neither stats nor ls", calls)
	}
	if watchSupported && (len(restart.Packs) != 0 || restart.Opens["snapshots"] != 0 || restart.Opens["index"] != 0) {
		t.Errorf("after a restart: opened packs %v and files %v", restart.Packs, restart.Opens)
	}
	if got := cat.Repositories[0]; got.StoredBytes != stored || got.LogicalBytes <= 0 || got.DedupRatio <= 0 || !got.Healthy {
		t.Errorf("after a restart: repository %+v, want the saved figures (stored bytes %d)", got, stored)
	}

	// A new snapshot: stats run again and read at most the packs the new
	// backup wrote.
	before := repo.packs()
	repo.write("app/third.bin", 1<<20)
	repo.backup("host1", time.Now(), []string{"env=prod"}, dir)
	watch.read(t) // the backup's own reads and lock
	cat, calls = collectCounting(t, c)
	third := watch.read(t)
	if calls["restic stats"] == 0 {
		t.Errorf("new snapshot: calls %v, want the stats refreshed", calls)
	}
	for p := range third.Packs {
		if before[p] {
			t.Errorf("new snapshot: read pack %s again although the cache has it", p)
		}
	}
	raw := repo.stats("raw-data")
	if got := cat.Repositories[0].StoredBytes; got != int64(raw.TotalSize) || got <= stored {
		t.Errorf("new snapshot: stored bytes %d, want restic's new raw-data size %d (was %d)", got, raw.TotalSize, stored)
	}
	if len(cat.Backups) != 3 {
		t.Errorf("%d backups, want 3", len(cat.Backups))
	}

	// Unchanged again until the stats interval passes.
	watch.read(t) // the check above ran restic stats itself
	_, calls = collectCounting(t, c)
	if calls["restic stats"] != 0 {
		t.Errorf("unchanged repository: calls %v", calls)
	}
	now = now.Add(src.Restic.StatsInterval.D())
	watch.read(t)
	_, calls = collectCounting(t, c)
	last := watch.read(t)
	if calls["restic stats"] == 0 {
		t.Errorf("stats interval passed: calls %v, want the stats refreshed", calls)
	}
	if watchSupported && len(last.Packs) != 0 {
		t.Errorf("stats refresh on a warm cache opened packs %v", last.Packs)
	}
	for i, r := range []repoReads{first, second, restart, third, last} {
		if r.LockCreates != 0 {
			t.Errorf("collection %d created %d lock files in the repository", i+1, r.LockCreates)
		}
	}
}

// cachedPacks returns the packs in restic's cache below dir: restic caches
// the packs that hold trees, never those of file contents.
func cachedPacks(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*", "data", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range files {
		out[filepath.Base(f)] = true
	}
	return out
}
