package awsbackup

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/backup/types"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Agent is the name backups of this collector carry.
const Agent = "aws-backup"

// Tags with a meaning: on a vault they name the env and dataset of its
// backups when no rule does; on a recovery point, "release" names its
// release.
const (
	TagEnv     = "env"
	TagDataset = "dataset"
	TagRelease = "release"
)

// Tags the collector adds to every backup.
const (
	TagResourceType = "aws_backup.resource_type"
	TagResourceArn  = "aws_backup.resource_arn"
	TagVault        = "aws_backup.vault"
	TagPlan         = "aws_backup.plan"
	TagRule         = "aws_backup.rule"
	TagStatus       = "aws_backup.status"
	// The newest restore job of a recovery point within the jobs window:
	// when it started, its status, how long it took (when finished), the
	// validation status a restore testing plan gave it, and the plan.
	TagRestoreStart      = "aws_backup.restore_start"
	TagRestoreStatus     = "aws_backup.restore_status"
	TagRestoreDuration   = "aws_backup.restore_duration"
	TagRestoreValidation = "aws_backup.restore_validation"
	TagRestoreTestPlan   = "aws_backup.restore_testing_plan"
	TagRestoreMessage    = "aws_backup.restore_message"
)

// Storage classes of a recovery point: AWS Backup keeps it in warm storage
// until its lifecycle moves it to cold storage.
const (
	StorageWarm = "WARM"
	StorageCold = "COLD"
)

// Lock modes of a vault (model.Protection.LockMode).
const (
	LockCompliance = "COMPLIANCE"
	LockGovernance = "GOVERNANCE"
	LockNone       = "none"
)

// Repository status codes of a vault.
const (
	VaultAvailable = 0
	VaultCreating  = 1
	VaultFailed    = 2
)

// vault is a selected vault with what its rule says of its backups.
type vault struct {
	v       types.BackupVaultListMember
	env     string
	dataset string
	region  string
}

func (v *vault) name() string { return aws.ToString(v.v.BackupVaultName) }

// lockMode reads a vault's lock at instant at. A lock with a lock date
// that has passed can no longer be changed or removed (compliance mode);
// a lock without one, or before it, can (governance mode). Logically
// air-gapped vaults are always locked in compliance mode.
func lockMode(v *types.BackupVaultListMember, at time.Time) string {
	if v.VaultType == types.VaultTypeLogicallyAirGappedBackupVault {
		return LockCompliance
	}
	if !aws.ToBool(v.Locked) {
		return LockNone
	}
	if v.LockDate != nil && !v.LockDate.After(at) {
		return LockCompliance
	}
	return LockGovernance
}

// protection is what a vault says of how it protects its recovery points.
// AWS Backup encrypts every recovery point with a KMS key: a customer
// managed key is named, an AWS owned key is not (KMSKey stays empty).
// A vault has no lifecycle of its own (backup plans set it per recovery
// point), so LifecycleKnown stays false.
func protection(v *types.BackupVaultListMember, at time.Time) *model.Protection {
	p := &model.Protection{LockMode: lockMode(v, at), Encryption: "aws:kms"}
	if p.LockMode != LockNone && v.MinRetentionDays != nil {
		p.LockRetention = time.Duration(*v.MinRetentionDays) * 24 * time.Hour
	}
	if v.EncryptionKeyType != types.EncryptionKeyTypeAwsOwnedKmsKey {
		p.KMSKey = aws.ToString(v.EncryptionKeyArn)
	}
	return p
}

// mapper turns AWS Backup's answers into model records for one source.
type mapper struct {
	src        *config.Source
	observedAt time.Time
}

// recoveryPointStatus maps a recovery point's status; ok is false for
// points past their retention (DELETING, EXPIRED: AWS Backup is deleting
// them, or could not), which are not part of the catalog.
func recoveryPointStatus(s types.RecoveryPointStatus) (st model.Status, ok bool) {
	switch s {
	case types.RecoveryPointStatusCompleted, types.RecoveryPointStatusAvailable:
		return model.StatusSucceeded, true
	case types.RecoveryPointStatusPartial, types.RecoveryPointStatusStopped:
		return model.StatusPartial, true
	case types.RecoveryPointStatusCreating:
		return model.StatusRunning, true
	case types.RecoveryPointStatusDeleting, types.RecoveryPointStatusExpired:
		return "", false
	}
	return model.StatusRunning, true
}

// datasetOf chooses a backup's dataset: the source's, the vault rule's (a
// name or a group of its regex), the vault (dataset_from: vault), a
// recovery point tag (dataset_from: tag:KEY, when read), else the
// protected resource's name.
func (m *mapper) datasetOf(v *vault, tags map[string]string, resourceName, resourceArn string) string {
	switch {
	case m.src.Dataset != "":
		return m.src.Dataset
	case v.dataset != "":
		return v.dataset
	case m.src.DatasetFrom == "vault":
		return v.name()
	}
	if key, ok := strings.CutPrefix(m.src.DatasetFrom, "tag:"); ok && tags[key] != "" {
		return tags[key]
	}
	if resourceName != "" {
		return resourceName
	}
	return resourceID(resourceArn)
}

// resourceID is the last part of an ARN (arn:aws:rds:eu-west-1:1:db:payments
// is payments, arn:aws:ec2:...:volume/vol-1 is vol-1).
func resourceID(arn string) string {
	if i := strings.LastIndexAny(arn, ":/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// regionOf reads the region of an ARN.
func regionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[3]
}

func (m *mapper) recoveryPoint(v *vault, rp *types.RecoveryPointByBackupVault, tags map[string]string) (model.Backup, bool) {
	st, ok := recoveryPointStatus(rp.Status)
	if !ok {
		return model.Backup{}, false
	}
	arn := aws.ToString(rp.ResourceArn)
	b := model.Backup{
		Source:         m.src.Name,
		Env:            v.env,
		Dataset:        m.datasetOf(v, tags, aws.ToString(rp.ResourceName), arn),
		ID:             aws.ToString(rp.RecoveryPointArn),
		Type:           model.BackupSnapshot,
		Release:        tags[TagRelease],
		Start:          utc(rp.CreationDate),
		End:            utc(rp.CompletionDate),
		Status:         st,
		StoredBytes:    aws.ToInt64(rp.BackupSizeInBytes),
		Location:       v.name(),
		StorageClass:   StorageWarm,
		Region:         v.region,
		Encrypted:      rp.IsEncrypted,
		KeyID:          aws.ToString(rp.EncryptionKeyArn),
		Immutable:      lockMode(&v.v, m.observedAt) != LockNone,
		Detail:         &model.BackupDetail{Agent: Agent},
		Classification: m.src.Classification,
		Tags:           m.tags(v, tags, aws.ToString(rp.ResourceType), arn, rp.CreatedBy, string(rp.Status)),
	}
	if st != model.StatusSucceeded && st != model.StatusRunning {
		b.Error = aws.ToString(rp.StatusMessage)
		if b.Error == "" {
			b.Error = "recovery point " + string(rp.Status)
		}
	}
	if lc := rp.CalculatedLifecycle; lc != nil {
		b.RetainUntil = utc(lc.DeleteAt)
		if lc.MoveToColdStorageAt != nil && !lc.MoveToColdStorageAt.After(m.observedAt) {
			b.StorageClass = StorageCold
		}
	}
	return b, true
}

// failedJob turns a backup job that ended without a recovery point into a
// failed backup: FAILED, ABORTED and EXPIRED jobs (one that never started
// within its window). Jobs still at work are running backups.
func (m *mapper) job(v *vault, j *types.BackupJob, datasets map[string]string) (model.Backup, bool) {
	var st model.Status
	switch j.State {
	case types.BackupJobStateFailed, types.BackupJobStateAborted, types.BackupJobStateExpired:
		st = model.StatusFailed
	case types.BackupJobStateCreated, types.BackupJobStatePending, types.BackupJobStateRunning, types.BackupJobStateAborting:
		st = model.StatusRunning
	default:
		// COMPLETED and PARTIAL jobs made a recovery point, which the
		// catalog has.
		return model.Backup{}, false
	}
	arn := aws.ToString(j.ResourceArn)
	dataset := datasets[arn]
	if dataset == "" {
		dataset = m.datasetOf(v, nil, aws.ToString(j.ResourceName), arn)
	}
	b := model.Backup{
		Source:         m.src.Name,
		Env:            v.env,
		Dataset:        dataset,
		ID:             aws.ToString(j.BackupJobId),
		Type:           model.BackupSnapshot,
		Start:          utc(j.CreationDate),
		End:            utc(j.CompletionDate),
		Status:         st,
		Location:       v.name(),
		Region:         v.region,
		Encrypted:      j.IsEncrypted,
		KeyID:          aws.ToString(j.EncryptionKeyArn),
		Detail:         &model.BackupDetail{Agent: Agent},
		Classification: m.src.Classification,
		Tags:           m.tags(v, nil, aws.ToString(j.ResourceType), arn, j.CreatedBy, "job "+string(j.State)),
	}
	if st == model.StatusFailed {
		b.Error = aws.ToString(j.StatusMessage)
		if b.Error == "" {
			b.Error = "backup job " + string(j.State)
		}
	}
	return b, true
}

func (m *mapper) tags(v *vault, rpTags map[string]string, resourceType, resourceArn string, by *types.RecoveryPointCreator, status string) map[string]string {
	out := make(map[string]string, len(m.src.Labels)+len(rpTags)+6)
	for k, val := range m.src.Labels {
		out[k] = val
	}
	for k, val := range rpTags {
		out[k] = val
	}
	out[TagVault] = v.name()
	out[TagStatus] = status
	if resourceType != "" {
		out[TagResourceType] = resourceType
	}
	if resourceArn != "" {
		out[TagResourceArn] = resourceArn
	}
	if by != nil {
		if p := aws.ToString(by.BackupPlanName); p != "" {
			out[TagPlan] = p
		}
		if r := aws.ToString(by.BackupRuleName); r != "" {
			out[TagRule] = r
		}
	}
	return out
}

// repository describes one vault.
func (m *mapper) repository(v *vault, stored int64) model.Repository {
	r := model.Repository{
		Source:      m.src.Name,
		Env:         v.env,
		Dataset:     v.dataset,
		Name:        v.name(),
		ObservedAt:  m.observedAt,
		Location:    aws.ToString(v.v.BackupVaultArn),
		Region:      v.region,
		StoredBytes: stored,
		Protection:  protection(&v.v, m.observedAt),
		// AWS Backup reports no locks of a vault but its Vault Lock,
		// which is a protection fact, not a running backup's lock.
		LocksUnknown: true,
	}
	if m.src.Dataset != "" {
		r.Dataset = m.src.Dataset
	}
	switch v.v.VaultState {
	case types.VaultStateAvailable, "":
		r.Healthy, r.StatusCode = true, VaultAvailable
	case types.VaultStateCreating:
		r.Healthy, r.StatusCode = true, VaultCreating
	default:
		r.StatusCode = VaultFailed
	}
	parts := []string{string(v.v.VaultType)}
	if v.v.VaultState != "" {
		parts = append(parts, string(v.v.VaultState))
	}
	if v.v.MinRetentionDays != nil || v.v.MaxRetentionDays != nil {
		parts = append(parts, fmt.Sprintf("lock %s, retention %s to %s days", r.Protection.LockMode, days(v.v.MinRetentionDays), days(v.v.MaxRetentionDays)))
	}
	r.Status = strings.Join(parts, ", ")
	return r
}

func days(n *int64) string {
	if n == nil {
		return "any"
	}
	return fmt.Sprint(*n)
}

func utc(t *time.Time) time.Time {
	if t == nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// addRestoreFacts tags each backup with the newest restore job of its
// recovery point, whatever started it (a restore testing plan or a
// person), and however it ended. The restore tests among the jobs are
// also probe runs of their own (restoreTests).
func addRestoreFacts(bs []model.Backup, jobs []types.RestoreJobsListMember) {
	newest := map[string]*types.RestoreJobsListMember{}
	for i := range jobs {
		j := &jobs[i]
		arn := aws.ToString(j.RecoveryPointArn)
		if p := newest[arn]; p == nil || utc(j.CreationDate).After(utc(p.CreationDate)) {
			newest[arn] = j
		}
	}
	for i := range bs {
		j := newest[bs[i].ID]
		if j == nil {
			continue
		}
		t := bs[i].Tags
		t[TagRestoreStart] = utc(j.CreationDate).Format(time.RFC3339)
		t[TagRestoreStatus] = string(j.Status)
		if j.CompletionDate != nil && j.CreationDate != nil {
			t[TagRestoreDuration] = config.Duration(j.CompletionDate.Sub(*j.CreationDate).Round(time.Second)).String()
		}
		if j.ValidationStatus != "" {
			t[TagRestoreValidation] = string(j.ValidationStatus)
		}
		if plan := testingPlan(j); plan != "" {
			t[TagRestoreTestPlan] = plan
		}
		if msg := cmp.Or(aws.ToString(j.ValidationStatusMessage), aws.ToString(j.StatusMessage)); msg != "" {
			t[TagRestoreMessage] = msg
		}
	}
}

// Restore tests: the restore jobs that a restore testing plan started
// become probe runs (model.Catalog.Probes) of kind ProbeKind, named
// ProbePrefix + "SOURCE/PLAN/ENV/DATASET".
const (
	ProbeKind   = Agent
	ProbePrefix = Agent + ":"
)

// point is what the catalog says of a recovery point that restore tests
// are attributed by.
type point struct {
	env, dataset, release string
	// settled is false while the dataset may still change: with
	// dataset_from tag:KEY, until the point's tags have been read.
	settled bool
}

// testingPlan names the restore testing plan that started a restore job
// (the last part of its ARN), empty for a restore someone started.
func testingPlan(j *types.RestoreJobsListMember) string {
	if j.CreatedBy == nil || aws.ToString(j.CreatedBy.RestoreTestingPlanArn) == "" {
		return ""
	}
	return resourceID(aws.ToString(j.CreatedBy.RestoreTestingPlanArn))
}

// testOutcome reads the result of a restore test from its restore job.
// A restore that completed is verified when the plan's validation
// succeeded, or when the plan validates nothing (no validation status):
// the restore itself is then the test. One whose validation failed or
// timed out, and a restore job that failed or was aborted, is a failed
// test. done is false while there is no result yet: a job pending or
// running, a completed restore still VALIDATING, and any status this
// collector does not know.
func testOutcome(j *types.RestoreJobsListMember) (success bool, msg string, done bool) {
	switch j.Status {
	case types.RestoreJobStatusCompleted:
		switch j.ValidationStatus {
		case types.RestoreValidationStatusSuccessful, "":
			return true, "", true
		case types.RestoreValidationStatusFailed, types.RestoreValidationStatusTimedOut:
			return false, cmp.Or(aws.ToString(j.ValidationStatusMessage), "validation "+string(j.ValidationStatus)), true
		}
	case types.RestoreJobStatusFailed, types.RestoreJobStatusAborted:
		return false, cmp.Or(aws.ToString(j.StatusMessage), "restore job "+string(j.Status)), true
	}
	return false, "", false
}

// restoreTests turns the finished restore jobs of restore testing plans
// into probe runs, oldest first. A test counts for the env and dataset of
// the recovery point it restored, as the catalog has them; of a point
// the catalog no longer lists, for its vault's env and the dataset of its
// protected resource (that of the resource's listed points; with
// dataset_from tag:KEY, the resource's name). A test waits (is left out of this collection) while
// its point's dataset is not settled, so that a run is never reported
// under two datasets; tests of vaults the source does not collect, child
// jobs of a composite restore (their parent job is the test), and
// restores someone started by hand are left out.
func (m *mapper) restoreTests(jobs []types.RestoreJobsListMember, vaults map[string]*vault, points map[string]point, datasets map[string]string) []model.ProbeResult {
	var out []model.ProbeResult
	for i := range jobs {
		j := &jobs[i]
		plan := testingPlan(j)
		if plan == "" || aws.ToString(j.ParentJobId) != "" || aws.ToString(j.RestoreJobId) == "" || j.CreationDate == nil {
			continue
		}
		success, msg, done := testOutcome(j)
		if !done {
			continue
		}
		rp := aws.ToString(j.RecoveryPointArn)
		p, ok := points[rp]
		if !ok {
			v := vaults[aws.ToString(j.BackupVaultArn)]
			if v == nil {
				continue
			}
			// Its tags can no longer be read: with dataset_from tag:KEY
			// it gets the resource's name, as a point without the tag.
			res := aws.ToString(j.SourceResourceArn)
			p = point{env: v.env, dataset: m.datasetOf(v, nil, "", res), settled: true}
			if d := datasets[res]; d != "" && !strings.HasPrefix(m.src.DatasetFrom, "tag:") {
				p.dataset = d
			}
		}
		if !p.settled {
			continue
		}
		r := model.ProbeResult{
			RunID:         aws.ToString(j.RestoreJobId),
			Probe:         ProbePrefix + m.src.Name + "/" + plan + "/" + p.env + "/" + p.dataset,
			Kind:          ProbeKind,
			Env:           p.env,
			Dataset:       p.dataset,
			Source:        m.src.Name,
			BackupID:      rp,
			Release:       p.release,
			RestoredPoint: utc(j.RecoveryPointCreationDate),
			Start:         utc(j.CreationDate),
			Success:       success,
			Error:         msg,
			Collected:     true,
		}
		if j.CompletionDate != nil && j.CompletionDate.After(*j.CreationDate) {
			r.Duration = j.CompletionDate.Sub(*j.CreationDate)
		}
		validation := "no validation"
		if j.ValidationStatus != "" {
			validation = "validation " + string(j.ValidationStatus)
		}
		r.Details = fmt.Sprintf("AWS Backup restore job %s of restore testing plan %s: %s, %s", r.RunID, plan, j.Status, validation)
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b model.ProbeResult) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.RunID, b.RunID))
	})
	return out
}
