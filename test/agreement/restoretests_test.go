package agreement

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// awsTest is a restore test the aws source reports: an AWS Backup restore
// testing plan's job that restored a recovery point of prod's payments.
func awsTest(source, id, dataset string, ok bool, start time.Time) model.ProbeResult {
	r := model.ProbeResult{RunID: id, Probe: "aws-backup:" + source + "/weekly/prod/" + dataset, Kind: "aws-backup", Env: "prod", Dataset: dataset,
		Source: source, Collected: true, BackupID: "rp-" + id, RestoredPoint: start.Add(-2 * time.Hour), Start: start, Duration: 12 * time.Minute, Success: ok}
	if !ok {
		r.Error = "validation FAILED"
	}
	return r
}

// Restore tests that a source reports reach both evaluations alike: the
// exporter takes them from the catalogs it records (and remembers them
// once the source's jobs window no longer lists them), the analyzer reads
// them from the probes table. A success satisfies restore_test_every for
// its dataset, a later failure is restore_test.failed, a test reported
// again under another dataset is still the first one, a source that is
// not configured counts for nothing, and a restart forgets none of it.
func TestRestoreTestsAgree(t *testing.T) {
	p := newPair(t, `environments:
  prod: {rpo: 2h, rto: 30m, restore_test_every: 7d}
checks: {period: 1d}
sources:
  - {name: aws, type: awsbackup, env: prod, awsbackup: {region: eu-west-1}}
`)
	t0 := p.now
	backup := func(id string) model.Backup {
		b := good("aws", "payments", id, "", p.now.Add(-30*time.Minute))
		return b
	}
	const probe = "aws-backup:aws/weekly/prod/payments"
	j0 := awsTest("aws", "j0", "payments", false, t0.Add(-3*24*time.Hour))
	p.collect("aws", &model.Catalog{Backups: []model.Backup{backup("rp-1")}, Probes: []model.ProbeResult{j0, awsTest("aws", "j1", "payments", true, t0.Add(-2*24*time.Hour))}})
	// A test of a source not in the configuration: in the history, judged
	// by neither.
	p.collect("gone", &model.Catalog{Probes: []model.ProbeResult{awsTest("gone", "g1", "payments", false, t0.Add(-time.Hour))}})
	res := p.both(t0)
	for _, check := range []string{policy.CheckRestoreOverdue, policy.CheckRestoreFailed} {
		for _, f := range res.Findings {
			if f.Check == check {
				t.Errorf("%s after a successful restore test 2d ago: %s %s", check, f.Subject, f.Observed)
			}
		}
	}

	// Four days on the jobs window no longer lists j1; a newer test
	// failed, and j1 comes again with another dataset.
	p.now = t0.Add(4 * 24 * time.Hour)
	j1elsewhere := awsTest("aws", "j1", "ledger", true, t0.Add(-2*24*time.Hour))
	p.collect("aws", &model.Catalog{Backups: []model.Backup{backup("rp-2")}, Probes: []model.ProbeResult{awsTest("aws", "j2", "payments", false, p.now.Add(-time.Hour)), j1elsewhere}})
	res = p.both(p.now)
	if !has(res, policy.CheckRestoreFailed, "aws/payments/"+probe) {
		t.Errorf("no restore_test.failed for the failed test: %+v", res.Findings)
	}
	if has(res, policy.CheckRestoreOverdue, "payments") {
		t.Errorf("restore_test.overdue 6d after a successful test with restore_test_every 7d: %+v", res.Findings)
	}
	for _, f := range res.Findings {
		if f.Subject.Dataset == "ledger" {
			t.Errorf("a test reported again under another dataset counted for it: %s %s", f.Check, f.Subject)
		}
	}

	// Eight days after j1 the dataset is overdue: j2 failed, and a failed
	// test satisfies nothing; the finding names j1 as the last success.
	p.now = t0.Add(6 * 24 * time.Hour)
	p.collect("aws", &model.Catalog{Backups: []model.Backup{backup("rp-3")}})
	check := func(at time.Time) {
		t.Helper()
		res := p.both(at)
		if !has(res, policy.CheckRestoreOverdue, "payments") || !has(res, policy.CheckRestoreFailed, "aws/payments/"+probe) {
			t.Errorf("want restore_test.overdue and restore_test.failed: %+v", res.Findings)
		}
		for _, f := range res.Findings {
			if f.Check == policy.CheckRestoreOverdue && f.Observed != "last successful restore test 8d ago ("+t0.Add(-2*24*time.Hour).Format(time.RFC3339)+", probe "+probe+")" {
				t.Errorf("overdue observed %q", f.Observed)
			}
		}
	}
	check(p.now)
	if err := p.hist.Close(); err != nil {
		t.Fatal(err)
	}
	p.start()
	check(p.now)
	// After the restart the source reports two failed tests again, under
	// another dataset: each is taken once, in the version the history
	// holds, including j0, which is neither the newest run nor the newest
	// success and so not among what the restart read back.
	j0.Dataset, j0.Probe = "ledger", "aws-backup:aws/weekly/prod/ledger"
	p.collect("aws", &model.Catalog{Backups: []model.Backup{backup("rp-3")}, Probes: []model.ProbeResult{j0, awsTest("aws", "j2", "ledger", false, t0.Add(4*24*time.Hour-time.Hour))}})
	check(p.now)
	if res := p.both(p.now); has(res, policy.CheckRestoreFailed, "aws/ledger/aws-backup:aws/weekly/prod/ledger") {
		t.Error("a failed test reported again under another dataset failed that dataset too")
	}
}
