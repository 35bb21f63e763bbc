package walg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// u64 is an unsigned 64-bit JSON number decoded without a detour through
// float64: LSNs and system identifiers pass 2^53, where a float64 loses
// digits.
type u64 struct {
	V     uint64
	Valid bool
}

// UnmarshalJSON reads a JSON number (or null) exactly.
func (u *u64) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		*u = u64{}
		return nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not an unsigned 64-bit integer", s)
	}
	*u = u64{V: v, Valid: true}
	return nil
}

// backupDetail is one entry of `wal-g backup-list --detail --json`: WAL-G's
// BackupTime (name, sentinel time, first WAL segment) and its
// ExtendedMetadataDto.
type backupDetail struct {
	BackupName       string          `json:"backup_name"`
	Time             time.Time       `json:"time"`
	WALFileName      string          `json:"wal_file_name"`
	StorageName      string          `json:"storage_name"`
	StartTime        time.Time       `json:"start_time"`
	FinishTime       time.Time       `json:"finish_time"`
	DateFmt          string          `json:"date_fmt"`
	Hostname         string          `json:"hostname"`
	DataDir          string          `json:"data_dir"`
	PgVersion        int             `json:"pg_version"`
	StartLSN         u64             `json:"start_lsn"`
	FinishLSN        u64             `json:"finish_lsn"`
	IsPermanent      bool            `json:"is_permanent"`
	SystemIdentifier u64             `json:"system_identifier"`
	UncompressedSize int64           `json:"uncompressed_size"`
	CompressedSize   int64           `json:"compressed_size"`
	UserData         json.RawMessage `json:"user_data"`
}

// parseBackupList reads the JSON array `wal-g backup-list --detail --json`
// prints. WAL-G prints "No backups found" (not JSON) for an empty storage
// with some versions; an empty output or that message is an empty list.
func parseBackupList(data []byte) ([]backupDetail, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || bytes.EqualFold(trimmed, []byte("null")) || bytes.EqualFold(trimmed[:min(len(trimmed), 16)], []byte("no backups found")) {
		return nil, nil
	}
	var out []backupDetail
	if err := json.Unmarshal(trimmed, &out); err != nil {
		return nil, fmt.Errorf("backup-list output: %w", err)
	}
	for i := range out {
		if out[i].BackupName == "" {
			return nil, fmt.Errorf("backup-list output: entry %d has no backup_name", i)
		}
		if out[i].FinishTime.IsZero() && out[i].Time.IsZero() {
			return nil, fmt.Errorf("backup-list output: backup %s has no finish time (run with --detail)", out[i].BackupName)
		}
	}
	return out, nil
}

// walVerify is `wal-g wal-verify integrity timeline --json`.
type walVerify struct {
	Integrity *struct {
		Status  string         `json:"status"`
		Details []segmentRange `json:"details"`
	} `json:"integrity"`
	Timeline *struct {
		Status  string `json:"status"`
		Details struct {
			CurrentTimelineID        uint32 `json:"current_timeline_id"`
			HighestStorageTimelineID uint32 `json:"highest_storage_timeline_id"`
		} `json:"details"`
	} `json:"timeline"`
}

// segmentRange is one row of the integrity check: consecutive segments of
// a timeline with one status.
type segmentRange struct {
	TimelineID    uint32 `json:"timeline_id"`
	StartSegment  string `json:"start_segment"`
	EndSegment    string `json:"end_segment"`
	SegmentsCount int    `json:"segments_count"`
	Status        string `json:"status"`
}

// The segment statuses of the integrity check.
const (
	segFound            = "FOUND"
	segMissingDelayed   = "MISSING_DELAYED"
	segMissingUploading = "MISSING_UPLOADING"
	segMissingLost      = "MISSING_LOST"
)

func parseWALVerify(data []byte) (*walVerify, error) {
	var v walVerify
	if err := json.Unmarshal(bytes.TrimSpace(data), &v); err != nil {
		return nil, fmt.Errorf("wal-verify output: %w", err)
	}
	if v.Integrity == nil && v.Timeline == nil {
		return nil, errors.New("wal-verify output: neither an integrity nor a timeline check")
	}
	if v.Integrity != nil {
		for i, d := range v.Integrity.Details {
			if len(d.StartSegment) != 24 || len(d.EndSegment) != 24 {
				return nil, fmt.Errorf("wal-verify output: integrity detail %d: %q..%q are not WAL segment names", i, d.StartSegment, d.EndSegment)
			}
		}
	}
	return &v, nil
}

// FormatLSN writes an LSN as PostgreSQL does: the high and the low 32 bits
// in upper-case hex, "16/B374D848".
func FormatLSN(lsn uint64) string {
	return strings.ToUpper(strconv.FormatUint(lsn>>32, 16)) + "/" + strings.ToUpper(strconv.FormatUint(lsn&0xFFFFFFFF, 16))
}

// SegmentSize is the WAL segment size WAL-G and PostgreSQL use unless a
// cluster was initialised with another (WALG_PG_WAL_SIZE).
const SegmentSize = 16 << 20

// segmentOf names the WAL segment holding lsn on timeline tli, for
// segments of size bytes: what PostgreSQL's XLogFileName computes.
func segmentOf(tli uint32, lsn uint64, size uint64) string {
	perID := uint64(0x100000000) / size
	seg := lsn / size
	return fmt.Sprintf("%08X%08X%08X", tli, seg/perID, seg%perID)
}

// timelineOf reads the timeline of a WAL segment name.
func timelineOf(segment string) (uint32, bool) {
	if len(segment) != 24 {
		return 0, false
	}
	v, err := strconv.ParseUint(segment[:8], 16, 32)
	return uint32(v), err == nil
}

// splitName reads a WAL-G backup name: base_SEGMENT for a full backup,
// base_SEGMENT_D_BASESEGMENT for a delta taken against the backup that
// starts at BASESEGMENT.
func splitName(name string) (segment, deltaFrom string) {
	rest, ok := strings.CutPrefix(name, "base_")
	if !ok {
		return "", ""
	}
	seg, from, _ := strings.Cut(rest, "_D_")
	return seg, from
}
