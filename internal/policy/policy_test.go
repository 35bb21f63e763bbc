package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

const testConfig = `
environments:
  prod:
    rpo: 1h
    rto: 30m
    retention: {releases: 3, min_age: 7d, max_age: 400d}
    require: {encryption: kms, kms_keys: ["key-prod"], immutable: true}
    archive_after: 90d
    regions: [eu-west-1, eu-central-1]
    restore_test_every: 7d
  staging: {rpo: 24h, retention: {releases: 2}, archive_after: 30d}
  dev: {rpo: 72h, retention: {releases: 1}}
classifications:
  pii:
    max_age: {dev: 0s, staging: 30d, prod: 400d}
    regions: [eu-west-1]
probes:
  - {name: orders-restore, kind: command, source: db, options: {command: ["true"]}}
sources:
  - {name: db, type: manifest, env: prod, classification: pii, manifest: {dir: m}}
  - {name: files, type: manifest, env: staging, manifest: {dir: m}}
  - {name: scratch, type: manifest, env: dev, manifest: {dir: m}}
checks:
  failures: {window: 24h, max: 1}
`

// state is a whole state as tests build it: slices they can edit.
type state struct {
	At           time.Time
	Backups      []model.Backup
	Repositories []model.Repository
	Probes       []model.ProbeResult
	Events       []model.Event
}

func (s state) input() Input {
	in := Input{At: s.At, Backups: Backups(s.Backups), Probes: ProbeStates(s.Probes), Events: s.Events}
	for _, r := range s.Repositories {
		in.Repositories = append(in.Repositories, RepositoryState{Repository: r})
	}
	return in
}

// evaluate runs the one evaluation over a test state.
func evaluate(cfg *config.Config, s state) []Finding { return Evaluate(cfg, s.input()).Findings }

// testAt is the moment every case is evaluated at.
func testAt() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func testCfg(t testing.TB) *config.Config {
	t.Helper()
	cfg, err := config.Parse("policy_test.yml", []byte(testConfig))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// prodBackup is a backup of prod's db/orders that meets every rule, ended
// ago before testAt.
func prodBackup(id, release string, ago time.Duration) model.Backup {
	end := testAt().Add(-ago)
	return model.Backup{
		Source: "db", Env: "prod", Dataset: "orders", ID: id, Type: model.BackupFull, Release: release,
		Start: end.Add(-10 * time.Minute), End: end, Status: model.StatusSucceeded,
		StoredBytes: 1 << 30, StorageClass: "STANDARD", Region: "eu-west-1",
		Encrypted: true, KeyID: "key-prod", Immutable: true,
		Classification: "pii",

		Detail: &model.BackupDetail{Agent: "pgbackrest", AgentVersion: "2.54.0", WALStart: "000000010000000000000010", WALStop: "000000010000000000000011"},
	}
}

// sourceTest is a restore test that source reported (an AWS Backup restore
// testing plan's job) of prod's orders, started ago before testAt.
func sourceTest(id, source string, ok bool, ago time.Duration) model.ProbeResult {
	r := model.ProbeResult{RunID: id, Probe: "aws-backup:" + source + "/weekly/prod/orders", Kind: "aws-backup", Env: "prod", Dataset: "orders",
		Source: source, Collected: true, Start: testAt().Add(-ago), Duration: 10 * time.Minute, Success: ok}
	if !ok {
		r.Error = "validation FAILED"
	}
	return r
}

// healthy is a state in which no check fires: three releases of prod data
// within every limit, a recent successful restore test, a continuous WAL
// archive, and staging and dev in order.
func healthy() state {
	b3 := prodBackup("b3", "v3", 30*time.Minute)
	b3.Detail.WALStart, b3.Detail.WALStop = "000000010000000000000030", "000000010000000000000031"
	stagingEnd := testAt().Add(-2 * time.Hour)
	return state{
		At: testAt(),
		Backups: []model.Backup{
			prodBackup("b1", "v1", 20*24*time.Hour),
			prodBackup("b2", "v2", 8*24*time.Hour),
			b3,
			{Source: "files", Env: "staging", Dataset: "uploads", ID: "s1", Type: model.BackupSnapshot, Release: "v2",
				Start: stagingEnd.Add(-48 * time.Hour), End: stagingEnd.Add(-47 * time.Hour), Status: model.StatusSucceeded,
				Detail:       &model.BackupDetail{Agent: "pgbackrest", AgentVersion: "2.54.1", Paths: []string{"/srv/uploads"}},
				StorageClass: "STANDARD", Region: "us-east-1"},
			{Source: "files", Env: "staging", Dataset: "uploads", ID: "s2", Type: model.BackupSnapshot, Release: "v3",
				Start: stagingEnd.Add(-5 * time.Minute), End: stagingEnd, Status: model.StatusSucceeded,
				Detail:       &model.BackupDetail{Agent: "pgbackrest", AgentVersion: "2.54.1", Paths: []string{"/srv/uploads"}},
				StorageClass: "STANDARD", Region: "us-east-1"},
		},
		Repositories: []model.Repository{{
			Source: "db", Env: "prod", Dataset: "orders", Name: "orders", ObservedAt: testAt().Add(-time.Minute),
			WALMin: "000000010000000000000001", WALMax: "000000010000000000000040", Healthy: true,
		}},
		Probes: []model.ProbeResult{{
			RunID: "r1", Probe: "orders-restore", Kind: "postgres", Env: "prod", Dataset: "orders", Source: "db",
			BackupID: "b3", Start: testAt().Add(-20 * time.Minute), Duration: 10 * time.Minute, Success: true,
			RestoredPoint: testAt().Add(-30 * time.Minute),
		}},
	}
}

func TestHealthyStateHasNoFindings(t *testing.T) {
	if fs := evaluate(testCfg(t), healthy()); len(fs) != 0 {
		for _, f := range fs {
			t.Errorf("unexpected %s %s %s: %s", f.Check, f.Env, f.Subject, f.Observed)
		}
	}
}

// find returns the findings of one check.
func find(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

func backupIdx(in *state, id string) *model.Backup {
	for i := range in.Backups {
		if in.Backups[i].ID == id {
			return &in.Backups[i]
		}
	}
	panic("no backup " + id)
}

type checkCase struct {
	name  string
	check string
	// change turns the healthy state into the case's state.
	change func(in *state)
	// fire is false for cases where the check must stay quiet.
	fire bool
	// observed and subject are what a firing finding must say.
	observed string
	subject  string
	start    time.Time
}

func checkCases() []checkCase {
	return append(eventCheckCases(), []checkCase{
		{name: "rpo fires when the newest good backup is older than the RPO", check: CheckRPO,
			change: func(in *state) { backupIdx(in, "b3").End = testAt().Add(-90 * time.Minute) },
			fire:   true, subject: "db/orders", observed: "newest successful backup b3 ended 1h30m ago", start: testAt().Add(-30 * time.Minute)},
		{name: "rpo fires when no good backup is retained", check: CheckRPO,
			change: func(in *state) {
				for i := range in.Backups {
					if in.Backups[i].Env == "prod" {
						in.Backups[i].Status = model.StatusFailed
					}
				}
			},
			fire: true, subject: "db/orders", observed: "no successful backup retained"},
		{name: "rpo stays quiet at exactly the RPO", check: CheckRPO,
			change: func(in *state) { backupIdx(in, "b3").End = testAt().Add(-time.Hour) }},
		{name: "rpo ignores a newer failed attempt", check: CheckRPO,
			change: func(in *state) {
				f := prodBackup("f1", "v3", time.Minute)
				f.Status = model.StatusFailed
				in.Backups = append(in.Backups, f)
			}},

		// staging's uploads ended 2h ago, well within its RPO of 24h.
		{name: "backup.late fires when the newest good backup is older than its schedule's interval and the grace", check: CheckLate,
			change: func(in *state) {
				setInterval(backupIdx(in, "s1"), 30*time.Minute)
				setInterval(backupIdx(in, "s2"), 30*time.Minute)
			},
			fire: true, subject: "files/uploads", observed: "newest successful backup s2 ended 2h ago", start: testAt().Add(-30 * time.Minute)},
		{name: "backup.late stays quiet at exactly the interval and the grace", check: CheckLate,
			change: func(in *state) { setInterval(backupIdx(in, "s2"), time.Hour) }},
		{name: "backup.late judges by the newest good backup's interval", check: CheckLate,
			change: func(in *state) {
				setInterval(backupIdx(in, "s1"), 30*time.Minute)
				setInterval(backupIdx(in, "s2"), time.Hour)
			}},
		{name: "backup.late stays quiet for series no schedule names", check: CheckLate,
			change: func(in *state) { backupIdx(in, "s2").End = testAt().Add(-20 * time.Hour) }},

		{name: "failures fire above the tolerated count in the window", check: CheckFailures,
			change: func(in *state) {
				for i, ago := range []time.Duration{2 * time.Hour, 23 * time.Hour} {
					f := prodBackup("f"+string(rune('1'+i)), "v3", ago)
					f.Status, f.Error = model.StatusFailed, "disk full"
					in.Backups = append(in.Backups, f)
				}
			},
			fire: true, subject: "db/orders", observed: "2 failed or partial backups in the last 24h; newest f1: disk full", start: testAt().Add(-23 * time.Hour)},
		{name: "failures stay quiet at the tolerated count and outside the window", check: CheckFailures,
			change: func(in *state) {
				f := prodBackup("f1", "v3", 2*time.Hour)
				f.Status = model.StatusPartial
				old := prodBackup("f2", "v3", 25*time.Hour)
				old.Status = model.StatusFailed
				in.Backups = append(in.Backups, f, old)
			}},

		{name: "retention.releases fires with fewer release states than required", check: CheckReleases,
			change: func(in *state) { backupIdx(in, "b1").Release = "v2" },
			fire:   true, subject: "db/orders", observed: "2 release states restorable (v2, v3)"},
		{name: "retention.releases does not count failed backups", check: CheckReleases,
			change: func(in *state) { backupIdx(in, "b1").Status = model.StatusFailed },
			fire:   true, subject: "db/orders", observed: "2 release states restorable (v2, v3)"},
		{name: "retention.releases skips datasets without release labels", check: CheckReleases,
			change: func(in *state) {
				for i := range in.Backups {
					in.Backups[i].Release = ""
				}
			}},

		{name: "retention.min_age fires when the oldest good backup is too young", check: CheckMinAge,
			change: func(in *state) {
				in.Backups = slices.DeleteFunc(in.Backups, func(b model.Backup) bool { return b.ID == "b1" || b.ID == "b2" })
			},
			fire: true, subject: "db/orders", observed: "oldest successful backup b3 is 30m old"},
		{name: "retention.min_age stays quiet when history reaches back far enough", check: CheckMinAge,
			change: func(in *state) { backupIdx(in, "b1").End = testAt().Add(-7 * 24 * time.Hour) }},

		{name: "retention.max_age fires for backups kept too long", check: CheckMaxAge,
			change: func(in *state) {
				in.Backups = append(in.Backups, prodBackup("old", "v0", 401*24*time.Hour))
			},
			fire: true, subject: "db/orders", observed: "1 backup older than 400d; oldest old is 401d old", start: testAt().Add(-24 * time.Hour)},
		{name: "retention.max_age stays quiet within the maximum", check: CheckMaxAge,
			change: func(in *state) { in.Backups = append(in.Backups, prodBackup("old", "v0", 399*24*time.Hour)) }},

		{name: "retention.classification fires for PII older than its class allows", check: CheckClassMaxAge,
			change: func(in *state) {
				in.Backups = append(in.Backups, model.Backup{Source: "files", Env: "staging", Dataset: "uploads", ID: "pii-1",
					Classification: "pii", End: testAt().Add(-31 * 24 * time.Hour), Start: testAt().Add(-31 * 24 * time.Hour), Status: model.StatusSucceeded})
			},
			fire: true, subject: "files/uploads", observed: "1 backup pii data older than 30d; oldest pii-1 is 31d old", start: testAt().Add(-24 * time.Hour)},
		{name: "retention.classification with 0s forbids the class in an environment", check: CheckClassMaxAge,
			change: func(in *state) {
				in.Backups = append(in.Backups, model.Backup{Source: "scratch", Env: "dev", Dataset: "copy", ID: "d1",
					Classification: "pii", End: testAt().Add(-time.Minute), Start: testAt().Add(-2 * time.Minute), Status: model.StatusSucceeded})
			},
			fire: true, subject: "scratch/copy", observed: "1 backup pii data older than 0s"},
		{name: "retention.classification stays quiet for unclassified data", check: CheckClassMaxAge,
			change: func(in *state) {
				in.Backups = append(in.Backups, model.Backup{Source: "scratch", Env: "dev", Dataset: "copy", ID: "d1",
					End: testAt().Add(-time.Minute), Start: testAt().Add(-2 * time.Minute), Status: model.StatusSucceeded})
			}},

		{name: "backup.last_failed fires when the newest finished attempt failed", check: CheckLastFailed,
			change: func(in *state) {
				f := prodBackup("f1", "v3", time.Minute)
				f.Status, f.Error = model.StatusFailed, "disk full"
				in.Backups = append(in.Backups, f)
			},
			fire: true, subject: "db/orders", observed: "newest attempt f1 (full) ended " + rfc3339(testAt().Add(-time.Minute)) + " with status failed: disk full", start: testAt().Add(-time.Minute)},
		{name: "backup.last_failed stays quiet when a later backup made a failure good", check: CheckLastFailed,
			change: func(in *state) {
				f := prodBackup("f0", "v3", 40*time.Minute)
				f.Status = model.StatusFailed
				in.Backups = append(in.Backups, f)
			}},

		{name: "release.backup fires when a release appears before any good backup of the one before", check: CheckReleaseBackup,
			change: func(in *state) { backupIdx(in, "b2").Status = model.StatusFailed },
			fire:   true, subject: "db/orders@v3", observed: "v3 first seen " + rfc3339(testAt().Add(-40*time.Minute)) + "; v2 has no successful backup", start: testAt().Add(-40 * time.Minute)},
		{name: "release.backup stays quiet when every release was backed up before the next", check: CheckReleaseBackup,
			change: func(in *state) {}},

		{name: "encryption fires for unencrypted backups where kms is required", check: CheckEncryption,
			change: func(in *state) {
				backupIdx(in, "b2").Encrypted = false
				backupIdx(in, "b1").KeyID = ""
			},
			fire: true, subject: "db/orders", observed: "1 backup not encrypted, 1 encrypted without a KMS key; newest b2"},
		{name: "encryption ignores failed backups that hold no data", check: CheckEncryption,
			change: func(in *state) {
				f := prodBackup("f1", "v3", time.Minute)
				f.Status, f.Encrypted = model.StatusFailed, false
				in.Backups = append(in.Backups, f)
			}},

		{name: "encryption.kms_key fires for a key outside the allowlist", check: CheckKMSKey,
			change: func(in *state) { backupIdx(in, "b3").KeyID = "key-legacy" },
			fire:   true, subject: "db/orders", observed: "1 backup encrypted with key-legacy"},
		{name: "encryption.kms_key stays quiet for allowed keys", check: CheckKMSKey,
			change: func(in *state) { in.Backups = in.Backups[:2] }},

		{name: "immutability fires for a mutable backup and an expired lock", check: CheckImmutable,
			change: func(in *state) {
				backupIdx(in, "b3").Immutable = false
				backupIdx(in, "b1").RetainUntil = testAt().Add(-time.Hour)
			},
			fire: true, subject: "db/orders", observed: "1 backup not immutable, 1 with an expired lock; newest b3"},
		{name: "immutability stays quiet while the lock lasts", check: CheckImmutable,
			change: func(in *state) { backupIdx(in, "b1").RetainUntil = testAt().Add(time.Hour) }},

		{name: "archive_after fires for old backups in hot storage", check: CheckArchive,
			change: func(in *state) {
				s1 := backupIdx(in, "s1")
				s1.End, s1.StoredBytes = testAt().Add(-31*24*time.Hour), 3<<29
			},
			fire: true, subject: "files/uploads", observed: "1 backup in hot storage after 30d; oldest s1 is 31d old, 1.5 GiB stored"},
		{name: "archive_after stays quiet once backups left hot storage", check: CheckArchive,
			change: func(in *state) {
				s1 := backupIdx(in, "s1")
				s1.End, s1.StorageClass = testAt().Add(-31*24*time.Hour), "GLACIER"
			}},

		{name: "residency fires for a region the environment and class do not allow", check: CheckResidency,
			change: func(in *state) { backupIdx(in, "b2").Region = "eu-central-1" },
			fire:   true, subject: "db/orders", observed: "1 backup stored in eu-central-1"},
		{name: "residency stays quiet in allowed regions", check: CheckResidency,
			change: func(in *state) { backupIdx(in, "b2").Region = "eu-west-1" }},

		{name: "restore_test.overdue fires without a recent successful restore", check: CheckRestoreOverdue,
			change: func(in *state) {
				in.Probes[0].Start = testAt().Add(-8 * 24 * time.Hour)
				in.Probes[0].RestoredPoint = in.Probes[0].Start.Add(-time.Minute)
			},
			fire: true, subject: "orders", observed: "last successful restore test 8d ago", start: testAt().Add(-24 * time.Hour)},
		{name: "restore_test.overdue stays quiet in environments without an interval", check: CheckRestoreOverdue,
			change: func(in *state) { in.Probes = nil; in.Backups = in.Backups[3:] }},

		// Restore tests a source reports (AWS Backup restore testing
		// plans) count as the configured probes' runs do, whatever their
		// name: a success satisfies restore_test_every for its dataset,
		// a failure does not, and a source that is not configured counts
		// for nothing.
		{name: "restore_test.overdue stays quiet after a source's successful restore test", check: CheckRestoreOverdue,
			change: func(in *state) {
				in.Probes[0].Start = testAt().Add(-8 * 24 * time.Hour)
				in.Probes = append(in.Probes, sourceTest("j1", "db", true, 2*24*time.Hour))
			}},
		{name: "restore_test.overdue fires when a source's recent restore test failed", check: CheckRestoreOverdue,
			change: func(in *state) {
				in.Probes[0].Start = testAt().Add(-8 * 24 * time.Hour)
				in.Probes = append(in.Probes, sourceTest("j1", "db", false, 2*24*time.Hour))
			},
			fire: true, subject: "orders", observed: "last successful restore test 8d ago (" + rfc3339(testAt().Add(-8*24*time.Hour)) + ", probe orders-restore)"},
		{name: "restore_test.overdue fires when the source of a restore test is not configured", check: CheckRestoreOverdue,
			change: func(in *state) {
				in.Probes[0].Start = testAt().Add(-8 * 24 * time.Hour)
				in.Probes = append(in.Probes, sourceTest("j1", "elsewhere", true, 2*24*time.Hour))
			},
			fire: true, subject: "orders", observed: "last successful restore test 8d ago"},
		{name: "restore_test.overdue names a source's restore test as the last success", check: CheckRestoreOverdue,
			change: func(in *state) {
				in.Probes = []model.ProbeResult{sourceTest("j1", "db", true, 9*24*time.Hour)}
			},
			fire: true, subject: "orders", observed: "last successful restore test 9d ago (" + rfc3339(testAt().Add(-9*24*time.Hour)) + ", probe aws-backup:db/weekly/prod/orders)"},
		{name: "restore_test.failed fires when a source's newest restore test failed", check: CheckRestoreFailed,
			change: func(in *state) {
				in.Probes = append(in.Probes, sourceTest("j1", "db", true, 2*time.Hour), sourceTest("j2", "db", false, time.Hour))
			},
			fire: true, subject: "db/orders/aws-backup:db/weekly/prod/orders", observed: "run j2 at " + rfc3339(testAt().Add(-time.Hour)) + " failed: validation FAILED"},
		{name: "restore_test.failed ignores the failed restore tests of a source not configured", check: CheckRestoreFailed,
			change: func(in *state) { in.Probes = append(in.Probes, sourceTest("j2", "elsewhere", false, time.Hour)) }},
		{name: "restore_test.rto judges the restore time of a source's restore test", check: CheckRTO,
			change: func(in *state) {
				r := sourceTest("j1", "db", true, time.Hour)
				r.Duration = 45 * time.Minute
				in.Probes = append(in.Probes, r)
			},
			fire: true, subject: "db/orders/aws-backup:db/weekly/prod/orders", observed: "run j1 took 45m"},
		{name: "restore_test.failed fires when the newest run failed", check: CheckRestoreFailed,
			change: func(in *state) {
				in.Probes = append(in.Probes, model.ProbeResult{RunID: "r2", Probe: "orders-restore", Env: "prod", Dataset: "orders",
					Start: testAt().Add(-5 * time.Minute), Duration: time.Minute, Error: "pg_restore: relation missing"})
			},
			fire: true, subject: "orders/orders-restore", observed: "run r2 at " + rfc3339(testAt().Add(-5*time.Minute)) + " failed: pg_restore: relation missing"},
		{name: "restore_test.failed stays quiet when a later run succeeded", check: CheckRestoreFailed,
			change: func(in *state) {
				in.Probes = append(in.Probes, model.ProbeResult{RunID: "r0", Probe: "orders-restore", Env: "prod", Dataset: "orders",
					Start: testAt().Add(-3 * time.Hour), Duration: time.Minute, Error: "timeout"})
			}},

		{name: "restore_test.rto fires when the restore took longer than the RTO", check: CheckRTO,
			change: func(in *state) { in.Probes[0].Duration = 31 * time.Minute },
			fire:   true, subject: "db/orders/orders-restore", observed: "run r1 took 31m"},
		{name: "restore_test.rto uses the probe's own target first", check: CheckRTO,
			change: func(in *state) { in.Probes[0].Duration, in.Probes[0].RTOTarget = 31*time.Minute, time.Hour }},

		{name: "restore_test.rpo fires when restored data was older than the RPO", check: CheckRestoreRPO,
			change: func(in *state) { in.Probes[0].RestoredPoint = in.Probes[0].Start.Add(-2 * time.Hour) },
			fire:   true, subject: "db/orders/orders-restore", observed: "run r1 restored data 2h old"},
		{name: "restore_test.rpo stays quiet when the restored point is unknown", check: CheckRestoreRPO,
			change: func(in *state) { in.Probes[0].RestoredPoint = time.Time{} }},

		{name: "agent_drift fires when environments run different minor versions", check: CheckAgentDrift,
			change: func(in *state) { backupIdx(in, "s2").Detail.AgentVersion = "2.55.0" },
			fire:   true, subject: "pgbackrest", observed: "pgbackrest 2.54 in prod, 2.55 in staging"},
		{name: "agent_drift ignores patch differences at the minor level", check: CheckAgentDrift,
			change: func(in *state) { backupIdx(in, "s2").Detail.AgentVersion = "2.54.9" }},

		{name: "ephemeral_data fires for caches in non-prod backups", check: CheckEphemeral,
			change: func(in *state) {
				backupIdx(in, "s2").Detail.Paths = []string{"/srv/uploads", "/var/log", "/srv/uploads/cache", "/srv/uploads/docs", "/var/log/app.log"}
			},
			fire: true, subject: "files/uploads", observed: "1 backup contains /srv/uploads/cache, /var/log/app.log"},
		// The false positive of issue #9: only the roots are known, and
		// a root's own elements (tmp, log) say nothing about its content.
		{name: "ephemeral_data ignores the elements of the backup roots", check: CheckEphemeral,
			change: func(in *state) {
				backupIdx(in, "s2").Detail.Paths = []string{"/tmp/build-7", "/var/log/app", "/var/log/app/current", "/srv/cache"}
			}},
		{name: "ephemeral_data leaves prod alone", check: CheckEphemeral,
			change: func(in *state) { backupIdx(in, "b3").Detail.Paths = []string{"/srv/app", "/srv/app/cache"} }},

		{name: "pitr.gap fires when the archive starts after the oldest backup", check: CheckPITR,
			change: func(in *state) { in.Repositories[0].WALMin = "000000010000000000000012" },
			fire:   true, subject: "db/orders/orders", observed: "WAL archive starts at 000000010000000000000012"},
		{name: "pitr.gap fires when the archive ends before the newest backup", check: CheckPITR,
			change: func(in *state) { in.Repositories[0].WALMax = "000000010000000000000030" },
			fire:   true, subject: "db/orders/orders", observed: "WAL archive ends at 000000010000000000000030"},
		{name: "pitr.gap compares timelines numerically", check: CheckPITR,
			change: func(in *state) { in.Repositories[0].WALMax = "000000020000000000000001" }},
	}...)
}

func TestChecks(t *testing.T) {
	cfg := testCfg(t)
	for _, c := range checkCases() {
		t.Run(c.name, func(t *testing.T) {
			in := healthy()
			c.change(&in)
			got := find(evaluate(cfg, in), c.check)
			if !c.fire {
				for _, f := range got {
					t.Errorf("%s fired: %s %s: %s", c.check, f.Env, f.Subject, f.Observed)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%s fired %d times, want once: %+v", c.check, len(got), got)
			}
			f := got[0]
			if !strings.Contains(f.Observed, c.observed) {
				t.Errorf("observed = %q, want it to contain %q", f.Observed, c.observed)
			}
			if f.Subject.String() != c.subject {
				t.Errorf("subject = %q, want %q", f.Subject, c.subject)
			}
			if !c.start.IsZero() && !f.Start.Equal(c.start) {
				t.Errorf("start = %s, want %s", f.Start, c.start)
			}
			want, _ := Lookup(c.check)
			if f.Severity != want.Severity || !slices.Equal(f.Controls, want.Controls) {
				t.Errorf("severity %s controls %v, want the catalog's %s %v", f.Severity, f.Controls, want.Severity, want.Controls)
			}
			if f.Expected == "" {
				t.Error("finding says nothing about what was expected")
			}
		})
	}
}

// Every check but the analyzer's historical ones has a case that makes it
// fire and one that keeps it quiet here; the historical ones are tested
// against a history in cmd/analyze.
func TestEveryCheckHasFiringAndQuietCases(t *testing.T) {
	fire, quiet := map[string]bool{}, map[string]bool{}
	for _, c := range checkCases() {
		if c.fire {
			fire[c.check] = true
		} else {
			quiet[c.check] = true
		}
	}
	for _, c := range Checks() {
		if c.History {
			continue
		}
		if !fire[c.ID] || !quiet[c.ID] {
			t.Errorf("check %s: firing case %v, quiet case %v", c.ID, fire[c.ID], quiet[c.ID])
		}
	}
}

func TestPITRStalledArchive(t *testing.T) {
	cfg := testCfg(t)
	in := healthy()
	stalled := func(since time.Time) []Finding {
		x := in.input()
		x.Repositories[0].WALSince = since
		return Evaluate(cfg, x).Findings
	}
	got := find(stalled(testAt().Add(-90*time.Minute)), CheckPITR)
	if len(got) != 1 || !strings.Contains(got[0].Observed, "stuck at 000000010000000000000040 since "+rfc3339(testAt().Add(-90*time.Minute))) {
		t.Fatalf("stalled archive: %+v", got)
	}
	if want := testAt().Add(-30 * time.Minute); !got[0].Start.Equal(want) {
		t.Errorf("start = %s, want %s", got[0].Start, want)
	}
	if got := find(stalled(testAt().Add(-59*time.Minute)), CheckPITR); len(got) != 0 {
		t.Errorf("archive that advanced within the RPO: %+v", got)
	}
}

// History knows failures that no catalog retains: SetAttempts replaces
// what the retained backups say.
func TestAttemptsFromHistory(t *testing.T) {
	cfg := testCfg(t)
	in := healthy()
	var attempts []model.Backup
	for i, ago := range []time.Duration{time.Hour, 3 * time.Hour, 30 * time.Hour} {
		f := prodBackup("gone-"+string(rune('a'+i)), "v3", ago)
		f.Status = model.StatusFailed
		attempts = append(attempts, f)
	}
	x := in.input()
	x.Attempts = attempts
	got := find(Evaluate(cfg, x).Findings, CheckFailures)
	if len(got) != 1 || !strings.HasPrefix(got[0].Observed, "2 failed or partial backups") {
		t.Fatalf("failures from history: %+v", got)
	}
}

// The release check judges the releases the history saw first within the
// period only.
func TestReleaseSightingsFromHistory(t *testing.T) {
	cfg := testCfg(t)
	k := model.SeriesKey{Env: "prod", Source: "db", Dataset: "orders"}
	sightings := []ReleaseSighting{
		{Series: k, Release: "v1", FirstSeen: testAt().Add(-60 * 24 * time.Hour)},
		{Series: k, Release: "v2", FirstSeen: testAt().Add(-40 * 24 * time.Hour), FirstGood: Evidence{ID: "g2", Time: testAt().Add(-39 * 24 * time.Hour)}},
		{Series: k, Release: "v3", FirstSeen: testAt().Add(-10 * 24 * time.Hour)},
	}
	for _, tc := range []struct {
		since time.Time
		want  []string
	}{
		{since: testAt().Add(-90 * 24 * time.Hour), want: []string{"db/orders@v2"}},
		{since: testAt().Add(-30 * 24 * time.Hour), want: nil},
	} {
		res := Evaluate(cfg, Input{At: testAt(), Since: tc.since, Sightings: sightings})
		var got []string
		for _, f := range find(res.Findings, CheckReleaseBackup) {
			got = append(got, f.Subject.String())
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("since %s: release findings %v, want %v", tc.since, got, tc.want)
		}
	}
}

func TestExpectedSeriesWithoutBackups(t *testing.T) {
	seen := map[model.SeriesKey]time.Time{{Env: "prod", Source: "db", Dataset: "gone"}: testAt().Add(-time.Hour)}
	got := find(Evaluate(testCfg(t), Input{At: testAt(), Seen: seen}).Findings, CheckRPO)
	if len(got) != 1 || got[0].Observed != "no successful backup retained" || got[0].Subject.Dataset != "gone" {
		t.Fatalf("expected series: %+v", got)
	}
}

func TestHistoryFindingOfRPOBreach(t *testing.T) {
	b := RPOBreach{
		Series: model.SeriesKey{Env: "prod", Source: "db", Dataset: "orders"}, RPO: time.Hour,
		Start: testAt().Add(-5 * time.Hour), End: testAt().Add(-2 * time.Hour),
		Before: Evidence{Kind: "backup", ID: "a"}, After: Evidence{Kind: "backup", ID: "b"},
	}
	f := b.HistoryFinding()
	if f.Check != CheckRPOHistory || f.Severity != SeverityInfo || !strings.HasPrefix(f.Observed, "RPO breached for 3h, ") || len(f.Evidence) != 2 {
		t.Fatalf("history finding: %+v", f)
	}
}

func TestCompareWAL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"000000010000000000000010", "000000010000000000000010", 0},
		{"00000001000000000000000F", "000000010000000000000010", -1},
		{"000000010000000100000000", "0000000100000000000000FF", 1},
		{"000000020000000000000001", "0000000100000000000000FF", 1},
		{"b", "a", 1},
	} {
		if got := CompareWAL(tc.a, tc.b); got != tc.want {
			t.Errorf("CompareWAL(%s, %s) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestEphemeralMatch(t *testing.T) {
	patterns := []string{"cache", "tmp", "*.log", "/var/tmp/*"}
	for _, tc := range []struct{ root, path, want string }{
		{"/srv/app", "/srv/app/cache", "cache"},
		{"/srv", "/srv/cache/data", "cache"},
		{"/var/log", "/var/log/app.log", "*.log"},
		{"/var/tmp", "/var/tmp/upload-1", "/var/tmp/*"},
		{"/srv/app", "/srv/app/uploads", ""},
		{"/srv/app", "/srv/app/cachedata", ""},
		// The root's own elements never match: where a backup was
		// taken from says nothing about what it holds.
		{"/tmp/build-1", "/tmp/build-1/src", ""},
		{"/home/u/.cache-free/cache", "/home/u/.cache-free/cache/x", ""},
		{"/srv/tmp", "/srv/tmp", ""},
		// A relative root (restic backup data) is read as from "/".
		{"data", "data/tmp", "tmp"},
		{"/", "/tmp", "tmp"},
	} {
		if got := EphemeralMatch(patterns, tc.root, tc.path); got != tc.want {
			t.Errorf("EphemeralMatch(%s below %s) = %q, want %q", tc.path, tc.root, got, tc.want)
		}
	}
}

func TestBackupRoots(t *testing.T) {
	paths := []string{"/srv/app", "/var/tmp", "/srv/app/cache", "/srv/app/data", "/srv/app/data/tmp", "/var/tmp/x", "/etc"}
	want := []string{"", "", "/srv/app", "/srv/app", "/srv/app", "/var/tmp", ""}
	if got := BackupRoots(paths); !slices.Equal(got, want) {
		t.Errorf("BackupRoots = %q, want %q", got, want)
	}
	if got := BackupRoots([]string{"/", "/tmp"}); !slices.Equal(got, []string{"", "/"}) {
		t.Errorf("BackupRoots of a backup of / = %q", got)
	}
}

func TestVersionAt(t *testing.T) {
	for _, tc := range []struct{ v, level, want string }{
		{"2.54.1", config.DriftMajor, "2"},
		{"v2.54.1", config.DriftMinor, "2.54"},
		{"2.54.1", config.DriftPatch, "2.54.1"},
		{"16", config.DriftMinor, "16"},
	} {
		if got := VersionAt(tc.v, tc.level); got != tc.want {
			t.Errorf("VersionAt(%s, %s) = %s, want %s", tc.v, tc.level, got, tc.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		12 * time.Second:                "12s",
		45 * time.Minute:                "45m",
		26*time.Hour + 10*time.Minute:   "26h10m",
		3*24*time.Hour + 4*time.Hour:    "3d4h",
		400 * 24 * time.Hour:            "400d",
		-90 * time.Minute:               "-1h30m",
		47*time.Hour + 59*time.Minute:   "47h59m",
		48*time.Hour + 29*time.Minute:   "2d",
		100*24*time.Hour + 31*time.Hour: "101d7h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %s, want %s", d, got, want)
		}
	}
}

func TestSeverity(t *testing.T) {
	for _, s := range Severities() {
		got, err := ParseSeverity(strings.ToUpper(s.String()))
		if err != nil || got != s {
			t.Errorf("ParseSeverity(%s) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseSeverity("urgent"); err == nil {
		t.Error("ParseSeverity accepted an unknown severity")
	}
	fs := []Finding{{Severity: SeverityInfo}, {Severity: SeverityCritical}, {Severity: SeverityWarning}}
	Sort(fs)
	if fs[0].Severity != SeverityCritical || fs[2].Severity != SeverityInfo || Count(fs, SeverityWarning) != 2 {
		t.Errorf("sorted %v", fs)
	}
}

func TestCatalogIsConsistent(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks() {
		if seen[c.ID] {
			t.Errorf("duplicate check %s", c.ID)
		}
		seen[c.ID] = true
		if c.Title == "" || c.Help == "" || c.Severity == 0 {
			t.Errorf("check %s lacks a title, help or severity", c.ID)
		}
	}
}

// The configuration's expected_interval wins over the interval a
// collector read from a schedule, in both directions; checks.late.grace
// moves the threshold.
func TestLateIntervalFromTheConfigurationWins(t *testing.T) {
	in := healthy()
	setInterval(backupIdx(&in, "s2"), 30*time.Minute) // 2h old: late by the schedule
	setInterval(backupIdx(&in, "b3"), 24*time.Hour)   // 30m old: not late by the schedule
	for _, tc := range []struct {
		name string
		late []string
	}{
		{"schedules only", []string{"files/uploads"}},
		{"a longer interval for files", nil},
		{"a shorter interval for db", []string{"db/orders", "files/uploads"}},
		{"a longer grace", nil},
	} {
		text := testConfig
		switch tc.name {
		case "a longer interval for files":
			text = strings.Replace(text, "{name: files, type: manifest, env: staging, manifest: {dir: m}}", "{name: files, type: manifest, env: staging, expected_interval: 3h, manifest: {dir: m}}", 1)
		case "a shorter interval for db":
			text = strings.Replace(text, "{name: db, type: manifest, env: prod, classification: pii, manifest: {dir: m}}", "{name: db, type: manifest, env: prod, classification: pii, expected_interval: 10m, manifest: {dir: m}}", 1)
			text = strings.Replace(text, "checks:\n", "checks:\n  late: {grace: 15m}\n", 1)
		case "a longer grace":
			text = strings.Replace(text, "checks:\n", "checks:\n  late: {grace: 2h}\n", 1)
		}
		cfg, err := config.Parse("policy_test.yml", []byte(text))
		if err != nil {
			t.Fatal(err)
		}
		var late []string
		for _, f := range find(evaluate(cfg, in), CheckLate) {
			late = append(late, f.Subject.String())
		}
		slices.Sort(late)
		if !slices.Equal(late, tc.late) {
			t.Errorf("%s: late %v, want %v", tc.name, late, tc.late)
		}
	}
}

// setInterval sets the interval the backup's schedule expects.
func setInterval(b *model.Backup, every time.Duration) {
	d := b.Details()
	d.ExpectedInterval = every
	b.SetDetails(d)
}

// rpo and backup.late build their findings alike from the newest good
// backup: what each expected (backup.late says where its interval comes
// from), when it started, and the newest good backup and the newest
// attempt, when that is another, as evidence.
func TestStaleFindingsSayWhatWasExpected(t *testing.T) {
	failed := prodBackup("f1", "v3", 10*time.Minute)
	failed.Status = model.StatusFailed
	for _, tc := range []struct {
		name, check string
		config      func(string) string
		change      func(in *state)
		expected    string
		start       time.Time
		evidence    []string
	}{
		{name: "rpo", check: CheckRPO,
			change: func(in *state) {
				backupIdx(in, "b3").End = testAt().Add(-90 * time.Minute)
				in.Backups = append(in.Backups, failed)
			},
			expected: "newest successful backup at most 1h old", start: testAt().Add(-30 * time.Minute),
			evidence: []string{"b3 newest successful backup", "f1 newest attempt, failed"}},
		{name: "late by the schedule", check: CheckLate,
			change:   func(in *state) { setInterval(backupIdx(in, "s2"), 30*time.Minute) },
			expected: "a successful backup every 30m (the schedule of s2), 1h late at most", start: testAt().Add(-30 * time.Minute),
			evidence: []string{"s2 newest successful backup"}},
		{name: "late by the configuration", check: CheckLate,
			config: func(text string) string {
				return strings.Replace(text, "{name: db, type: manifest, env: prod, classification: pii, manifest: {dir: m}}", "{name: db, type: manifest, env: prod, classification: pii, expected_interval: 10m, manifest: {dir: m}}", 1)
			},
			change: func(in *state) {
				backupIdx(in, "b3").End = testAt().Add(-80 * time.Minute)
				setInterval(backupIdx(in, "b3"), 24*time.Hour)
				in.Backups = append(in.Backups, failed)
			},
			expected: "a successful backup every 10m (expected_interval of source db), 1h late at most", start: testAt().Add(-10 * time.Minute),
			evidence: []string{"b3 newest successful backup", "f1 newest attempt, failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := testConfig
			if tc.config != nil {
				text = tc.config(text)
			}
			cfg, err := config.Parse("policy_test.yml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			in := healthy()
			tc.change(&in)
			got := find(evaluate(cfg, in), tc.check)
			if len(got) != 1 {
				t.Fatalf("%s fired %d times, want once: %+v", tc.check, len(got), got)
			}
			f := got[0]
			if f.Expected != tc.expected {
				t.Errorf("expected = %q, want %q", f.Expected, tc.expected)
			}
			if !f.Start.Equal(tc.start) {
				t.Errorf("start = %s, want %s", f.Start, tc.start)
			}
			var evidence []string
			for _, e := range f.Evidence {
				evidence = append(evidence, e.ID+" "+e.Note)
			}
			if !slices.Equal(evidence, tc.evidence) {
				t.Errorf("evidence %q, want %q", evidence, tc.evidence)
			}
		})
	}
}

// checks.late.grace: 0s is not "no grace" but the default hour
// (docs/config.md, checks): a series an hour past its interval is not late.
func TestLateGraceZeroIsTheDefault(t *testing.T) {
	cfg, err := config.Parse("policy_test.yml", []byte(strings.Replace(testConfig, "checks:\n", "checks:\n  late: {grace: 0s}\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	in := healthy()
	setInterval(backupIdx(&in, "s2"), time.Hour) // 2h old: an hour past its interval
	if got := find(evaluate(cfg, in), CheckLate); len(got) != 0 {
		t.Errorf("grace 0s: backup.late fired: %+v", got)
	}
	setInterval(backupIdx(&in, "s2"), 59*time.Minute)
	got := find(evaluate(cfg, in), CheckLate)
	if len(got) != 1 || !strings.HasSuffix(got[0].Expected, ", 1h late at most") {
		t.Errorf("grace 0s: backup.late = %+v, want one finding allowing 1h", got)
	}
}
