package history

import (
	"fmt"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Files written by earlier versions have fewer columns than the rows this
// version writes. parquet-go could convert them, but its conversion turns
// every boolean to false (issue 468), so each earlier schema is kept here
// as a struct of its own: such a file is read with exactly its schema and
// every row upgraded, the new columns left at their zero value (NULL).
// Adding a column to a table means adding the previous schema here.

// backupRowV1 is BackupRow before delta_bytes, restore_bytes and
// databases.
type backupRowV1 struct {
	backupRowV1Head
	Removed     bool      `parquet:"removed"`
	CollectedAt time.Time `parquet:"collected_at,timestamp(microsecond:utc)"`
	ContentHash int64     `parquet:"content_hash"`
}

// backupRowV1Head are the columns of the first release before removed,
// which every later schema kept in this order.
type backupRowV1Head struct {
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
	Tags           string    `parquet:"tags,optional"`
	Paths          []string  `parquet:"paths,list"`
	LSNStart       string    `parquet:"lsn_start,optional"`
	LSNStop        string    `parquet:"lsn_stop,optional"`
	WALStart       string    `parquet:"wal_start,optional"`
	WALStop        string    `parquet:"wal_stop,optional"`
}

func (r *backupRowV1) upgrade() BackupRow {
	return BackupRow{
		Source:         r.Source,
		Env:            r.Env,
		Dataset:        r.Dataset,
		ID:             r.ID,
		Type:           r.Type,
		Release:        r.Release,
		Parent:         r.Parent,
		StartTime:      r.StartTime,
		EndTime:        r.EndTime,
		Status:         r.Status,
		Error:          r.Error,
		LogicalBytes:   r.LogicalBytes,
		StoredBytes:    r.StoredBytes,
		FileCount:      r.FileCount,
		Location:       r.Location,
		StorageClass:   r.StorageClass,
		Region:         r.Region,
		Encrypted:      r.Encrypted,
		KeyID:          r.KeyID,
		Immutable:      r.Immutable,
		RetainUntil:    r.RetainUntil,
		Checksum:       r.Checksum,
		Agent:          r.Agent,
		AgentVersion:   r.AgentVersion,
		Classification: r.Classification,
		Tags:           r.Tags,
		Paths:          r.Paths,
		LSNStart:       r.LSNStart,
		LSNStop:        r.LSNStop,
		WALStart:       r.WALStart,
		WALStop:        r.WALStop,
		Removed:        r.Removed,
		CollectedAt:    r.CollectedAt,
		ContentHash:    r.ContentHash,
	}
}

// backupRowV2 is BackupRow before expected_interval_seconds.
type backupRowV2 struct {
	backupRowV1Head
	DeltaBytes   int64     `parquet:"delta_bytes,optional"`
	RestoreBytes int64     `parquet:"restore_bytes,optional"`
	Databases    []string  `parquet:"databases,list"`
	Removed      bool      `parquet:"removed"`
	CollectedAt  time.Time `parquet:"collected_at,timestamp(microsecond:utc)"`
	ContentHash  int64     `parquet:"content_hash"`
}

func (r *backupRowV2) upgrade() BackupRow {
	v1 := backupRowV1{backupRowV1Head: r.backupRowV1Head, Removed: r.Removed, CollectedAt: r.CollectedAt, ContentHash: r.ContentHash}
	row := v1.upgrade()
	row.DeltaBytes, row.RestoreBytes, row.Databases = r.DeltaBytes, r.RestoreBytes, r.Databases
	return row
}

// backupCheckpointRowV2 is BackupCheckpointRow over backupRowV2.
type backupCheckpointRowV2 struct {
	backupRowV2
	CheckpointAt time.Time `parquet:"checkpoint_at,timestamp(microsecond:utc)"`
}

func (r *backupCheckpointRowV2) upgrade() BackupCheckpointRow {
	return BackupCheckpointRow{BackupRow: r.backupRowV2.upgrade(), CheckpointAt: r.CheckpointAt}
}

// backupCheckpointRowV1 is BackupCheckpointRow over backupRowV1.
type backupCheckpointRowV1 struct {
	backupRowV1
	CheckpointAt time.Time `parquet:"checkpoint_at,timestamp(microsecond:utc)"`
}

func (r *backupCheckpointRowV1) upgrade() BackupCheckpointRow {
	return BackupCheckpointRow{BackupRow: r.backupRowV1.upgrade(), CheckpointAt: r.CheckpointAt}
}

// repositoryRowV1 is RepositoryRow before the protection facts.
type repositoryRowV1 struct {
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
	ContentHash      int64     `parquet:"content_hash"`
}

func (r *repositoryRowV1) upgrade() RepositoryRow {
	return RepositoryRow{
		Source: r.Source, Env: r.Env, Dataset: r.Dataset, Name: r.Name, ObservedAt: r.ObservedAt,
		Location: r.Location, StorageClass: r.StorageClass, Region: r.Region,
		StoredBytes: r.StoredBytes, LogicalBytes: r.LogicalBytes, DedupRatio: r.DedupRatio, CompressionRatio: r.CompressionRatio,
		WALMin: r.WALMin, WALMax: r.WALMax, Healthy: r.Healthy, StatusCode: r.StatusCode, Status: r.Status,
		BackupLocked: r.BackupLocked, RestoreLocked: r.RestoreLocked, ContentHash: r.ContentHash,
	}
}

// probeRowV1 is ProbeRow before collected.
type probeRowV1 struct {
	RunID              string    `parquet:"run_id"`
	Probe              string    `parquet:"probe,dict"`
	Kind               string    `parquet:"kind,dict"`
	Env                string    `parquet:"env,dict"`
	Dataset            string    `parquet:"dataset,dict"`
	Source             string    `parquet:"source,optional,dict"`
	BackupID           string    `parquet:"backup_id,optional"`
	Release            string    `parquet:"release,optional"`
	RestoredPoint      time.Time `parquet:"restored_point,optional,timestamp(microsecond:utc)"`
	StartTime          time.Time `parquet:"start_time,timestamp(microsecond:utc)"`
	DurationSeconds    float64   `parquet:"duration_seconds"`
	Success            bool      `parquet:"success"`
	Error              string    `parquet:"error,optional"`
	TablesCompared     int64     `parquet:"tables_compared"`
	TablesMismatched   []string  `parquet:"tables_mismatched,list"`
	FilesVerified      int64     `parquet:"files_verified"`
	BytesVerified      int64     `parquet:"bytes_verified"`
	Details            string    `parquet:"details,optional"`
	RTOTargetSeconds   float64   `parquet:"rto_target_seconds,optional"`
	AchievedRPOSeconds *float64  `parquet:"achieved_rpo_seconds,optional"`
}

func (r *probeRowV1) upgrade() ProbeRow {
	return ProbeRow{
		RunID: r.RunID, Probe: r.Probe, Kind: r.Kind, Env: r.Env, Dataset: r.Dataset, Source: r.Source,
		BackupID: r.BackupID, Release: r.Release, RestoredPoint: r.RestoredPoint, StartTime: r.StartTime,
		DurationSeconds: r.DurationSeconds, Success: r.Success, Error: r.Error, TablesCompared: r.TablesCompared,
		TablesMismatched: r.TablesMismatched, FilesVerified: r.FilesVerified, BytesVerified: r.BytesVerified,
		Details: r.Details, RTOTargetSeconds: r.RTOTargetSeconds, AchievedRPOSeconds: r.AchievedRPOSeconds,
	}
}

// readLegacy reads a file whose schema is an earlier one of T's table into
// rows of T. It reports false when the schema is none it knows.
func readLegacy[T any](pf *parquet.File, path string, skip skipGroup, fn func([]T) error) (bool, error) {
	switch f := any(fn).(type) {
	case func([]BackupRow) error:
		if ok, err := readUpgraded(pf, path, skip, (*backupRowV1).upgrade, f); ok {
			return ok, err
		}
		return readUpgraded(pf, path, skip, (*backupRowV2).upgrade, f)
	case func([]BackupCheckpointRow) error:
		if ok, err := readUpgraded(pf, path, skip, (*backupCheckpointRowV1).upgrade, f); ok {
			return ok, err
		}
		return readUpgraded(pf, path, skip, (*backupCheckpointRowV2).upgrade, f)
	case func([]RepositoryRow) error:
		return readUpgraded(pf, path, skip, (*repositoryRowV1).upgrade, f)
	case func([]ProbeRow) error:
		return readUpgraded(pf, path, skip, (*probeRowV1).upgrade, f)
	}
	return false, nil
}

// readUpgraded reads a file of schema Old, if it has that schema, and
// hands its rows upgraded to fn.
func readUpgraded[Old, New any](pf *parquet.File, path string, skip skipGroup, upgrade func(*Old) New, fn func([]New) error) (bool, error) {
	if !parquet.EqualNodes(parquet.SchemaOf(new(Old)), pf.Schema()) {
		return false, nil
	}
	var out []New
	err := readGroups(pf, path, skip, func(rows []Old) error {
		out = out[:0]
		for i := range rows {
			out = append(out, upgrade(&rows[i]))
		}
		return fn(out)
	})
	if err != nil {
		return true, fmt.Errorf("read %s (an earlier schema): %w", path, err)
	}
	return true, nil
}
