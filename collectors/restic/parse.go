package restic

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// snapshot is one element of `restic snapshots --json`. restic 0.14 writes
// the fields up to tags; 0.17 added program_version and summary, and
// snapshots made by older versions keep lacking them after an upgrade.
// Fields this package does not know are ignored, so a newer restic that
// adds some does not break collection.
type snapshot struct {
	ID             string    `json:"id"`
	Time           time.Time `json:"time"`
	Parent         string    `json:"parent"`
	Tree           string    `json:"tree"`
	Paths          []string  `json:"paths"`
	Hostname       string    `json:"hostname"`
	Username       string    `json:"username"`
	Tags           []string  `json:"tags"`
	Original       string    `json:"original"`
	ProgramVersion string    `json:"program_version"`
	Summary        *summary  `json:"summary"`
}

// summary is what `restic backup` reported when it made the snapshot
// (restic 0.17 and later store it in the snapshot).
type summary struct {
	BackupStart         time.Time `json:"backup_start"`
	BackupEnd           time.Time `json:"backup_end"`
	FilesNew            uint64    `json:"files_new"`
	FilesChanged        uint64    `json:"files_changed"`
	FilesUnmodified     uint64    `json:"files_unmodified"`
	DirsNew             uint64    `json:"dirs_new"`
	DirsChanged         uint64    `json:"dirs_changed"`
	DirsUnmodified      uint64    `json:"dirs_unmodified"`
	DataBlobs           int64     `json:"data_blobs"`
	TreeBlobs           int64     `json:"tree_blobs"`
	DataAdded           uint64    `json:"data_added"`
	DataAddedPacked     uint64    `json:"data_added_packed"`
	TotalFilesProcessed uint64    `json:"total_files_processed"`
	TotalBytesProcessed uint64    `json:"total_bytes_processed"`
}

// stats is the output of `restic stats --json`. In raw-data mode TotalSize
// is the size of the unique blobs the snapshots reference, as stored
// (encrypted, and compressed in format v2 repositories); in restore-size
// mode it is the size of the files a restore of every snapshot would
// write. The compression fields exist from restic 0.15 on and only for
// format v2 repositories.
type stats struct {
	TotalSize              uint64  `json:"total_size"`
	TotalUncompressedSize  uint64  `json:"total_uncompressed_size"`
	CompressionRatio       float64 `json:"compression_ratio"`
	CompressionProgress    float64 `json:"compression_progress"`
	CompressionSpaceSaving float64 `json:"compression_space_saving"`
	TotalFileCount         uint64  `json:"total_file_count"`
	TotalBlobCount         uint64  `json:"total_blob_count"`
	SnapshotsCount         int     `json:"snapshots_count"`
}

// firstValue returns the first JSON value of data. restic prints one JSON
// document, but some versions print a final progress line after it; what
// follows the document is ignored so that such a line is not a failure.
func firstValue(data []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("empty output")
	}
	var raw json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&raw); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	return raw, nil
}

// parseSnapshots reads the output of `restic snapshots --json`.
func parseSnapshots(data []byte) ([]snapshot, error) {
	raw, err := firstValue(data)
	if err != nil {
		return nil, err
	}
	var snaps []snapshot
	if err := json.Unmarshal(raw, &snaps); err != nil {
		return nil, fmt.Errorf("not a list of snapshots: %w", err)
	}
	seen := make(map[string]int, len(snaps))
	for i, s := range snaps {
		if !validID(s.ID) {
			return nil, fmt.Errorf("snapshot %d: id %q is not a 64-digit hex snapshot id", i, s.ID)
		}
		if s.Time.IsZero() {
			return nil, fmt.Errorf("snapshot %s: no time", s.ID)
		}
		if prev, dup := seen[s.ID]; dup {
			return nil, fmt.Errorf("snapshot %s is listed twice (entries %d and %d)", s.ID, prev, i)
		}
		seen[s.ID] = i
	}
	return snaps, nil
}

// parseStats reads the output of `restic stats --json`.
func parseStats(data []byte) (stats, error) {
	raw, err := firstValue(data)
	if err != nil {
		return stats{}, err
	}
	// The two fields every restic version writes in every mode are
	// required, so that an unrelated JSON object is not read as an empty
	// repository.
	var present struct {
		TotalSize      *json.RawMessage `json:"total_size"`
		SnapshotsCount *json.RawMessage `json:"snapshots_count"`
	}
	if err := json.Unmarshal(raw, &present); err != nil {
		return stats{}, fmt.Errorf("not a stats object: %w", err)
	}
	if present.TotalSize == nil || present.SnapshotsCount == nil {
		return stats{}, errors.New("not a stats object: total_size or snapshots_count is missing")
	}
	var s stats
	if err := json.Unmarshal(raw, &s); err != nil {
		return stats{}, fmt.Errorf("not a stats object: %w", err)
	}
	return s, nil
}

func validID(id string) bool {
	if len(id) != 64 {
		return false
	}
	_, err := hex.DecodeString(id)
	return err == nil
}

// Tag keys with a meaning of their own. Every other "key=value" tag is
// kept as a tag of the backup.
const (
	tagEnv     = "env"
	tagRelease = "release"
)

// agent is the model.Backup agent of every restic snapshot.
const agent = "restic"

// toBackup turns a snapshot into a backup record of src stored at
// location.
//
// A restic snapshot is self-contained: its parent only told `restic
// backup` which files to re-read, and restoring needs nothing but the
// snapshot itself, so Parent stays empty.
func toBackup(src *config.Source, location string, s snapshot) model.Backup {
	tags := model.ParseTags(s.Tags)
	b := model.Backup{
		Source:         src.Name,
		Env:            cmp.Or(src.Env, tags[tagEnv]),
		Dataset:        dataset(src, s, tags),
		ID:             s.ID,
		Type:           model.BackupSnapshot,
		Release:        tags[tagRelease],
		Start:          s.Time.UTC(),
		End:            s.Time.UTC(),
		Status:         model.StatusSucceeded,
		Location:       location,
		Encrypted:      true,
		Classification: src.Classification,
		// A snapshot always has its agent, so it always has a detail.
		Detail: &model.BackupDetail{
			Agent:        agent,
			AgentVersion: strings.TrimPrefix(s.ProgramVersion, "restic "),
			Paths:        slices.Clone(s.Paths),
		},
	}
	if o := src.Restic; o != nil {
		b.StorageClass, b.Region, b.KeyID, b.Immutable = o.StorageClass, o.Region, o.KeyID, o.Immutable
	}
	if sum := s.Summary; sum != nil {
		if !sum.BackupStart.IsZero() {
			b.Start = sum.BackupStart.UTC()
		}
		if !sum.BackupEnd.IsZero() {
			b.End = sum.BackupEnd.UTC()
		}
		b.LogicalBytes = clampInt64(sum.TotalBytesProcessed)
		b.StoredBytes = clampInt64(sum.DataAddedPacked)
		b.Detail.FileCount = clampInt64(sum.TotalFilesProcessed)
	}
	if len(tags) > 0 || len(src.Labels) > 0 {
		// The source's labels come first so that what a snapshot says
		// about itself wins.
		b.Tags = make(map[string]string, len(tags)+len(src.Labels))
		for k, v := range src.Labels {
			b.Tags[k] = v
		}
		for k, v := range tags {
			b.Tags[k] = v
		}
	}
	return b
}

// dataset names the dataset of a snapshot: the source's fixed dataset,
// else what dataset_from points at, else the snapshot's host. A tag or
// path that a snapshot lacks falls back to the host too, so that every
// snapshot lands in a series.
func dataset(src *config.Source, s snapshot, tags map[string]string) string {
	if src.Dataset != "" {
		return src.Dataset
	}
	switch from := src.DatasetFrom; {
	case from == "path":
		if len(s.Paths) > 0 {
			return s.Paths[0]
		}
	case strings.HasPrefix(from, "tag:"):
		if v := tags[strings.TrimPrefix(from, "tag:")]; v != "" {
			return v
		}
	}
	return s.Hostname
}

// validDatasetFrom reports whether this collector understands from.
func validDatasetFrom(from string) bool {
	switch from {
	case "", "host", "path":
		return true
	}
	k, ok := strings.CutPrefix(from, "tag:")
	return ok && k != ""
}

// summariesComplete reports whether every snapshot carries the summary of
// the backup that made it, and returns the sum of their processed bytes:
// the logical size of the repository, known without reading it.
func summariesComplete(snaps []snapshot) (bool, int64) {
	var sum uint64
	for _, s := range snaps {
		if s.Summary == nil {
			return false, 0
		}
		sum += s.Summary.TotalBytesProcessed
	}
	return true, clampInt64(sum)
}

func clampInt64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}
