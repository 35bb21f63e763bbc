package history

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/restorable/restorable/internal/model"
)

// BackupRow is one version of a backup in the backups table. Optional columns
// are NULL when the record leaves them at their zero value ("unknown").
type BackupRow struct {
	Source         string    `parquet:"source,dict"`
	Env            string    `parquet:"env,dict"`
	Dataset        string    `parquet:"dataset,dict"`
	ID             string    `parquet:"id"`
	Type           string    `parquet:"type,dict"`
	Release        string    `parquet:"release,optional,dict"`
	Parent         string    `parquet:"parent,optional"`
	StartTime      time.Time `parquet:"start_time,optional,timestamp(microsecond:utc)"`
	EndTime        time.Time `parquet:"end_time,optional,timestamp(microsecond:utc)"`
	Status         string    `parquet:"status,dict"`
	Error          string    `parquet:"error,optional"`
	LogicalBytes   int64     `parquet:"logical_bytes,optional"`
	StoredBytes    int64     `parquet:"stored_bytes,optional"`
	FileCount      int64     `parquet:"file_count,optional"`
	Location       string    `parquet:"location,optional,dict"`
	StorageClass   string    `parquet:"storage_class,optional,dict"`
	Region         string    `parquet:"region,optional,dict"`
	Encrypted      bool      `parquet:"encrypted"`
	KeyID          string    `parquet:"key_id,optional,dict"`
	Immutable      bool      `parquet:"immutable"`
	RetainUntil    time.Time `parquet:"retain_until,optional,timestamp(microsecond:utc)"`
	Checksum       string    `parquet:"checksum,optional"`
	Agent          string    `parquet:"agent,optional,dict"`
	AgentVersion   string    `parquet:"agent_version,optional,dict"`
	Classification string    `parquet:"classification,optional,dict"`
	// Tags is a JSON object with sorted keys, NULL when the backup has none.
	Tags     string   `parquet:"tags,optional"`
	Paths    []string `parquet:"paths,list"`
	LSNStart string   `parquet:"lsn_start,optional"`
	LSNStop  string   `parquet:"lsn_stop,optional"`
	WALStart string   `parquet:"wal_start,optional"`
	WALStop  string   `parquet:"wal_stop,optional"`
	// DeltaBytes, RestoreBytes and Databases were added after the first
	// release: files written before have no such columns, and readers
	// take them as NULL (DuckDB's union_by_name, readLegacy here).
	DeltaBytes   int64    `parquet:"delta_bytes,optional"`
	RestoreBytes int64    `parquet:"restore_bytes,optional"`
	Databases    []string `parquet:"databases,list"`
	// ExpectedIntervalSeconds (model.Backup.ExpectedInterval) came later
	// still, NULL when the source knows no schedule and in earlier files.
	ExpectedIntervalSeconds int64 `parquet:"expected_interval_seconds,optional"`
	// Removed marks the row that records the backup leaving its source's
	// catalog (pruned or expired).
	Removed bool `parquet:"removed"`
	// CollectedAt is when this version was observed.
	CollectedAt time.Time `parquet:"collected_at,timestamp(microsecond:utc)"`
	// ContentHash is the writer's fingerprint of every column but removed,
	// collected_at and itself. It lets a restarted writer rebuild its
	// duplicate filter from a few columns instead of whole rows; analyses
	// have no use for it.
	ContentHash int64 `parquet:"content_hash"`
}

// BackupRowOf maps a backup observed at collectedAt to its row. Times are
// kept to the microsecond, the precision of the table.
func BackupRowOf(b *model.Backup, collectedAt time.Time) BackupRow {
	d := b.Details()
	r := BackupRow{
		Source:         b.Source,
		Env:            b.Env,
		Dataset:        b.Dataset,
		ID:             b.ID,
		Type:           string(b.Type),
		Release:        b.Release,
		Parent:         b.Parent,
		StartTime:      micros(b.Start),
		EndTime:        micros(b.End),
		Status:         string(b.Status),
		Error:          b.Error,
		LogicalBytes:   b.LogicalBytes,
		StoredBytes:    b.StoredBytes,
		FileCount:      d.FileCount,
		Location:       b.Location,
		StorageClass:   b.StorageClass,
		Region:         b.Region,
		Encrypted:      b.Encrypted,
		KeyID:          b.KeyID,
		Immutable:      b.Immutable,
		RetainUntil:    micros(b.RetainUntil),
		Checksum:       d.Checksum,
		Agent:          d.Agent,
		AgentVersion:   d.AgentVersion,
		Classification: b.Classification,
		Tags:           tagsJSON(b.Tags),
		Paths:          d.Paths,
		LSNStart:       d.LSNStart,
		LSNStop:        d.LSNStop,
		WALStart:       d.WALStart,
		WALStop:        d.WALStop,
		DeltaBytes:     d.DeltaBytes,
		RestoreBytes:   d.RestoreBytes,
		Databases:      d.Databases,
		CollectedAt:    micros(collectedAt),
		ContentHash:    backupHash(b.Source, b),
		// Whole seconds: schedules fire on whole seconds at the finest.
		ExpectedIntervalSeconds: int64(d.ExpectedInterval / time.Second),
	}
	return r
}

// Backup maps the row back to the record it was made from.
func (r *BackupRow) Backup() (model.Backup, error) {
	var tags map[string]string
	if r.Tags != "" {
		if err := json.Unmarshal([]byte(r.Tags), &tags); err != nil {
			return model.Backup{}, fmt.Errorf("decode tags of backup %s of %s: %w", r.ID, r.Source, err)
		}
	}
	var paths, databases []string
	if len(r.Paths) > 0 {
		paths = r.Paths
	}
	if len(r.Databases) > 0 {
		databases = r.Databases
	}
	b := model.Backup{
		Source:         r.Source,
		Env:            r.Env,
		Dataset:        r.Dataset,
		ID:             r.ID,
		Type:           model.BackupType(r.Type),
		Release:        r.Release,
		Parent:         r.Parent,
		Start:          utc(r.StartTime),
		End:            utc(r.EndTime),
		Status:         model.Status(r.Status),
		Error:          r.Error,
		LogicalBytes:   r.LogicalBytes,
		StoredBytes:    r.StoredBytes,
		Location:       r.Location,
		StorageClass:   r.StorageClass,
		Region:         r.Region,
		Encrypted:      r.Encrypted,
		KeyID:          r.KeyID,
		Immutable:      r.Immutable,
		RetainUntil:    utc(r.RetainUntil),
		Classification: r.Classification,
		Tags:           tags,
	}
	b.SetDetails(model.BackupDetail{
		FileCount:    r.FileCount,
		Checksum:     r.Checksum,
		Agent:        r.Agent,
		AgentVersion: r.AgentVersion,
		Paths:        paths,
		LSNStart:     r.LSNStart,
		LSNStop:      r.LSNStop,
		WALStart:     r.WALStart,
		WALStop:      r.WALStop,
		DeltaBytes:   r.DeltaBytes,
		RestoreBytes: r.RestoreBytes,
		Databases:    databases,
		// The column holds whole seconds.
		ExpectedInterval: time.Duration(r.ExpectedIntervalSeconds) * time.Second,
	})
	return b, nil
}

// backupHash fingerprints the content of a backup as its row would hold it,
// under the given source name. It reads the record directly, so that
// comparing an unchanged catalog with the last one allocates nothing.
func backupHash(source string, b *model.Backup) int64 {
	d := b.Details()
	var h hasher
	h.reset()
	for _, s := range [...]string{
		source, b.Env, b.Dataset, b.ID, string(b.Type), b.Release, b.Parent, string(b.Status), b.Error,
		b.Location, b.StorageClass, b.Region, b.KeyID, d.Checksum, d.Agent, d.AgentVersion,
		b.Classification, d.LSNStart, d.LSNStop, d.WALStart, d.WALStop,
	} {
		h.str(s)
	}
	h.time(b.Start)
	h.time(b.End)
	h.time(b.RetainUntil)
	h.u64(uint64(b.LogicalBytes))
	h.u64(uint64(b.StoredBytes))
	h.u64(uint64(d.FileCount))
	h.bool(b.Encrypted)
	h.bool(b.Immutable)
	// Tags are a map: summing a hash per pair makes the result independent
	// of iteration order without sorting.
	var tags uint64
	for k, v := range b.Tags {
		var p hasher
		p.reset()
		p.str(k)
		p.str(v)
		tags += p.sum()
	}
	h.u64(uint64(len(b.Tags)))
	h.u64(tags)
	h.u64(uint64(len(d.Paths)))
	for _, p := range d.Paths {
		h.str(p)
	}
	// Columns added later are hashed only when set, so that the stored
	// hashes of backups without them stay what they were and an upgrade
	// does not write a new version of every backup.
	if d.DeltaBytes != 0 || d.RestoreBytes != 0 || len(d.Databases) > 0 {
		h.u64(uint64(d.DeltaBytes))
		h.u64(uint64(d.RestoreBytes))
		h.u64(uint64(len(d.Databases)))
		for _, db := range d.Databases {
			h.str(db)
		}
	}
	if d.ExpectedInterval != 0 {
		// A marker keeps this apart from the columns before it.
		h.str("expected_interval")
		h.u64(uint64(d.ExpectedInterval / time.Second))
	}
	return int64(h.sum())
}

// RepositoryRow is one observation of a repository in the repositories
// table.
type RepositoryRow struct {
	Source           string    `parquet:"source,dict"`
	Env              string    `parquet:"env,dict"`
	Dataset          string    `parquet:"dataset,dict"`
	Name             string    `parquet:"name,dict"`
	ObservedAt       time.Time `parquet:"observed_at,timestamp(microsecond:utc)"`
	Location         string    `parquet:"location,optional,dict"`
	StorageClass     string    `parquet:"storage_class,optional,dict"`
	Region           string    `parquet:"region,optional,dict"`
	StoredBytes      int64     `parquet:"stored_bytes,optional"`
	LogicalBytes     int64     `parquet:"logical_bytes,optional"`
	DedupRatio       float64   `parquet:"dedup_ratio,optional"`
	CompressionRatio float64   `parquet:"compression_ratio,optional"`
	WALMin           string    `parquet:"wal_min,optional"`
	WALMax           string    `parquet:"wal_max,optional"`
	Healthy          bool      `parquet:"healthy"`
	StatusCode       int64     `parquet:"status_code"`
	Status           string    `parquet:"status,optional,dict"`
	BackupLocked     bool      `parquet:"backup_locked"`
	RestoreLocked    bool      `parquet:"restore_locked"`
	// The store's protection facts (model.Protection), added after the
	// first release: files written before have no such columns, and
	// readers take them as NULL (DuckDB's union_by_name, readLegacy
	// here). HasProtection is true when the source reads the facts at all;
	// an empty fact with it is "unknown".
	HasProtection          bool   `parquet:"has_protection,optional"`
	Versioning             string `parquet:"versioning,optional,dict"`
	LockMode               string `parquet:"lock_mode,optional,dict"`
	LockRetentionSeconds   int64  `parquet:"lock_retention_seconds,optional"`
	Encryption             string `parquet:"encryption,optional,dict"`
	KMSKey                 string `parquet:"kms_key,optional,dict"`
	LifecycleKnown         bool   `parquet:"lifecycle_known,optional"`
	TransitionAfterSeconds int64  `parquet:"transition_after_seconds,optional"`
	TransitionClass        string `parquet:"transition_class,optional,dict"`
	ExpireAfterSeconds     int64  `parquet:"expire_after_seconds,optional"`
	// ContentHash fingerprints every column but observed_at and itself, for
	// the writer's duplicate filter.
	ContentHash int64 `parquet:"content_hash"`
}

// RepositoryRowOf maps a repository observation to its row.
func RepositoryRowOf(r *model.Repository) RepositoryRow {
	row := RepositoryRow{
		Source:           r.Source,
		Env:              r.Env,
		Dataset:          r.Dataset,
		Name:             r.Name,
		ObservedAt:       micros(r.ObservedAt),
		Location:         r.Location,
		StorageClass:     r.StorageClass,
		Region:           r.Region,
		StoredBytes:      r.StoredBytes,
		LogicalBytes:     r.LogicalBytes,
		DedupRatio:       r.DedupRatio,
		CompressionRatio: r.CompressionRatio,
		WALMin:           r.WALMin,
		WALMax:           r.WALMax,
		Healthy:          r.Healthy,
		StatusCode:       int64(r.StatusCode),
		Status:           r.Status,
		BackupLocked:     r.BackupLocked,
		RestoreLocked:    r.RestoreLocked,
	}
	if p := r.Protection; p != nil {
		row.HasProtection = true
		row.Versioning, row.LockMode, row.Encryption, row.KMSKey = p.Versioning, p.LockMode, p.Encryption, p.KMSKey
		row.LockRetentionSeconds = int64(p.LockRetention / time.Second)
		row.LifecycleKnown = p.LifecycleKnown
		row.TransitionAfterSeconds = int64(p.TransitionAfter / time.Second)
		row.TransitionClass = p.TransitionClass
		row.ExpireAfterSeconds = int64(p.ExpireAfter / time.Second)
	}
	row.ContentHash = row.contentHash()
	return row
}

// ProtectionOf returns the protection facts a row holds, nil when the
// source reported none.
func (r *RepositoryRow) ProtectionOf() *model.Protection {
	if !r.HasProtection {
		return nil
	}
	return &model.Protection{
		Versioning: r.Versioning, LockMode: r.LockMode, LockRetention: time.Duration(r.LockRetentionSeconds) * time.Second,
		Encryption: r.Encryption, KMSKey: r.KMSKey, LifecycleKnown: r.LifecycleKnown,
		TransitionAfter: time.Duration(r.TransitionAfterSeconds) * time.Second, TransitionClass: r.TransitionClass,
		ExpireAfter: time.Duration(r.ExpireAfterSeconds) * time.Second,
	}
}

// Repository maps the row back to the record it was made from.
func (r *RepositoryRow) Repository() model.Repository {
	return model.Repository{
		Source:           r.Source,
		Env:              r.Env,
		Dataset:          r.Dataset,
		Name:             r.Name,
		ObservedAt:       utc(r.ObservedAt),
		Location:         r.Location,
		StorageClass:     r.StorageClass,
		Region:           r.Region,
		StoredBytes:      r.StoredBytes,
		LogicalBytes:     r.LogicalBytes,
		DedupRatio:       r.DedupRatio,
		CompressionRatio: r.CompressionRatio,
		WALMin:           r.WALMin,
		WALMax:           r.WALMax,
		Healthy:          r.Healthy,
		StatusCode:       int(r.StatusCode),
		Status:           r.Status,
		BackupLocked:     r.BackupLocked,
		RestoreLocked:    r.RestoreLocked,
		Protection:       r.ProtectionOf(),
	}
}

func (r *RepositoryRow) contentHash() int64 {
	var h hasher
	h.reset()
	for _, s := range [...]string{
		r.Source, r.Env, r.Dataset, r.Name, r.Location, r.StorageClass, r.Region, r.WALMin, r.WALMax, r.Status,
	} {
		h.str(s)
	}
	h.u64(uint64(r.StoredBytes))
	h.u64(uint64(r.LogicalBytes))
	h.u64(math.Float64bits(r.DedupRatio))
	h.u64(math.Float64bits(r.CompressionRatio))
	h.u64(uint64(r.StatusCode))
	h.bool(r.Healthy)
	h.bool(r.BackupLocked)
	h.bool(r.RestoreLocked)
	// Hashed only when set, so that the stored hashes of repositories
	// without protection facts stay what they were.
	if r.HasProtection {
		for _, s := range [...]string{r.Versioning, r.LockMode, r.Encryption, r.KMSKey, r.TransitionClass} {
			h.str(s)
		}
		h.u64(uint64(r.LockRetentionSeconds))
		h.u64(uint64(r.TransitionAfterSeconds))
		h.u64(uint64(r.ExpireAfterSeconds))
		h.bool(r.LifecycleKnown)
	}
	return int64(h.sum())
}

// ProbeRow is one run of a restore-verification probe in the probes table.
type ProbeRow struct {
	RunID            string    `parquet:"run_id"`
	Probe            string    `parquet:"probe,dict"`
	Kind             string    `parquet:"kind,dict"`
	Env              string    `parquet:"env,dict"`
	Dataset          string    `parquet:"dataset,dict"`
	Source           string    `parquet:"source,optional,dict"`
	BackupID         string    `parquet:"backup_id,optional"`
	Release          string    `parquet:"release,optional"`
	RestoredPoint    time.Time `parquet:"restored_point,optional,timestamp(microsecond:utc)"`
	StartTime        time.Time `parquet:"start_time,timestamp(microsecond:utc)"`
	DurationSeconds  float64   `parquet:"duration_seconds"`
	Success          bool      `parquet:"success"`
	Error            string    `parquet:"error,optional"`
	TablesCompared   int64     `parquet:"tables_compared"`
	TablesMismatched []string  `parquet:"tables_mismatched,list"`
	FilesVerified    int64     `parquet:"files_verified"`
	BytesVerified    int64     `parquet:"bytes_verified"`
	Details          string    `parquet:"details,optional"`
	RTOTargetSeconds float64   `parquet:"rto_target_seconds,optional"`
	// AchievedRPOSeconds is NULL when the restored point is unknown; a
	// pointer keeps a measured zero apart from unknown.
	AchievedRPOSeconds *float64 `parquet:"achieved_rpo_seconds,optional"`
	// Collected marks a restore test a source reported (an AWS Backup
	// restore testing plan's job), not a run of a configured probe. It
	// was added after the first release: files written before have no
	// such column, and readers take it as NULL, false (DuckDB's
	// union_by_name, readLegacy here).
	Collected bool `parquet:"collected,optional"`
}

// ProbeRowOf maps a probe result to its row.
func ProbeRowOf(p *model.ProbeResult) ProbeRow {
	row := ProbeRow{
		RunID:            p.RunID,
		Probe:            p.Probe,
		Kind:             p.Kind,
		Env:              p.Env,
		Dataset:          p.Dataset,
		Source:           p.Source,
		BackupID:         p.BackupID,
		Release:          p.Release,
		RestoredPoint:    micros(p.RestoredPoint),
		StartTime:        micros(p.Start),
		DurationSeconds:  p.Duration.Seconds(),
		Success:          p.Success,
		Error:            p.Error,
		TablesCompared:   int64(p.TablesCompared),
		TablesMismatched: p.TablesMismatched,
		FilesVerified:    p.FilesVerified,
		BytesVerified:    p.BytesVerified,
		Details:          p.Details,
		RTOTargetSeconds: p.RTOTarget.Seconds(),
		Collected:        p.Collected,
	}
	if !p.RestoredPoint.IsZero() {
		rpo := p.AchievedRPO().Seconds()
		row.AchievedRPOSeconds = &rpo
	}
	return row
}

// ProbeResult maps the row back to the result it was made from, with
// durations to the microsecond.
func (r *ProbeRow) ProbeResult() model.ProbeResult {
	var mismatched []string
	if len(r.TablesMismatched) > 0 {
		mismatched = r.TablesMismatched
	}
	return model.ProbeResult{
		RunID:            r.RunID,
		Probe:            r.Probe,
		Kind:             r.Kind,
		Env:              r.Env,
		Dataset:          r.Dataset,
		Source:           r.Source,
		BackupID:         r.BackupID,
		Release:          r.Release,
		RestoredPoint:    utc(r.RestoredPoint),
		Start:            utc(r.StartTime),
		Duration:         seconds(r.DurationSeconds),
		Success:          r.Success,
		Error:            r.Error,
		TablesCompared:   int(r.TablesCompared),
		TablesMismatched: mismatched,
		FilesVerified:    r.FilesVerified,
		BytesVerified:    r.BytesVerified,
		Details:          r.Details,
		RTOTarget:        seconds(r.RTOTargetSeconds),
		Collected:        r.Collected,
	}
}

// micros drops what the tables cannot hold, so that a row read back hashes
// and compares like the row that was written.
func micros(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}

// utc keeps zero times zero and puts the others in UTC, the zone the
// records use.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func seconds(s float64) time.Duration {
	return time.Duration(math.Round(s*1e6)) * time.Microsecond
}

func tagsJSON(tags map[string]string) string {
	if len(tags) == 0 {
		return ""
	}
	// Marshalling a map of strings cannot fail, and encoding/json sorts the
	// keys, so equal tags always give equal text and equal hashes.
	b, _ := json.Marshal(tags)
	return string(b)
}

// hasher feeds typed values to xxhash without allocating. Its values are
// stored in the tables, so the encoding must never change.
type hasher struct {
	d   xxhash.Digest
	buf [8]byte
}

func (h *hasher) reset() { h.d.Reset() }

func (h *hasher) sum() uint64 { return h.d.Sum64() }

func (h *hasher) u64(v uint64) {
	binary.LittleEndian.PutUint64(h.buf[:], v)
	_, _ = h.d.Write(h.buf[:])
}

// str hashes the length before the bytes, so that ("ab", "c") and
// ("a", "bc") differ.
func (h *hasher) str(s string) {
	h.u64(uint64(len(s)))
	_, _ = h.d.WriteString(s)
}

func (h *hasher) bool(b bool) {
	if b {
		h.u64(1)
	} else {
		h.u64(0)
	}
}

// time hashes a time at the precision of the tables, and zero apart from
// every other time.
func (h *hasher) time(t time.Time) {
	if t.IsZero() {
		h.u64(0)
		return
	}
	h.u64(1)
	h.u64(uint64(t.UnixMicro()))
}
