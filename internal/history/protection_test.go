package history

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func bucketRepo(p *model.Protection) model.Repository {
	return model.Repository{Source: "dumps", Env: "prod", Dataset: "orders", Name: "acme-dumps", ObservedAt: day0(),
		Location: "s3://acme-dumps/dumps/", Region: "eu-west-1", Healthy: true, Protection: p}
}

// A store's protection facts survive the history: written with the
// repository, read back the same, unknown facts (empty) kept apart from a
// repository without facts (nil); a change of a fact is a new row.
func TestProtectionRoundTrip(t *testing.T) {
	root := t.TempDir()
	c := newClock(day0())
	w := openTest(t, root, c, 4)
	full := &model.Protection{Versioning: "enabled", LockMode: "COMPLIANCE", LockRetention: 30 * 24 * time.Hour,
		Encryption: "aws:kms", KMSKey: "arn:aws:kms:eu-west-1:111122223333:key/k", LifecycleKnown: true,
		TransitionAfter: 30 * 24 * time.Hour, TransitionClass: "GLACIER", ExpireAfter: 400 * 24 * time.Hour}
	unknown := bucketRepo(&model.Protection{})
	unknown.Name, unknown.Source = "minio", "minio-dumps"
	plain := bucketRepo(nil)
	plain.Name, plain.Source = "restic", "restic-files"
	for _, r := range []model.Repository{bucketRepo(full), unknown, plain} {
		mustAppend(t, w, r.Source, &model.Catalog{Repositories: []model.Repository{r}})
	}
	snap, err := w.Latest()
	if err != nil {
		t.Fatal(err)
	}
	if got := snap.Repositories["dumps"]; len(got) != 1 || got[0].Protection == nil || *got[0].Protection != *full {
		t.Fatalf("read back %+v", got)
	}
	if got := snap.Repositories["minio-dumps"]; len(got) != 1 || got[0].Protection == nil || *got[0].Protection != (model.Protection{}) {
		t.Errorf("all-unknown facts read back as %+v, want an empty Protection", got)
	}
	if got := snap.Repositories["restic-files"]; len(got) != 1 || got[0].Protection != nil {
		t.Errorf("a repository without facts read back with %+v", got[0].Protection)
	}
	c.Advance(time.Minute)
	same := bucketRepo(full)
	same.ObservedAt = c.Now()
	if st := mustAppend(t, w, "dumps", &model.Catalog{Repositories: []model.Repository{same}}); st.Repositories != 0 {
		t.Errorf("unchanged facts wrote %d rows", st.Repositories)
	}
	changed := *full
	changed.LockRetention = 7 * 24 * time.Hour
	c.Advance(time.Minute)
	next := bucketRepo(&changed)
	next.ObservedAt = c.Now()
	if st := mustAppend(t, w, "dumps", &model.Catalog{Repositories: []model.Repository{next}}); st.Repositories != 1 {
		t.Errorf("a changed lock retention wrote %d rows, want 1", st.Repositories)
	}
}

// A repositories file written before the protection columns existed
// reads back with its booleans intact and no protection facts, and its
// repository is not written again for want of them.
func TestRepositoriesWithoutProtectionColumnsReadBack(t *testing.T) {
	root := t.TempDir()
	r := bucketRepo(nil)
	r.BackupLocked = true
	old := downgrade[repositoryRowV1](t, RepositoryRowOf(&r))
	dir := filepath.Join(root, TableRepositories, partitionPrefix+day0().Format("2006-01-02"))
	if _, err := writeFile(dir, day0(), []repositoryRowV1{old}, nil); err != nil {
		t.Fatal(err)
	}
	c := newClock(day0().Add(time.Hour))
	w := openTest(t, root, c, 4)
	snap, err := w.Latest()
	if err != nil {
		t.Fatalf("read the earlier schema: %v", err)
	}
	got := snap.Repositories["dumps"]
	if len(got) != 1 || !got[0].Healthy || !got[0].BackupLocked || got[0].Protection != nil || got[0].Region != "eu-west-1" {
		t.Fatalf("old repository read back as %+v", got)
	}
	r.ObservedAt = c.Now()
	if st := mustAppend(t, w, "dumps", &model.Catalog{Repositories: []model.Repository{r}}); st.Repositories != 0 {
		t.Errorf("the unchanged repository wrote %d rows after the upgrade", st.Repositories)
	}
	if err := w.Compact(); err != nil {
		t.Fatalf("compact old and new files: %v", err)
	}
}
