package agreement

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// Bucket facts reach both evaluations alike: the exporter judges them
// from the live catalog, the analyzer from the repositories table of the
// history. A bucket whose encryption is unknown is not judged in either;
// one whose lifecycle never transitions and whose lock is shorter than
// the retention's min_age is, in both, and after a restart.
func TestBucketFactsAgree(t *testing.T) {
	p := newPair(t, `environments:
  prod:
    rpo: 2h
    retention: {releases: 1, min_age: 35d}
    require: {encryption: any, immutable: true}
    archive_after: 30d
sources:
  - {name: dumps, type: s3, env: prod, dataset: orders, s3: {bucket: acme-dumps, key_template: "{time}.dump"}}
  - {name: minio, type: s3, env: prod, dataset: users, s3: {bucket: minio-dumps, key_template: "{time}.dump", endpoint: "http://127.0.0.1:9000"}}
`)
	old := good("dumps", "orders", "2026-04-20.dump", "", p.now.Add(-40*24*time.Hour))
	fresh := good("dumps", "orders", "2026-06-01.dump", "", p.now.Add(-30*time.Minute))
	for _, b := range []*model.Backup{&old, &fresh} {
		b.Encrypted, b.Immutable, b.RetainUntil, b.StorageClass = true, true, b.End.Add(50*24*time.Hour), "GLACIER"
	}
	aws := &model.Protection{Versioning: "enabled", LockMode: "COMPLIANCE", LockRetention: 30 * 24 * time.Hour, Encryption: "AES256", LifecycleKnown: true}
	p.collect("dumps", &model.Catalog{Backups: []model.Backup{old, fresh}, Repositories: []model.Repository{
		{Source: "dumps", Env: "prod", Dataset: "orders", Name: "acme-dumps", ObservedAt: p.now, Healthy: true, Protection: aws}}})
	// A store that answered NotImplemented for encryption and lifecycle:
	// its backups are not known to be encrypted.
	mOld := good("minio", "users", "2026-04-20.dump", "", p.now.Add(-40*24*time.Hour))
	mFresh := good("minio", "users", "2026-06-01.dump", "", p.now.Add(-30*time.Minute))
	for _, b := range []*model.Backup{&mOld, &mFresh} {
		b.Immutable, b.RetainUntil = true, b.End.Add(50*24*time.Hour)
	}
	unknown := &model.Protection{Versioning: "enabled", LockMode: "COMPLIANCE", LockRetention: 60 * 24 * time.Hour}
	p.collect("minio", &model.Catalog{Backups: []model.Backup{mOld, mFresh}, Repositories: []model.Repository{
		{Source: "minio", Env: "prod", Dataset: "users", Name: "minio-dumps", ObservedAt: p.now, Healthy: true, Protection: unknown}}})

	check := func(res *policy.Result) {
		t.Helper()
		if !has(res, policy.CheckArchive, "dumps/orders/acme-dumps") {
			t.Errorf("no archive_after finding for a bucket that never transitions: %+v", res.Findings)
		}
		if !has(res, policy.CheckImmutable, "dumps/orders/acme-dumps") {
			t.Errorf("no immutability finding for a 30d lock under a 35d min_age: %+v", res.Findings)
		}
		for _, f := range res.Findings {
			if f.Subject.Source == "minio" {
				t.Errorf("a bucket of unknown encryption and lifecycle was judged: %s %s", f.Check, f.Observed)
			}
		}
	}
	check(p.both(p.now))
	if err := p.hist.Close(); err != nil {
		t.Fatal(err)
	}
	p.start()
	check(p.both(p.now.Add(time.Minute)))
}
