package policy

// Audit controls that checks support: ISO/IEC 27001:2022 Annex A and the
// SOC 2 Trust Services Criteria (2017, revised 2022).
const (
	// ISOContinuity is A.5.30, ICT readiness for business continuity.
	ISOContinuity = "ISO27001:A.5.30"
	// ISORecords is A.5.33, protection of records.
	ISORecords = "ISO27001:A.5.33"
	// ISOPrivacy is A.5.34, privacy and protection of PII.
	ISOPrivacy = "ISO27001:A.5.34"
	// ISODeletion is A.8.10, information deletion.
	ISODeletion = "ISO27001:A.8.10"
	// ISOBackup is A.8.13, information backup.
	ISOBackup = "ISO27001:A.8.13"
	// ISOCrypto is A.8.24, use of cryptography.
	ISOCrypto = "ISO27001:A.8.24"
	// SOCRecovery is A1.2: backup processes and recovery infrastructure.
	SOCRecovery = "SOC2:A1.2"
	// SOCRecoveryTest is A1.3: recovery plan procedures are tested.
	SOCRecoveryTest = "SOC2:A1.3"
	// SOCIncidentRecovery is CC7.5: recovery from identified security
	// incidents.
	SOCIncidentRecovery = "SOC2:CC7.5"
	// SOCDisposal is C1.2: confidential information is disposed of.
	SOCDisposal = "SOC2:C1.2"
	// SOCRetention is P4.2: personal information is retained no longer than
	// its purpose needs.
	SOCRetention = "SOC2:P4.2"
)

// The ids of the checks. A check id names what is checked, dotted from the
// general to the particular, and never changes once released: users filter
// and suppress by it.
const (
	CheckRPO            = "rpo"
	CheckRPOHistory     = "rpo.history"
	CheckLate           = "backup.late"
	CheckFailures       = "failures"
	CheckLastFailed     = "backup.last_failed"
	CheckReleases       = "retention.releases"
	CheckMinAge         = "retention.min_age"
	CheckMaxAge         = "retention.max_age"
	CheckClassMaxAge    = "retention.classification"
	CheckReleaseBackup  = "release.backup"
	CheckEncryption     = "encryption"
	CheckKMSKey         = "encryption.kms_key"
	CheckImmutable      = "immutability"
	CheckArchive        = "archive_after"
	CheckResidency      = "residency"
	CheckRestoreOverdue = "restore_test.overdue"
	CheckRestoreFailed  = "restore_test.failed"
	CheckRTO            = "restore_test.rto"
	CheckRestoreRPO     = "restore_test.rpo"
	CheckAgentDrift     = "agent_drift"
	CheckEphemeral      = "ephemeral_data"
	CheckPITR           = "pitr.gap"
	// The checks of release events.
	CheckFreeze            = "release.freeze"
	CheckPreReleaseBackup  = "release.pre_release_backup"
	CheckRollbackMigration = "release.rollback_migration"
)

// Check describes one check: what it looks at, how bad a breach is, the
// configuration it reads and the controls it supports.
type Check struct {
	ID       string
	Title    string
	Severity Severity
	// Params are the configuration keys the check reads; ENV stands for an
	// environment's name, CLASS for a classification's, and [] for every
	// entry of a list.
	Params   []string
	Controls []string
	// History is true for checks that need the history and only the
	// analyzer evaluates.
	History bool
	// Help says what the check looks at and what fixes a breach.
	Help string
}

// Checks returns the catalog of every check, in the order the
// documentation lists them.
func Checks() []Check {
	return []Check{
		{
			ID: CheckRPO, Title: "Last good backup older than the RPO", Severity: SeverityCritical,
			Params:   []string{"environments.ENV.rpo"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery},
			Help:     "The newest successful backup of a dataset ended longer ago than the environment's recovery point objective, or none is retained. Fix the backup job, then check that its schedule fits the RPO.",
		},
		{
			ID: CheckRPOHistory, Title: "RPO breached in the past", Severity: SeverityInfo, History: true,
			Params:   []string{"environments.ENV.rpo", "checks.period"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery},
			Help:     "Every interval of the period in which the newest successful backup was older than the RPO, with its length. Intervals that have ended are advice for reviews; one still open is reported by rpo.",
		},
		{
			ID: CheckLate, Title: "Backup later than its schedule", Severity: SeverityWarning,
			Params:   []string{"sources[].expected_interval", "checks.late.grace"},
			Controls: []string{ISOBackup, SOCRecovery},
			Help:     "The newest successful backup of a dataset is older than the interval its backups are expected at, plus the grace: the source's expected_interval, else the interval of the schedule that made that backup (a Velero Schedule). A missed scheduled run shows here while the RPO may still hold. Fix the schedule or the backup job.",
		},
		{
			ID: CheckFailures, Title: "Failed backups within the window", Severity: SeverityWarning,
			Params:   []string{"checks.failures.window", "checks.failures.max"},
			Controls: []string{ISOBackup, SOCRecovery},
			Help:     "More failed or partial backups of a dataset within the window than tolerated. Read the error of the newest one.",
		},
		{
			ID: CheckLastFailed, Title: "Newest backup attempt failed", Severity: SeverityWarning,
			Controls: []string{ISOBackup, SOCRecovery},
			Help:     "The newest finished backup attempt of a dataset failed or was partial. The backup before it may still be within the RPO, but the next one is not assured: releases are held until a backup succeeds. A failure that a later backup made good is not this check (see failures).",
		},
		{
			ID: CheckReleases, Title: "Too few release states restorable", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.retention.releases"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery, SOCIncidentRecovery},
			Help:     "Fewer distinct release labels (the current one included) among the retained successful backups of a dataset than the environment keeps. A rollback to an older release would find no matching data. Datasets whose backups carry no release label are not checked.",
		},
		{
			ID: CheckMinAge, Title: "Oldest backup younger than the minimum age", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.retention.min_age"},
			Controls: []string{ISOBackup, ISORecords, SOCRecovery},
			Help:     "The oldest retained successful backup is younger than the minimum age, so the history reaches back less far than policy requires, or a store's lifecycle rule deletes backups before they reach that age (a bucket expiring them sooner). Check the source's retention (restic forget, repo1-retention-full) or the bucket's lifecycle expiration.",
		},
		{
			ID: CheckMaxAge, Title: "Backups older than the maximum age", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.retention.max_age"},
			Controls: []string{ISODeletion, ISORecords, SOCDisposal},
			Help:     "Retained backups older than the environment's maximum age: data kept longer than policy allows. Expire them at the source.",
		},
		{
			ID: CheckClassMaxAge, Title: "Classified data kept too long", Severity: SeverityCritical,
			Params:   []string{"classifications.CLASS.max_age.ENV", "sources[].classification"},
			Controls: []string{ISODeletion, ISOPrivacy, SOCDisposal, SOCRetention},
			Help:     "Retained backups of a data class (PII, PHI) older than the class allows in this environment; a limit of 0s means the class must not be kept there at all.",
		},
		{
			ID: CheckReleaseBackup, Title: "Release deployed without a backup before it", Severity: SeverityWarning,
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery, SOCIncidentRecovery},
			Help:     "A release label appeared on a dataset's backups while no successful backup of the release before it had finished: there was no state to roll back to. A backup's release is the release running when it was taken.",
		},
		{
			ID: CheckEncryption, Title: "Unencrypted backups", Severity: SeverityCritical,
			Params:   []string{"environments.ENV.require.encryption"},
			Controls: []string{ISOCrypto, ISOBackup},
			Help:     "Backups that hold data but are not encrypted where the environment requires encryption, or are encrypted without a KMS key where it requires kms.",
		},
		{
			ID: CheckKMSKey, Title: "KMS key not in the allowlist", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.require.kms_keys"},
			Controls: []string{ISOCrypto},
			Help:     "Backups encrypted with a KMS key that is not in the environment's allowlist.",
		},
		{
			ID: CheckImmutable, Title: "Backups not immutable", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.require.immutable", "classifications.CLASS.min_lock", "environments.ENV.retention.min_age"},
			Controls: []string{ISOBackup, ISORecords, SOCRecovery, SOCIncidentRecovery},
			Help:     "Backups that hold data without object lock, append-only mode or vault lock, or whose lock has expired, where the environment requires immutability; or a store (bucket, vault) whose default lock is shorter than its data's classification asks (min_lock), or than the retention's min_age where immutability is required, or that has no default lock where the classification asks for one. A store whose lock configuration is unknown is not judged.",
		},
		{
			ID: CheckArchive, Title: "Old backups still in hot storage", Severity: SeverityInfo,
			Params: []string{"environments.ENV.archive_after", "checks.hot_storage_classes"},
			Help:   "Successful backups older than archive_after still in a hot storage class, or a store whose known lifecycle rules never move backups out of hot storage, or only after archive_after. analyze tiering says what moving them saves.",
		},
		{
			ID: CheckResidency, Title: "Backups outside the allowed regions", Severity: SeverityCritical,
			Params:   []string{"environments.ENV.regions", "classifications.CLASS.regions"},
			Controls: []string{ISORecords, ISOPrivacy},
			Help:     "Backups stored in a region that the environment or the data's classification does not allow.",
		},
		{
			ID: CheckRestoreOverdue, Title: "Restore test overdue", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.restore_test_every"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecoveryTest},
			Help:     "No successful restore test of a dataset within the environment's interval: a run of a configured probe, or a restore test a configured source reports (an AWS Backup restore testing plan's job).",
		},
		{
			ID: CheckRestoreFailed, Title: "Latest restore test failed", Severity: SeverityCritical,
			Controls: []string{ISOBackup, ISOContinuity, SOCRecoveryTest},
			Help:     "The newest run of a restore probe, or of a restore test a source reports, failed: the backup it restored could not be brought back and verified.",
		},
		{
			ID: CheckRTO, Title: "Restore slower than the RTO", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.rto"},
			Controls: []string{ISOContinuity, SOCRecoveryTest},
			Help:     "The newest run of a restore probe took longer than the recovery time objective (the probe's own target, else the environment's).",
		},
		{
			ID: CheckRestoreRPO, Title: "Restored data older than the RPO", Severity: SeverityWarning,
			Params:   []string{"environments.ENV.rpo"},
			Controls: []string{ISOContinuity, SOCRecoveryTest},
			Help:     "The newest successful restore probe brought back data older than the RPO when it started: a real restore at that moment would have lost more than policy allows.",
		},
		{
			ID: CheckAgentDrift, Title: "Backup agent versions differ between environments", Severity: SeverityWarning,
			Params:   []string{"checks.agent_drift.level"},
			Controls: []string{ISOBackup},
			Help:     "A backup agent runs in different versions across environments (compared at the configured level), so what production runs was not tried in the environments before it.",
		},
		{
			ID: CheckEphemeral, Title: "Ephemeral data in backups", Severity: SeverityInfo,
			Params:   []string{"checks.ephemeral.patterns", "checks.ephemeral.envs"},
			Controls: []string{ISODeletion, ISOPrivacy},
			Help:     "Backups of the checked environments that contain caches, logs, temporary files or sessions: storage paid for data nobody restores, and sessions may hold personal data. Exclude the paths at the source.",
		},
		{
			ID: CheckPITR, Title: "Point-in-time recovery gap", Severity: SeverityCritical,
			Params:   []string{"environments.ENV.rpo"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery},
			Help:     "The WAL archive of a database repository is not continuous from the oldest backup to now: it starts after the oldest backup, ends before the newest, or has not advanced for longer than the RPO.",
		},
		{
			ID: CheckFreeze, Title: "Deploys frozen after consecutive rollbacks", Severity: SeverityCritical,
			Params:   []string{"checks.freeze.rollbacks", "checks.freeze.settle"},
			Controls: []string{ISOContinuity, ISOBackup, SOCIncidentRecovery},
			Help:     "A dataset (or service) of an environment was rolled back checks.freeze.rollbacks times in a row (2 by default) with no release that ran checks.freeze.settle without a rollback in between (a successful deploy, or the release a rollback returned to): its deploys are frozen until someone reviews the release and backup process and posts a freeze_ack event with an actor and a reason. A deploy does not end a freeze.",
		},
		{
			ID: CheckPreReleaseBackup, Title: "Deploy without a pre-release backup", Severity: SeverityWarning,
			Params:   []string{"checks.period"},
			Controls: []string{ISOBackup, ISOContinuity, SOCRecovery, SOCIncidentRecovery},
			Help:     "A successful deploy event of the period had no backup taken for it: no successful pre_release_backup event of the dataset (for its release or naming none) between the previous deploy and it, no backup_id on the deploy itself, and no successful backup of the dataset that ended in that interval. A rollback of that release has no data state to return to.",
		},
		{
			ID: CheckRollbackMigration, Title: "Rollback across a schema migration without a data restore", Severity: SeverityCritical,
			Params:   []string{"checks.period"},
			Controls: []string{ISOBackup, ISOContinuity, SOCIncidentRecovery},
			Help:     "A successful rollback of the period returned to a release from before a schema migration (a migration event, or a deploy or rollback marked migration, since the release it returns to was deployed) and named no restored backup (backup_id): the code now runs on data shaped for the later release. Restore the backup listed by /api/v1/releases for the release, or confirm the migration was backward compatible.",
		},
	}
}

// Lookup returns the check with the given id.
func Lookup(id string) (Check, bool) {
	for _, c := range Checks() {
		if c.ID == id {
			return c, true
		}
	}
	return Check{}, false
}
