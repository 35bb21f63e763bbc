// Package model holds the records that every part of Restorable shares.
//
// Collectors normalise their sources into these records; metrics, history,
// policy evaluation and the deploy gate are all derived from them. The
// package does no I/O so that every consumer can depend on it.
package model

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// BackupType is the kind of a backup as the field names it.
type BackupType string

// The backup types Restorable understands. Sources map their own vocabulary
// onto these (pgBackRest "diff" is BackupDiff, a restic snapshot is
// BackupSnapshot, and so on).
const (
	BackupFull     BackupType = "full"
	BackupDiff     BackupType = "diff"
	BackupIncr     BackupType = "incr"
	BackupSnapshot BackupType = "snapshot"
	BackupLogical  BackupType = "logical"
	BackupWAL      BackupType = "wal"
)

// BackupTypes lists every valid BackupType in a stable order.
var BackupTypes = []BackupType{BackupFull, BackupDiff, BackupIncr, BackupSnapshot, BackupLogical, BackupWAL}

// Valid reports whether t is one of BackupTypes.
func (t BackupType) Valid() bool { return slices.Contains(BackupTypes, t) }

// Status is the outcome of a backup run.
type Status string

// The statuses a backup can have.
const (
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusPartial   Status = "partial"
	StatusRunning   Status = "running"
)

// Statuses lists every valid Status in a stable order.
var Statuses = []Status{StatusSucceeded, StatusFailed, StatusPartial, StatusRunning}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Backup is one backup as a catalog describes it. Times are UTC. Zero values
// mean "unknown" (a zero StoredBytes is "not reported", not "empty").
//
// A catalog can hold millions of backups (an S3 bucket has one per object),
// so the record holds what an object store's catalog knows and the policy
// reads for every backup, in at most 336 bytes; the facts that only other
// sources know sit in Detail, which costs a pointer when a source knows
// none of them.
type Backup struct {
	Source  string     `json:"source"`
	Env     string     `json:"env"`
	Dataset string     `json:"dataset"`
	ID      string     `json:"id"`
	Type    BackupType `json:"type"`
	Release string     `json:"release,omitempty"`
	// Parent is the backup this one depends on (the prior full for a diff or
	// incr), empty for self-contained backups.
	Parent string    `json:"parent,omitempty"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Status Status    `json:"status"`
	Error  string    `json:"error,omitempty"`

	LogicalBytes int64 `json:"logical_bytes,omitempty"`
	StoredBytes  int64 `json:"stored_bytes,omitempty"`

	Location     string `json:"location,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
	Region       string `json:"region,omitempty"`

	Encrypted   bool      `json:"encrypted"`
	Immutable   bool      `json:"immutable"`
	KeyID       string    `json:"key_id,omitempty"`
	RetainUntil time.Time `json:"retain_until,omitzero"`

	Classification string            `json:"classification,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`

	// Detail is nil when the source reported none of its facts; read it
	// through Details.
	Detail *BackupDetail `json:"detail,omitempty"`
}

// BackupDetail holds the facts of a backup that an object store's catalog
// does not know: its contents, the program that made it and, for a
// physical database backup, its WAL positions.
type BackupDetail struct {
	FileCount int64 `json:"file_count,omitempty"`
	// DeltaBytes is what the backup copied of its data before compression
	// (pgBackRest info.delta): all of LogicalBytes for a full, what
	// changed for a diff or incr.
	DeltaBytes int64 `json:"delta_bytes,omitempty"`
	// RestoreBytes is what a restore of the backup reads from its
	// repository: the backup and every backup it references (pgBackRest
	// info.repository.size).
	RestoreBytes int64 `json:"restore_bytes,omitempty"`
	// Databases are the databases a backup of a whole database cluster
	// holds, when the source reports them (pgBackRest database-ref).
	Databases []string `json:"databases,omitempty"`
	// ExpectedInterval is how often the backup tool is scheduled to take
	// backups of this series, as the source reads it from the schedule
	// that made this backup (a Velero Schedule's longest interval between
	// two runs); zero when the source knows no schedule. The late check
	// judges a series by the interval of its newest good backup, unless
	// the configuration sets one for the source (expected_interval),
	// which always wins. The history keeps it to the second.
	ExpectedInterval time.Duration `json:"expected_interval,omitempty"`

	// Checksum is "<algorithm>:<hex digest>", for example "sha256:9f86d0...".
	Checksum string `json:"checksum,omitempty"`

	Agent        string `json:"agent,omitempty"`
	AgentVersion string `json:"agent_version,omitempty"`

	// Paths are the absolute paths a file-level backup holds: its roots
	// (what was backed up, /srv/app) and, where the source can see inside
	// the backup, entries below them to a bounded depth (/srv/app/cache,
	// /srv/app/data/tmp). A path with no ancestor among the others is a
	// root, so the list needs no marker to tell roots from entries and
	// stays one list in the history. The ephemeral-data check matches only
	// what lies below a root, never a root's own elements; a backup whose
	// contents are not known lists its roots only, and so is never flagged.
	Paths []string `json:"paths,omitempty"`

	// WAL positions of a physical database backup (pgBackRest, WAL-G).
	LSNStart string `json:"lsn_start,omitempty"`
	LSNStop  string `json:"lsn_stop,omitempty"`
	WALStart string `json:"wal_start,omitempty"`
	WALStop  string `json:"wal_stop,omitempty"`
}

// String shows the facts, so that a backup printed with %v shows them
// rather than a pointer.
func (d *BackupDetail) String() string {
	if d == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%+v", *d)
}

// Details returns the backup's detail, the zero BackupDetail when the
// source reported none.
func (b *Backup) Details() BackupDetail {
	if b.Detail == nil {
		return BackupDetail{}
	}
	return *b.Detail
}

// SetDetails sets the backup's detail, leaving Detail nil when d is empty
// so that a record without any costs no allocation.
func (b *Backup) SetDetails(d BackupDetail) {
	if d.isZero() {
		b.Detail = nil
		return
	}
	b.Detail = &d
}

func (d *BackupDetail) isZero() bool {
	return d.FileCount == 0 && d.DeltaBytes == 0 && d.RestoreBytes == 0 && len(d.Databases) == 0 &&
		d.Checksum == "" && d.Agent == "" && d.AgentVersion == "" && len(d.Paths) == 0 &&
		d.LSNStart == "" && d.LSNStop == "" && d.WALStart == "" && d.WALStop == "" && d.ExpectedInterval == 0
}

// Key identifies a backup across collections: a source never reuses an id
// within a dataset (pgBackRest labels, for one, repeat across stanzas).
func (b *Backup) Key() string { return b.Source + "\x00" + b.Dataset + "\x00" + b.ID }

// Good reports whether the backup can be restored from, as far as its
// catalog knows.
func (b *Backup) Good() bool { return b.Status == StatusSucceeded }

// Repository is what a source knows about the store its backups live in, as
// observed at one moment.
type Repository struct {
	Source     string    `json:"source"`
	Env        string    `json:"env"`
	Dataset    string    `json:"dataset"`
	Name       string    `json:"name"`
	ObservedAt time.Time `json:"observed_at"`

	Location     string `json:"location,omitempty"`
	StorageClass string `json:"storage_class,omitempty"`
	Region       string `json:"region,omitempty"`

	// StoredBytes is the size on storage after deduplication and compression;
	// LogicalBytes is the size of the data it represents (sum over backups
	// for deduplicating stores, uncompressed).
	StoredBytes      int64   `json:"stored_bytes,omitempty"`
	LogicalBytes     int64   `json:"logical_bytes,omitempty"`
	DedupRatio       float64 `json:"dedup_ratio,omitempty"`
	CompressionRatio float64 `json:"compression_ratio,omitempty"`

	// WAL archive range kept by the repository: the point-in-time recovery
	// window of a database.
	WALMin string `json:"wal_min,omitempty"`
	WALMax string `json:"wal_max,omitempty"`

	// Healthy is false when the source reports a problem with the
	// repository; StatusCode and Status carry the source's own words.
	Healthy      bool   `json:"healthy"`
	StatusCode   int    `json:"status_code"`
	Status       string `json:"status,omitempty"`
	BackupLocked bool   `json:"backup_locked"`
	// LocksUnknown is true when the source does not look at the
	// repository's locks (restic runs with --no-lock and reads none), so
	// that BackupLocked's false means "unknown" rather than "unlocked".
	LocksUnknown bool `json:"locks_unknown,omitempty"`
	// RestoreLocked is true when a restore holds the repository;
	// RestoreLockKnown says whether the source reports restore locks at
	// all (pgBackRest from 2.48 on).
	RestoreLocked    bool `json:"restore_locked"`
	RestoreLockKnown bool `json:"restore_lock_known,omitempty"`

	// DatabaseVersion is the major version of the database the repository
	// backs up now (PostgreSQL "15" for a pgBackRest stanza).
	DatabaseVersion string `json:"database_version,omitempty"`
	// BackupProgress is the completed fraction (0 to 1) of the backup
	// running now, when BackupProgressKnown; BackupBytesDone and
	// BackupBytesTotal are its bytes copied so far and in all, when the
	// source reports them (pgBackRest from 2.48 on).
	BackupProgressKnown bool    `json:"backup_progress_known,omitempty"`
	BackupProgress      float64 `json:"backup_progress,omitempty"`
	BackupBytesDone     int64   `json:"backup_bytes_done,omitempty"`
	BackupBytesTotal    int64   `json:"backup_bytes_total,omitempty"`

	// Protection holds the store's own protection facts (a bucket's
	// versioning, Object Lock, default encryption and lifecycle; a backup
	// vault's lock), nil when the source does not read them.
	Protection *Protection `json:"protection,omitempty"`
}

// Protection is what a store (an S3 bucket, an AWS Backup vault) says about
// how it protects what it holds. An empty string or a false *Known field is
// "unknown" (the store did not say, or answered NotImplemented), never
// "disabled": disabled is said with the explicit values below.
type Protection struct {
	// Versioning is enabled, suspended or disabled.
	Versioning string `json:"versioning,omitempty"`
	// LockMode is COMPLIANCE, GOVERNANCE or none (Object Lock, Vault Lock).
	LockMode string `json:"lock_mode,omitempty"`
	// LockRetention is the default (or minimum) retention of the lock.
	LockRetention time.Duration `json:"lock_retention,omitempty"`
	// Encryption is the default encryption: aws:kms, aws:kms:dsse, AES256
	// or none; KMSKey the key when it is a KMS key.
	Encryption string `json:"encryption,omitempty"`
	KMSKey     string `json:"kms_key,omitempty"`
	// LifecycleKnown is true when the store's lifecycle rules were read
	// (an empty rule set then means "never transitions, never expires").
	LifecycleKnown bool `json:"lifecycle_known,omitempty"`
	// TransitionAfter is the earliest age at which a lifecycle rule
	// moves backups to TransitionClass; ExpireAfter the earliest age at
	// which one deletes them; zero when no rule does.
	TransitionAfter time.Duration `json:"transition_after,omitempty"`
	TransitionClass string        `json:"transition_class,omitempty"`
	ExpireAfter     time.Duration `json:"expire_after,omitempty"`
}

// Key identifies a repository across collections.
func (r *Repository) Key() string { return r.Source + "\x00" + r.Name }

// Catalog is everything one collection of one source produced.
type Catalog struct {
	Backups      []Backup     `json:"backups"`
	Repositories []Repository `json:"repositories"`
	// CostLines and Requests are what a billing source (or a store's
	// request metrics) reported; backup sources leave them empty.
	CostLines []CostLine     `json:"cost_lines,omitempty"`
	Requests  []RequestCount `json:"requests,omitempty"`
	// BillRows is what a billing source's last collection did with the
	// rows of the bills it holds (read, kept, out of scope, rejected by
	// reason); nil for every other source, and for a catalog read back
	// from history.
	BillRows *BillRows `json:"bill_rows,omitempty"`

	// Probes are the restore tests the source itself reports (the
	// restore jobs of AWS Backup restore testing plans), as finished
	// probe runs with Collected set: they count for the restore-test
	// checks like the runs of Restorable's own probes. A source reports
	// each finished test in every collection while its catalog still
	// lists it; consumers keep each run id once.
	Probes []ProbeResult `json:"probes,omitempty"`
}

// SeriesKey names the bounded label set metrics are kept under.
type SeriesKey struct {
	Env, Source, Dataset string
}

// Series returns the metric identity of a backup.
func (b *Backup) Series() SeriesKey { return SeriesKey{b.Env, b.Source, b.Dataset} }

// ParseTags turns restic-style "key=value" tags into a map. Tags without "="
// are kept with an empty value so that nothing a user wrote is lost.
func ParseTags(tags []string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v, _ := strings.Cut(t, "=")
		m[k] = v
	}
	return m
}

// ProbeResult is one run of a restore-verification probe: one of
// Restorable's own probes, or a restore test a source reports (Collected).
type ProbeResult struct {
	RunID   string `json:"run_id"`
	Probe   string `json:"probe"`
	Kind    string `json:"kind"`
	Env     string `json:"env"`
	Dataset string `json:"dataset"`
	Source  string `json:"source,omitempty"`
	// Collected is true for a restore test that Source's catalog
	// reports (an AWS Backup restore testing plan's restore job) rather
	// than a run of a configured probe. Such a run counts while its source
	// is configured, as the source's backups do; its Probe name holds a
	// colon, which configured probe names may not.
	Collected bool `json:"collected,omitempty"`

	// BackupID and Release name what was restored; RestoredPoint is the
	// time of the data the restore brought back (the backup's end time, or
	// the recovery target).
	BackupID      string    `json:"backup_id,omitempty"`
	Release       string    `json:"release,omitempty"`
	RestoredPoint time.Time `json:"restored_point,omitzero"`

	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration"`
	Success  bool          `json:"success"`
	Error    string        `json:"error,omitempty"`

	TablesCompared   int      `json:"tables_compared,omitempty"`
	TablesMismatched []string `json:"tables_mismatched,omitempty"`
	FilesVerified    int64    `json:"files_verified,omitempty"`
	BytesVerified    int64    `json:"bytes_verified,omitempty"`
	Details          string   `json:"details,omitempty"`

	// RTOTarget is the env's restore-time objective at the time of the run.
	RTOTarget time.Duration `json:"rto_target,omitempty"`
}

// AchievedRPO is how old the restored data was when the probe started.
func (p *ProbeResult) AchievedRPO() time.Duration {
	if p.RestoredPoint.IsZero() {
		return 0
	}
	return p.Start.Sub(p.RestoredPoint)
}
