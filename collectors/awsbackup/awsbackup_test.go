package awsbackup

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/runx"
)

var now = time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)

const (
	acct     = "111122223333"
	key      = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	secret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	rpA1     = "arn:aws:rds:eu-west-1:" + acct + ":snapshot:awsbackup:job-a1"
	rpA0     = "arn:aws:rds:eu-west-1:" + acct + ":snapshot:awsbackup:job-a0"
	rpA2     = "arn:aws:ec2:eu-west-1::snapshot/snap-a2"
	rpA3     = "arn:aws:rds:eu-west-1:" + acct + ":snapshot:awsbackup:job-a3"
	rpB1     = "arn:aws:ec2:eu-west-1::snapshot/snap-b1"
	vaultRe  = "(?P<env>prod|staging)-(?P<dataset>.+)"
	errThrot = "ThrottlingException"
)

// server replays AWS Backup's restJson1 answers from testdata, in the
// shapes of the SDK's response snapshots: epoch seconds with fractions,
// NextToken paging. It counts requests by operation.
type server struct {
	*httptest.Server
	mu       sync.Mutex
	requests map[string]int
	// throttle answers this many requests with ThrottlingException
	// (-1: every request).
	throttle int
	// errorType, when set, answers every request with that error (403).
	errorType string
	tags      map[string]map[string]string
}

func newServer(t testing.TB) *server {
	t.Helper()
	s := &server{requests: map[string]int{}}
	data, err := os.ReadFile("testdata/ListTags.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &s.tags); err != nil {
		t.Fatal(err)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	page := r.URL.Query().Get("nextToken")
	if page == "" {
		page = "1"
	}
	var op, file string
	switch {
	case path == "/backup-vaults":
		op, file = OpListVaults, "ListBackupVaults."+page+".json"
	case strings.HasPrefix(path, "/backup-vaults/") && strings.HasSuffix(path, "/recovery-points"):
		name := strings.TrimSuffix(strings.TrimPrefix(path, "/backup-vaults/"), "/recovery-points")
		op, file = OpListRecoveryPoints, "ListRecoveryPointsByBackupVault."+name+"."+page+".json"
	case path == "/backup-jobs":
		op, file = OpListBackupJobs, "ListBackupJobs."+page+".json"
	case path == "/restore-jobs":
		op, file = OpListRestoreJobs, "ListRestoreJobs."+page+".json"
	case strings.HasPrefix(path, "/tags/"):
		op = OpListTags
	default:
		op = "unknown " + path
	}
	s.mu.Lock()
	s.requests[op]++
	throttled := s.throttle != 0
	if s.throttle > 0 {
		s.throttle--
	}
	errorType := s.errorType
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Requestid", "5d9c1b2a-1c3e-4f6a-9b8c-7d6e5f4a3b2c")
	fail := func(code int, typ, msg string) {
		w.Header().Set("X-Amzn-Errortype", typ)
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"message":%q}`, msg)
	}
	switch {
	case errorType != "":
		fail(http.StatusForbidden, errorType, "The security token included in the request is expired")
		return
	case throttled:
		fail(http.StatusBadRequest, errThrot, "Rate exceeded")
		return
	}
	if op == OpListTags {
		arn := strings.TrimPrefix(path, "/tags/")
		tags, ok := s.tags[arn]
		if !ok {
			fail(http.StatusBadRequest, "ResourceNotFoundException", "no resource "+arn)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"Tags": tags})
		return
	}
	body, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		fail(http.StatusBadRequest, "InvalidParameterValueException", "unexpected request "+r.URL.String())
		return
	}
	_, _ = w.Write(body)
}

func (s *server) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

func collector(t testing.TB, s *server, src *config.Source) *Collector {
	t.Helper()
	if src.AWSBackup == nil {
		src.AWSBackup = &config.AWSBackupOptions{}
	}
	o := src.AWSBackup
	o.Endpoint = s.URL
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 3
	}
	src.Name, src.Type = "aws-prod", config.TypeAWSBackup
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func backups(cat *model.Catalog) map[string]model.Backup {
	out := map[string]model.Backup{}
	for _, b := range cat.Backups {
		out[b.ID] = b
	}
	return out
}

func TestCollect(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{AWSBackup: &config.AWSBackupOptions{JobsWindow: config.DefaultAWSBackupJobs, Vaults: []config.AWSBackupVault{{NameRegex: vaultRe}}}})
	m := &runx.Meter{}
	cat, err := c.Collect(runx.WithMeter(context.Background(), m))
	if err != nil {
		t.Fatal(err)
	}
	// Pagination: 2 pages of vaults, 2 + 1 + 1 of recovery points, 2 of
	// jobs; env and dataset come from the rule, so no ListTags.
	want := map[string]int{OpListVaults: 2, OpListRecoveryPoints: 4, OpListBackupJobs: 2, OpListRestoreJobs: 2}
	for op, n := range want {
		if got := s.count(op); got != n {
			t.Errorf("%s: %d requests, want %d", op, got, n)
		}
		if got := m.Calls()["Backup "+op]; got != n {
			t.Errorf("meter counts %d Backup %s, want %d (%v)", got, op, n, m.Calls())
		}
	}
	if s.count(OpListTags) != 0 || len(m.Calls()) != len(want) {
		t.Errorf("unexpected calls %v", m.Calls())
	}
	for op := range m.Calls() {
		found := false
		for _, d := range c.Operations() {
			found = found || d == op
		}
		if !found {
			t.Errorf("operation %q counted but not declared in %v", op, c.Operations())
		}
	}
	got := backups(cat)
	a1 := got[rpA1]
	wantA1 := model.Backup{
		Source: "aws-prod", Env: "prod", Dataset: "payments", ID: rpA1, Type: model.BackupSnapshot,
		Start: time.Date(2026, 11, 30, 2, 0, 0, 123000000, time.UTC), End: time.Date(2026, 11, 30, 2, 12, 0, 875000000, time.UTC),
		Status: model.StatusSucceeded, StoredBytes: 53687091200, Location: "prod-payments", StorageClass: StorageWarm, Region: "eu-west-1",
		Encrypted: true, KeyID: key, Immutable: true, RetainUntil: time.Date(2027, 12, 30, 2, 0, 0, 0, time.UTC),
	}
	a1Tags, a1Detail := a1.Tags, a1.Details()
	a1.Tags, a1.Detail = nil, nil
	if fmt.Sprintf("%+v", a1) != fmt.Sprintf("%+v", wantA1) {
		t.Errorf("recovery point\n got %+v\nwant %+v", a1, wantA1)
	}
	if !reflect.DeepEqual(a1Detail, model.BackupDetail{Agent: Agent}) {
		t.Errorf("recovery point detail %+v, want agent %s only", a1Detail, Agent)
	}
	if a1Tags[TagResourceArn] != "arn:aws:rds:eu-west-1:"+acct+":db:payments-db" || a1Tags[TagResourceType] != "RDS" || a1Tags[TagPlan] != "daily" ||
		a1Tags[TagVault] != "prod-payments" || a1Tags[TagStatus] != "COMPLETED" {
		t.Errorf("tags %v", a1Tags)
	}
	if a0 := got[rpA0]; a0.StorageClass != StorageCold {
		t.Errorf("a point past its move to cold storage is in %s", a0.StorageClass)
	}
	// The newest restore job of a point is kept in its tags, with the
	// validation a restore testing plan gave it.
	for id, w := range map[string]map[string]string{
		rpA1: {TagRestoreStart: "2026-11-30T04:00:00Z", TagRestoreStatus: "COMPLETED", TagRestoreDuration: "12m30s", TagRestoreValidation: "SUCCESSFUL", TagRestoreTestPlan: "weekly_payments-a1b2c3"},
		rpA0: {TagRestoreStatus: "COMPLETED", TagRestoreDuration: "20m", TagRestoreValidation: "FAILED", TagRestoreMessage: "Validation script exited 1: table payments.ledger is empty"},
		rpB1: {TagRestoreStatus: "RUNNING", TagRestoreDuration: "", TagRestoreValidation: "", TagRestoreTestPlan: ""},
		rpA2: {TagRestoreStatus: ""},
	} {
		for k, v := range w {
			if got[id].Tags[k] != v {
				t.Errorf("%s: tag %s = %q, want %q", id, k, got[id].Tags[k], v)
			}
		}
	}
	if a2 := got[rpA2]; a2.Status != model.StatusPartial || !strings.Contains(a2.Error, "1 of 2 volumes failed") || a2.Dataset != "payments" {
		t.Errorf("partial point %+v", a2)
	}
	if a3 := got[rpA3]; a3.Status != model.StatusRunning || !a3.End.IsZero() {
		t.Errorf("creating point %+v", a3)
	}
	for id := range got {
		if strings.Contains(id, "snapshot:awsbackup:job-ax") {
			t.Errorf("an EXPIRED recovery point is in the catalog")
		}
	}
	b1 := got[rpB1]
	// An AWS owned key is not the customer's: the vault names none, the
	// point keeps what the API says.
	if b1.Env != "staging" || b1.Dataset != "orders" || !b1.Immutable || b1.StorageClass != StorageWarm {
		t.Errorf("staging point %+v", b1)
	}
	// Failed, aborted and expired jobs are failed backups; the one in an
	// unselected vault and those with a recovery point in the catalog are
	// not repeated; a pending job without one is running.
	for id, w := range map[string]struct {
		status model.Status
		msg    string
	}{
		"4f6a1c3e-0002": {model.StatusFailed, "DB instance is not in the available state"},
		"4f6a1c3e-0004": {model.StatusFailed, "stopped by user"},
		"4f6a1c3e-0005": {model.StatusFailed, "backup job EXPIRED"},
		"4f6a1c3e-0007": {model.StatusRunning, ""},
	} {
		b, ok := got[id]
		if !ok {
			t.Errorf("no backup for job %s", id)
			continue
		}
		if b.Status != w.status || !strings.Contains(b.Error, w.msg) || (w.msg == "" && b.Error != "") {
			t.Errorf("job %s: status %s error %q", id, b.Status, b.Error)
		}
	}
	if j := got["4f6a1c3e-0002"]; j.Dataset != "payments" || j.Env != "prod" || !j.Start.Equal(time.Date(2026, 11, 28, 2, 0, 0, 250000000, time.UTC)) {
		t.Errorf("failed job %+v", j)
	}
	for _, id := range []string{"4f6a1c3e-0001", "4f6a1c3e-0003", "4f6a1c3e-0006"} {
		if _, ok := got[id]; ok {
			t.Errorf("job %s is in the catalog", id)
		}
	}
	if len(got) != 9 {
		t.Errorf("%d backups, want 9", len(got))
	}
	// Vaults and their protection facts.
	repos := map[string]model.Repository{}
	for _, r := range cat.Repositories {
		repos[r.Name] = r
	}
	if _, ok := repos["Default"]; ok || len(repos) != 3 {
		t.Errorf("repositories %v", repos)
	}
	for name, w := range map[string]struct {
		protection model.Protection
		env        string
		stored     int64
	}{
		"prod-payments":  {model.Protection{LockMode: LockCompliance, LockRetention: 35 * 24 * time.Hour, Encryption: "aws:kms", KMSKey: key}, "prod", 53687091200 + 52613349376 + 1073741824},
		"staging-orders": {model.Protection{LockMode: LockGovernance, LockRetention: 7 * 24 * time.Hour, Encryption: "aws:kms"}, "staging", 2147483648},
		"prod-airgapped": {model.Protection{LockMode: LockCompliance, Encryption: "aws:kms", KMSKey: key}, "prod", 0},
	} {
		r := repos[name]
		if r.Protection == nil || *r.Protection != w.protection || !r.LocksUnknown || r.Env != w.env || r.StoredBytes != w.stored || !r.Healthy || r.Region != "eu-west-1" {
			t.Errorf("vault %s: %+v protection %+v", name, r, r.Protection)
		}
	}
	if st := repos["prod-payments"].Status; st != "BACKUP_VAULT, AVAILABLE, lock COMPLIANCE, retention 35 to 400 days" {
		t.Errorf("status %q", st)
	}
}

// A vault that no rule gives an env is tagged with one: its tags are read,
// one call per vault.
func TestEnvFromVaultTags(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count(OpListTags); n != 4 {
		t.Errorf("%d ListTags, want one per vault (4)", n)
	}
	if s.count(OpListBackupJobs) != 0 {
		t.Error("jobs listed with jobs_window 0s")
	}
	envs := map[string]string{}
	for _, r := range cat.Repositories {
		envs[r.Name] = r.Env + "/" + r.Dataset
	}
	if envs["Default"] != "dev/" || envs["prod-payments"] != "prod/payments" || envs["staging-orders"] != "staging/" {
		t.Errorf("env/dataset by vault %v", envs)
	}
	got := backups(cat)
	// Without a rule or tag naming it, the dataset is the resource.
	if b := got[rpB1]; b.Dataset != "orders-data" || b.Env != "staging" {
		t.Errorf("staging point %s/%s", b.Env, b.Dataset)
	}
	if b := got[rpA2]; b.Dataset != "payments" {
		t.Errorf("dataset tag of the vault not used: %s", b.Dataset)
	}
}

// dataset_from tag:KEY reads each recovery point's tags once, at most
// TagReadsPerCollection per collection, and keeps them.
func TestDatasetFromRecoveryPointTags(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{Env: "prod", DatasetFrom: "tag:app", AWSBackup: &config.AWSBackupOptions{Vaults: []config.AWSBackupVault{{Name: "prod-payments"}}}})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count(OpListTags); n != 4 {
		t.Errorf("%d ListTags, want 4 (one per retained recovery point)", n)
	}
	got := backups(cat)
	if b := got[rpA1]; b.Dataset != "payments" || b.Release != "v1.4.0" || b.Tags["app"] != "payments" {
		t.Errorf("tagged point %s release %s tags %v", b.Dataset, b.Release, b.Tags)
	}
	if b := got[rpA2]; b.Dataset != "payments-files" {
		t.Errorf("dataset %q from tag", b.Dataset)
	}
	// A point with no such tag falls back to its resource.
	if b := got[rpA3]; b.Dataset != "payments-db" {
		t.Errorf("untagged point dataset %q", b.Dataset)
	}
	if _, err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.count(OpListTags); n != 4 {
		t.Errorf("%d ListTags after a second collection, want still 4", n)
	}
}

// A first collection of a large vault reads the tags of a bounded number
// of recovery points, newest first; later collections read the rest.
func TestTagReadsAreBounded(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{Env: "prod", DatasetFrom: "tag:app", AWSBackup: &config.AWSBackupOptions{Vaults: []config.AWSBackupVault{{Name: "prod-payments"}}}})
	c.tagReads = 2
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count(OpListTags); n != 2 {
		t.Fatalf("%d ListTags, want the bound (2)", n)
	}
	got := backups(cat)
	// The two newest (a3 of 1 December, a1 of 30 November) were read; a2
	// (29 November) waits and meanwhile has its resource's name.
	if got[rpA1].Dataset != "payments" || got[rpA2].Dataset != "vol-0abc" {
		t.Errorf("datasets a1 %q a2 %q", got[rpA1].Dataset, got[rpA2].Dataset)
	}
	cat, err = c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := s.count(OpListTags); n != 4 {
		t.Errorf("%d ListTags after two collections, want 4", n)
	}
	if got := backups(cat); got[rpA2].Dataset != "payments-files" {
		t.Errorf("a2 dataset %q after its tags were read", got[rpA2].Dataset)
	}
}

// Throttling is retried with backoff, each attempt counted; a store that
// keeps throttling fails the collection after max_attempts requests.
func TestThrottling(t *testing.T) {
	s := newServer(t)
	s.throttle = 2
	c := collector(t, s, &config.Source{Env: "prod"})
	m := &runx.Meter{}
	if _, err := c.Collect(runx.WithMeter(context.Background(), m)); err != nil {
		t.Fatal(err)
	}
	if got := m.Calls()["Backup "+OpListVaults]; got != 4 {
		t.Errorf("%d ListBackupVaults counted, want 4 (2 throttled, 2 pages)", got)
	}
	s.throttle = -1
	s.requests = map[string]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Collect(ctx)
	if runx.KindOf(err) != runx.KindIO || !strings.Contains(err.Error(), errThrot) {
		t.Errorf("error %v (kind %s), want an io error naming the throttling", err, runx.KindOf(err))
	}
	if n := s.count(OpListVaults); n != 3 {
		t.Errorf("%d requests, want max_attempts (3)", n)
	}
}

// Expired credentials fail with a configuration error that names where
// the credentials came from, and never the credentials.
func TestExpiredCredentials(t *testing.T) {
	s := newServer(t)
	s.errorType = "ExpiredTokenException"
	c := collector(t, s, &config.Source{Env: "prod"})
	_, err := c.Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig {
		t.Fatalf("error %v (kind %s), want config", err, runx.KindOf(err))
	}
	msg := err.Error()
	if !strings.Contains(msg, "AWS Backup rejects the credentials from EnvConfigCredentials (ExpiredTokenException): The security token included in the request is expired") {
		t.Errorf("error %q", msg)
	}
	if strings.Contains(msg, secret) || strings.Contains(msg, "AKIAIOSFODNN7EXAMPLE") {
		t.Errorf("the error holds the credentials: %s", msg)
	}
	if n := s.count(OpListVaults); n != 1 {
		t.Errorf("%d requests for rejected credentials, want 1 (not retried)", n)
	}
	s.errorType = "AccessDeniedException"
	_, err = c.Collect(context.Background())
	if runx.KindOf(err) != runx.KindConfig || !strings.Contains(err.Error(), "the credentials from EnvConfigCredentials may not make this call (AccessDeniedException)") {
		t.Errorf("access denied: %v", err)
	}
}

func TestLockMode(t *testing.T) {
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	tr, fa := true, false
	for _, tc := range []struct {
		name string
		v    vaultFacts
		want string
	}{
		{"unlocked", vaultFacts{locked: &fa}, LockNone},
		{"no lock field", vaultFacts{}, LockNone},
		{"locked without a lock date", vaultFacts{locked: &tr}, LockGovernance},
		{"locked, in the grace time", vaultFacts{locked: &tr, lockDate: &future}, LockGovernance},
		{"locked for good", vaultFacts{locked: &tr, lockDate: &past}, LockCompliance},
		{"logically air-gapped", vaultFacts{airGapped: true}, LockCompliance},
	} {
		v := tc.v.member()
		if got := lockMode(&v, now); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestResourceAndRegion(t *testing.T) {
	for arn, want := range map[string][2]string{
		"arn:aws:rds:eu-west-1:1:db:payments":                        {"payments", "eu-west-1"},
		"arn:aws:ec2:eu-central-1:1:volume/vol-1":                    {"vol-1", "eu-central-1"},
		"arn:aws:backup:us-east-1:111122223333:backup-vault:Default": {"Default", "us-east-1"},
		"not-an-arn": {"not-an-arn", ""},
	} {
		if got := resourceID(arn); got != want[0] {
			t.Errorf("resourceID(%s) = %s", arn, got)
		}
		if got := regionOf(arn); got != want[1] {
			t.Errorf("regionOf(%s) = %s", arn, got)
		}
	}
}

// vaultFacts builds a vault list entry with the lock facts of a case.
type vaultFacts struct {
	locked    *bool
	lockDate  *time.Time
	airGapped bool
}

func (f vaultFacts) member() types.BackupVaultListMember {
	v := types.BackupVaultListMember{Locked: f.locked, LockDate: f.lockDate, VaultType: types.VaultTypeBackupVault}
	if f.airGapped {
		v.VaultType = types.VaultTypeLogicallyAirGappedBackupVault
	}
	return v
}

// The records feed the one policy evaluation: the KMS key allowlist, the
// failures of backup jobs and residency judge recovery points like any
// other backup.
func TestRecordsFeedThePolicy(t *testing.T) {
	s := newServer(t)
	cfg, err := config.Parse("restorable.yml", []byte(`
environments:
  prod:
    rpo: 30h
    require: {encryption: kms, kms_keys: ["`+key+`"], immutable: true}
    regions: [eu-central-1]
  staging:
    rpo: 48h
    require: {encryption: kms, kms_keys: ["`+key+`"]}
checks:
  failures: {window: 7d}
sources:
  - name: aws-prod
    type: awsbackup
    awsbackup:
      vaults: [{name_regex: "`+vaultRe+`"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Sources[0]
	src.AWSBackup.MaxAttempts = 3
	c := collector(t, s, src)
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	res := policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups)})
	got := map[string]bool{}
	for _, f := range res.Findings {
		got[f.Check+" "+f.Env+"/"+f.Subject.Dataset] = true
	}
	for _, want := range []string{
		policy.CheckKMSKey + " staging/orders",   // an AWS owned key is not in the allowlist
		policy.CheckResidency + " prod/payments", // eu-west-1 vaults, prod allows eu-central-1 only
		policy.CheckFailures + " prod/payments",  // the failed and expired backup jobs, the partial point
	} {
		if !got[want] {
			t.Errorf("no finding %s among %v", want, got)
		}
	}
	for _, unwanted := range []string{policy.CheckImmutable + " prod/payments", policy.CheckKMSKey + " prod/payments", policy.CheckRPO + " prod/payments"} {
		if got[unwanted] {
			t.Errorf("finding %s for a locked vault with the allowed key and a fresh backup", unwanted)
		}
	}
}

func probes(cat *model.Catalog) map[string]model.ProbeResult {
	out := map[string]model.ProbeResult{}
	for _, p := range cat.Probes {
		out[p.RunID] = p
	}
	return out
}

// The restore jobs of restore testing plans are restore tests: a finished
// one is a probe run of the recovery point's env and dataset, named after
// the source, the plan, the env and the dataset, verified when the
// validation succeeded or the plan validates nothing, failed when the
// validation failed or timed out or the job failed or was aborted. Jobs
// without a result yet, restores someone started, child jobs and jobs of
// vaults the source does not collect are not tests.
func TestRestoreTests(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{AWSBackup: &config.AWSBackupOptions{JobsWindow: config.DefaultAWSBackupJobs, Vaults: []config.AWSBackupVault{{NameRegex: vaultRe}}}})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := probes(cat)
	const payments = ProbePrefix + "aws-prod/weekly_payments-a1b2c3/prod/payments"
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 500000000, time.UTC) }
	want := map[string]model.ProbeResult{
		"r-0000": {Probe: payments, Success: false, Error: "older attempt", Start: at(3, 0), Duration: time.Minute, BackupID: rpA1},
		"r-0001": {Probe: payments, Success: true, Start: at(4, 0), Duration: 12*time.Minute + 30*time.Second, BackupID: rpA1},
		"r-0002": {Probe: payments, Success: false, Error: "Validation script exited 1: table payments.ledger is empty", Start: at(4, 0).AddDate(0, 0, -2), Duration: 20 * time.Minute, BackupID: rpA0},
		// A point the catalog no longer lists: its vault's env, its
		// resource's dataset; no validation is a verified restore.
		"r-0004": {Probe: payments, Success: true, Start: at(4, 0).AddDate(0, 0, -1), Duration: 5 * time.Minute, BackupID: "arn:aws:ec2:eu-west-1::snapshot/snap-gone"},
		"r-0006": {Probe: payments, Success: false, Error: "validation TIMED_OUT", Start: at(2, 30).AddDate(0, 0, 1), Duration: 15 * time.Minute, BackupID: rpA3},
		"r-0008": {Probe: payments, Success: false, Error: "restore job ABORTED", Start: at(11, 0).AddDate(0, 0, -1), Duration: 5 * time.Minute, BackupID: "arn:aws:rds:eu-west-1:" + acct + ":snapshot:awsbackup:job-gone2"},
		"r-0011": {Probe: ProbePrefix + "aws-prod/weekly_orders-d4e5f6/staging/orders", Success: true, Start: at(4, 0).AddDate(0, 0, 1), Duration: 5 * time.Minute, BackupID: rpB1},
	}
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("no restore test for job %s", id)
			continue
		}
		env, dataset := "prod", "payments"
		if id == "r-0011" {
			env, dataset = "staging", "orders"
		}
		if g.Probe != w.Probe || g.Kind != ProbeKind || !g.Collected || g.Source != "aws-prod" || g.Env != env || g.Dataset != dataset ||
			g.Success != w.Success || g.Error != w.Error || !g.Start.Equal(w.Start) || g.Duration != w.Duration || g.BackupID != w.BackupID {
			t.Errorf("job %s: %+v\nwant %+v", id, g, w)
		}
		if !strings.Contains(g.Details, "restore testing plan") {
			t.Errorf("job %s details %q", id, g.Details)
		}
	}
	// The restored point is the recovery point's creation: the achieved
	// RPO of a test is how old that was when the restore started.
	if r := got["r-0001"]; !r.RestoredPoint.Equal(time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC)) || r.AchievedRPO() != 2*time.Hour+500*time.Millisecond {
		t.Errorf("restored point %s, achieved RPO %s", r.RestoredPoint, r.AchievedRPO())
	}
	// Running (r-0003), still validating (r-0005), started by hand
	// (r-0007), a child job (r-0009) and one of the Default vault, which
	// no rule selects (r-0010).
	for _, id := range []string{"r-0003", "r-0005", "r-0007", "r-0009", "r-0010"} {
		if _, ok := got[id]; ok {
			t.Errorf("job %s is a restore test", id)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d restore tests, want %d", len(got), len(want))
	}
	for i := 1; i < len(cat.Probes); i++ {
		if cat.Probes[i].Start.Before(cat.Probes[i-1].Start) {
			t.Errorf("restore tests not oldest first: %s before %s", cat.Probes[i-1].RunID, cat.Probes[i].RunID)
		}
	}
}

// With dataset_from tag:KEY a restore test waits until its recovery
// point's tags are read, so that it is never reported under the dataset
// the point had before; a test of a point no longer listed gets the
// resource's name at once.
func TestRestoreTestsWaitForTheDataset(t *testing.T) {
	s := newServer(t)
	c := collector(t, s, &config.Source{Env: "prod", DatasetFrom: "tag:app", AWSBackup: &config.AWSBackupOptions{JobsWindow: config.DefaultAWSBackupJobs, Vaults: []config.AWSBackupVault{{Name: "prod-payments"}}}})
	c.tagReads = 2
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := probes(cat)
	// a3 and a1 were read; a0 (tested by r-0002) waits.
	if _, ok := got["r-0002"]; ok {
		t.Errorf("the test of a point whose tags wait was reported: %+v", got["r-0002"])
	}
	if r := got["r-0001"]; r.Dataset != "payments" || r.Release != "v1.4.0" || r.Probe != ProbePrefix+"aws-prod/weekly_payments-a1b2c3/prod/payments" {
		t.Errorf("test of a read point: %+v", r)
	}
	if r := got["r-0004"]; r.Dataset != "payments-db" {
		t.Errorf("test of a point no longer listed has dataset %q, want the resource's name", r.Dataset)
	}
	if _, ok := got["r-0011"]; ok {
		t.Error("a test of a vault the source does not collect was reported")
	}
	cat, err = c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := probes(cat)["r-0002"]; !ok || r.Dataset != "payments" || r.Release != "v1.3.2" {
		t.Errorf("after the tags were read: %+v (reported %v)", r, ok)
	}
}

// AWS restore tests satisfy restore_test_every for the dataset they
// restored, as a configured probe's runs do: the newest successful test of
// prod's payments (30 November, 04:00) is 26 hours old, and a later test
// whose validation timed out (1 December, 02:30) is a failed test that
// satisfies nothing.
func TestRestoreTestsFeedThePolicy(t *testing.T) {
	for _, tc := range []struct {
		every   string
		overdue bool
	}{{"1d", true}, {"2d", false}} {
		s := newServer(t)
		cfg, err := config.Parse("restorable.yml", []byte(`
environments:
  prod: {rpo: 30h, restore_test_every: `+tc.every+`}
  staging: {rpo: 48h, restore_test_every: 1d}
sources:
  - name: aws-prod
    type: awsbackup
    awsbackup:
      vaults: [{name_regex: "`+vaultRe+`"}]
`))
		if err != nil {
			t.Fatal(err)
		}
		src := cfg.Sources[0]
		src.AWSBackup.MaxAttempts = 3
		cat, err := collector(t, s, src).Collect(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		res := policy.Evaluate(cfg, policy.Input{At: now, Backups: policy.Backups(cat.Backups), Probes: policy.ProbeStates(cat.Probes)})
		got := map[string]string{}
		for _, f := range res.Findings {
			got[f.Check+" "+f.Env+"/"+f.Subject.Dataset] = f.Observed
		}
		if _, fired := got[policy.CheckRestoreOverdue+" prod/payments"]; fired != tc.overdue {
			t.Errorf("restore_test_every %s: restore_test.overdue for prod/payments %v, want %v (%v)", tc.every, fired, tc.overdue, got)
		}
		if o := got[policy.CheckRestoreOverdue+" prod/payments"]; tc.overdue && !strings.Contains(o, "probe "+ProbePrefix+"aws-prod/weekly_payments-a1b2c3/prod/payments") {
			t.Errorf("overdue finding names %q", o)
		}
		if _, fired := got[policy.CheckRestoreOverdue+" staging/orders"]; fired {
			t.Errorf("restore_test.overdue for staging/orders, tested 2h ago: %v", got)
		}
		if o := got[policy.CheckRestoreFailed+" prod/payments"]; !strings.Contains(o, "run r-0006") || !strings.Contains(o, "validation TIMED_OUT") {
			t.Errorf("restore_test.failed for the timed-out validation: %q", o)
		}
	}
}
