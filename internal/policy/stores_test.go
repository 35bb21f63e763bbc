package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

const storesConfig = `
environments:
  prod:
    rpo: 24h
    retention: {releases: 1, min_age: 35d}
    require: {encryption: kms, kms_keys: ["key-prod"], immutable: true}
    archive_after: 30d
    regions: [eu-west-1, eu-central-1]
  staging: {rpo: 24h, retention: {releases: 1, min_age: 7d}, archive_after: 30d}
classifications:
  pii: {regions: [eu-west-1], min_lock: {staging: 14d}}
sources:
  - {name: dumps, type: s3, env: prod, dataset: orders, s3: {bucket: acme-dumps, key_template: "{time}.dump"}}
  - {name: pii-dumps, type: s3, env: staging, dataset: users, classification: pii, s3: {bucket: acme-pii, key_template: "{time}.dump"}}
`

const day = 24 * time.Hour

// bucketState is a prod bucket and a staging pii bucket that meet every
// rule, with one fresh backup each, as the s3 collector reports them.
func bucketState() state {
	at := testAt()
	prodLock := model.Protection{Versioning: "enabled", LockMode: "COMPLIANCE", LockRetention: 40 * day, Encryption: "aws:kms", KMSKey: "key-prod",
		LifecycleKnown: true, TransitionAfter: 30 * day, TransitionClass: "GLACIER", ExpireAfter: 400 * day}
	piiLock := model.Protection{Versioning: "enabled", LockMode: "GOVERNANCE", LockRetention: 14 * day, Encryption: "AES256",
		LifecycleKnown: true, TransitionAfter: 20 * day, TransitionClass: "STANDARD_IA", ExpireAfter: 60 * day}
	return state{
		At: at,
		Backups: []model.Backup{
			{Source: "dumps", Env: "prod", Dataset: "orders", ID: "2026-06-01.dump", Type: model.BackupFull, Start: at.Add(-2 * time.Hour), End: at.Add(-time.Hour),
				Status: model.StatusSucceeded, StorageClass: "STANDARD", Region: "eu-west-1", Encrypted: true, KeyID: "key-prod", Immutable: true, RetainUntil: at.Add(39 * day)},
			{Source: "pii-dumps", Env: "staging", Dataset: "users", ID: "2026-06-01.dump", Type: model.BackupFull, Start: at.Add(-2 * time.Hour), End: at.Add(-time.Hour),
				Status: model.StatusSucceeded, StorageClass: "STANDARD", Region: "eu-west-1", Encrypted: true, Immutable: true, RetainUntil: at.Add(13 * day)},
			{Source: "dumps", Env: "prod", Dataset: "orders", ID: "2026-04-24.dump", Type: model.BackupFull, Start: at.Add(-38 * day), End: at.Add(-38 * day),
				Status: model.StatusSucceeded, StorageClass: "GLACIER", Region: "eu-west-1", Encrypted: true, KeyID: "key-prod", Immutable: true, RetainUntil: at.Add(2 * day)},
			{Source: "pii-dumps", Env: "staging", Dataset: "users", ID: "2026-05-24.dump", Type: model.BackupFull, Start: at.Add(-8 * day), End: at.Add(-8 * day),
				Status: model.StatusSucceeded, StorageClass: "STANDARD", Region: "eu-west-1", Encrypted: true, Immutable: true, RetainUntil: at.Add(6 * day)},
		},
		Repositories: []model.Repository{
			{Source: "dumps", Env: "prod", Dataset: "orders", Name: "acme-dumps", ObservedAt: at, Region: "eu-west-1", Healthy: true, Protection: &prodLock},
			{Source: "pii-dumps", Env: "staging", Dataset: "users", Name: "acme-pii", ObservedAt: at, Region: "eu-west-1", Healthy: true, Protection: &piiLock},
		},
	}
}

func storesCfg(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse("stores_test.yml", []byte(storesConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestBucketStateHasNoFindings(t *testing.T) {
	for _, f := range evaluate(storesCfg(t), bucketState()) {
		t.Errorf("unexpected %s %s %s: %s", f.Check, f.Env, f.Subject, f.Observed)
	}
}

// Each bucket fact drives its check, and a fact the store did not give
// (unknown) never yields a finding that says it is off.
func TestStoreFacts(t *testing.T) {
	prod := func(s *state) *model.Protection { return s.Repositories[0].Protection }
	pii := func(s *state) *model.Protection { return s.Repositories[1].Protection }
	cases := []struct {
		name    string
		change  func(*state)
		check   string
		subject string
		// observed is what the finding says; "" expects no finding of check.
		observed string
	}{
		{"a bucket lock shorter than the class's min_lock", func(s *state) { pii(s).LockRetention = 7 * day },
			CheckImmutable, "pii-dumps/users/acme-pii", "GOVERNANCE lock for 7d by default"},
		{"a bucket lock shorter than min_age where immutability is required", func(s *state) { prod(s).LockRetention = 30 * day },
			CheckImmutable, "dumps/orders/acme-dumps", "COMPLIANCE lock for 30d by default"},
		{"no default lock where the class asks for one", func(s *state) { pii(s).LockMode = "none"; pii(s).LockRetention = 0 },
			CheckImmutable, "pii-dumps/users/acme-pii", "no default lock"},
		{"an unknown lock is not judged", func(s *state) {
			pii(s).LockMode, pii(s).LockRetention = "", 0
			prod(s).LockMode, prod(s).LockRetention = "", 0
			for i := range s.Backups {
				s.Backups[i].Immutable, s.Backups[i].RetainUntil = false, time.Time{}
			}
		}, CheckImmutable, "", ""},
		{"a known absent lock makes the backups mutable", func(s *state) {
			prod(s).LockMode, prod(s).LockRetention = "none", 0
			s.Backups[0].Immutable, s.Backups[0].RetainUntil = false, time.Time{}
			s.Backups[2].Immutable, s.Backups[2].RetainUntil = false, time.Time{}
		}, CheckImmutable, "dumps/orders", "2 backups not immutable"},
		{"unknown encryption is not judged", func(s *state) {
			prod(s).Encryption, prod(s).KMSKey = "", ""
			s.Backups[0].Encrypted, s.Backups[0].KeyID = false, ""
			s.Backups[2].Encrypted, s.Backups[2].KeyID = false, ""
		}, CheckEncryption, "", ""},
		{"encryption known to be off is judged", func(s *state) {
			prod(s).Encryption, prod(s).KMSKey = "none", ""
			s.Backups[0].Encrypted, s.Backups[0].KeyID = false, ""
		}, CheckEncryption, "dumps/orders", "1 backup not encrypted"},
		{"SSE-S3 where kms is required", func(s *state) {
			prod(s).Encryption, prod(s).KMSKey = "AES256", ""
			s.Backups[0].KeyID = ""
		}, CheckEncryption, "dumps/orders", "1 encrypted without a KMS key"},
		{"a bucket key outside the allowlist", func(s *state) {
			prod(s).KMSKey = "key-legacy"
			s.Backups[0].KeyID = "key-legacy"
		}, CheckKMSKey, "dumps/orders", "1 backup encrypted with key-legacy"},
		{"a bucket region outside the class's regions", func(s *state) {
			s.Repositories[1].Region = "eu-central-1"
			s.Backups[1].Region = "eu-central-1"
		}, CheckResidency, "pii-dumps/users", "1 backup stored in eu-central-1"},
		{"a lifecycle that expires backups before min_age", func(s *state) { prod(s).ExpireAfter = 30 * day },
			CheckMinAge, "dumps/orders/acme-dumps", "lifecycle rule deletes backups after 30d"},
		{"a lifecycle that never transitions", func(s *state) { prod(s).TransitionAfter, prod(s).TransitionClass = 0, "" },
			CheckArchive, "dumps/orders/acme-dumps", "no lifecycle rule transitions backups"},
		{"a lifecycle that transitions after archive_after", func(s *state) { prod(s).TransitionAfter = 90 * day },
			CheckArchive, "dumps/orders/acme-dumps", "lifecycle moves backups to GLACIER after 90d"},
		{"an unknown lifecycle is not judged", func(s *state) {
			*prod(s) = model.Protection{LockMode: prod(s).LockMode, LockRetention: prod(s).LockRetention, Encryption: "aws:kms", KMSKey: "key-prod"}
		}, CheckArchive, "", ""},
		{"an unknown lifecycle expires nothing", func(s *state) {
			*prod(s) = model.Protection{LockMode: prod(s).LockMode, LockRetention: prod(s).LockRetention, Encryption: "aws:kms", KMSKey: "key-prod"}
		}, CheckMinAge, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := bucketState()
			tc.change(&s)
			got := find(evaluate(storesCfg(t), s), tc.check)
			if tc.observed == "" {
				if len(got) != 0 {
					t.Fatalf("%s fired: %s", tc.check, got[0].Observed)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d %s findings, want 1: %+v", len(got), tc.check, got)
			}
			if got[0].Subject.String() != tc.subject || !strings.HasPrefix(got[0].Observed, tc.observed) {
				t.Errorf("%s on %q: %q; want %q on %q", tc.check, got[0].Subject, got[0].Observed, tc.observed, tc.subject)
			}
		})
	}
}
