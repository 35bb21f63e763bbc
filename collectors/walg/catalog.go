package walg

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Agent is the name backups of this collector carry.
const Agent = "wal-g"

// User-data keys with a meaning of their own: WAL-G stores what
// WALG_SENTINEL_USER_DATA (or backup-push --add-user-data) held, and a
// top-level "release" or "env" string names the backup's release and
// environment.
const (
	ReleaseKey = "release"
	EnvKey     = "env"
)

// Tags the collector sets on every backup.
const (
	TagPermanent        = "walg.permanent"
	TagSystemIdentifier = "walg.system_identifier"
	TagHostname         = "walg.hostname"
	TagDataDir          = "walg.data_dir"
	TagStorage          = "walg.storage"
)

// Repository status codes: 0 when both checks say OK, 1 when one warns
// (segments not archived yet, a timeline that could not be compared), 2
// when one fails (lost segments, a timeline behind the storage's: split
// brain), 3 when wal-verify could not run.
const (
	StatusOK      = 0
	StatusWarning = 1
	StatusFailure = 2
	StatusUnknown = 3
)

// mapper turns parsed WAL-G output into model records for one source.
type mapper struct {
	src        *config.Source
	opts       *config.WALGOptions
	observedAt time.Time
}

func (m *mapper) catalog(list []backupDetail, verify *walVerify, verifyErr error) *model.Catalog {
	cat := &model.Catalog{Backups: make([]model.Backup, 0, len(list)), Repositories: []model.Repository{}}
	byStart := make(map[string]*backupDetail, len(list))
	for i := range list {
		seg, _ := splitName(list[i].BackupName)
		if seg != "" {
			byStart[seg] = &list[i]
		}
	}
	for i := range list {
		cat.Backups = append(cat.Backups, m.backup(&list[i], byStart))
	}
	if m.opts.WALVerify {
		cat.Repositories = append(cat.Repositories, m.repository(list, verify, verifyErr))
	}
	return cat
}

func (m *mapper) backup(d *backupDetail, byStart map[string]*backupDetail) model.Backup {
	user := userStrings(d.UserData)
	seg, from := splitName(d.BackupName)
	if seg == "" {
		seg = d.WALFileName
	}
	b := model.Backup{
		Source:         m.src.Name,
		Env:            m.src.Env,
		Dataset:        m.dataset(user),
		ID:             d.BackupName,
		Type:           model.BackupFull,
		Release:        user[ReleaseKey],
		Start:          d.StartTime.UTC(),
		End:            d.FinishTime.UTC(),
		Status:         model.StatusSucceeded,
		StoredBytes:    d.CompressedSize,
		Location:       d.StorageName,
		StorageClass:   m.opts.StorageClass,
		Region:         m.opts.Region,
		Encrypted:      m.opts.Encrypted,
		KeyID:          m.opts.KeyID,
		Immutable:      m.opts.Immutable,
		Classification: m.src.Classification,
		Tags:           m.tags(d, user),
		Detail:         &model.BackupDetail{DeltaBytes: d.UncompressedSize, Agent: Agent, WALStart: seg},
	}
	if b.End.IsZero() {
		// Without --detail fields only the sentinel's time is known: it
		// is written when the backup finishes.
		b.End = d.Time.UTC()
	}
	if b.Env == "" {
		b.Env = user[EnvKey]
	}
	if d.StartLSN.Valid {
		b.Detail.LSNStart = FormatLSN(d.StartLSN.V)
	}
	if d.FinishLSN.Valid {
		b.Detail.LSNStop = FormatLSN(d.FinishLSN.V)
		if tli, ok := timelineOf(seg); ok {
			b.Detail.WALStop = segmentOf(tli, d.FinishLSN.V, SegmentSize)
		}
	}
	if from != "" {
		// A delta is restored on top of the backup it was taken against;
		// against a full backup it is a differential, against another
		// delta an incremental (WALG_DELTA_ORIGIN LATEST_FULL or LATEST).
		b.Type = model.BackupIncr
		if p, ok := byStart[from]; ok {
			b.Parent = p.BackupName
			if _, pFrom := splitName(p.BackupName); pFrom == "" {
				b.Type = model.BackupDiff
			}
		} else {
			b.Parent = "base_" + from
		}
	} else {
		b.LogicalBytes = d.UncompressedSize
	}
	return b
}

func (m *mapper) dataset(user map[string]string) string {
	if m.src.Dataset != "" {
		return m.src.Dataset
	}
	if key, ok := strings.CutPrefix(m.src.DatasetFrom, "tag:"); ok {
		if v := user[key]; v != "" {
			return v
		}
	}
	return m.src.Name
}

// tags merges the source's labels, the backup's user data (top-level
// strings, numbers and booleans) and WAL-G's own facts.
func (m *mapper) tags(d *backupDetail, user map[string]string) map[string]string {
	out := make(map[string]string, len(m.src.Labels)+len(user)+5)
	for k, v := range m.src.Labels {
		out[k] = v
	}
	for k, v := range user {
		out[k] = v
	}
	// is_permanent means "never removed by wal-g delete": a retention
	// exemption, not immutability (anyone with write access to the
	// storage can still delete it), so it is a tag and not Immutable.
	out[TagPermanent] = strconv.FormatBool(d.IsPermanent)
	if d.SystemIdentifier.Valid {
		out[TagSystemIdentifier] = strconv.FormatUint(d.SystemIdentifier.V, 10)
	}
	if d.Hostname != "" {
		out[TagHostname] = d.Hostname
	}
	if d.DataDir != "" {
		out[TagDataDir] = d.DataDir
	}
	if d.StorageName != "" {
		out[TagStorage] = d.StorageName
	}
	return out
}

// userStrings returns the top-level scalar values of a backup's user data
// as text; other shapes (a string, a list) give none.
func userStrings(raw json.RawMessage) map[string]string {
	if len(raw) == 0 {
		return nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
			continue
		}
		t := strings.TrimSpace(string(v))
		if t == "true" || t == "false" || (t != "" && (t[0] == '-' || (t[0] >= '0' && t[0] <= '9'))) {
			out[k] = t
		}
	}
	return out
}

// repository describes the WAL archive of the source from wal-verify: its
// status, and the range of segments a point-in-time recovery can replay
// without a gap.
func (m *mapper) repository(list []backupDetail, v *walVerify, verifyErr error) model.Repository {
	r := model.Repository{
		Source:       m.src.Name,
		Env:          m.src.Env,
		Name:         m.src.Name,
		ObservedAt:   m.observedAt,
		StorageClass: m.opts.StorageClass,
		Region:       m.opts.Region,
		// wal-g reports no locks of its archive.
		LocksUnknown: true,
	}
	if m.src.Dataset != "" || m.src.DatasetFrom == "" {
		r.Dataset = m.dataset(nil)
	}
	var newest *backupDetail
	for i := range list {
		if newest == nil || list[i].FinishTime.After(newest.FinishTime) {
			newest = &list[i]
		}
		r.StoredBytes += list[i].CompressedSize
	}
	if newest != nil {
		r.DatabaseVersion = pgMajor(newest.PgVersion)
		r.LogicalBytes = newest.UncompressedSize
	}
	if verifyErr != nil {
		r.Healthy, r.StatusCode = false, StatusUnknown
		r.Status = "wal-verify failed: " + verifyErr.Error()
		return r
	}
	code, parts := StatusOK, []string{}
	if in := v.Integrity; in != nil {
		code = max(code, checkCode(in.Status))
		r.WALMin, r.WALMax = replayable(in.Details)
		parts = append(parts, "integrity "+in.Status+integrityNote(in.Details))
	}
	if tl := v.Timeline; tl != nil {
		code = max(code, checkCode(tl.Status))
		parts = append(parts, fmt.Sprintf("timeline %s (cluster %d, storage %d)", tl.Status, tl.Details.CurrentTimelineID, tl.Details.HighestStorageTimelineID))
	}
	r.StatusCode = code
	r.Healthy = code < StatusFailure
	r.Status = strings.Join(parts, "; ")
	return r
}

func checkCode(status string) int {
	switch status {
	case "OK":
		return StatusOK
	case "WARNING":
		return StatusWarning
	case "FAILURE":
		return StatusFailure
	}
	return StatusUnknown
}

// replayable returns the first and last segment of the newest stretch of
// archived segments without a lost one: a recovery can replay from any
// backup whose start lies in it to its end. Segments missing but still on
// their way (delayed or uploading) end the stretch without breaking it;
// a lost segment breaks it, so what lies before is not in the range, and
// the PITR check then reports the backups before the gap.
func replayable(details []segmentRange) (first, last string) {
	for _, d := range details {
		switch d.Status {
		case segFound:
			if first == "" {
				first = d.StartSegment
			}
			last = d.EndSegment
		case segMissingLost:
			first, last = "", ""
		}
	}
	return first, last
}

func integrityNote(details []segmentRange) string {
	counts := map[string]int{}
	for _, d := range details {
		counts[d.Status] += d.SegmentsCount
	}
	var parts []string
	for _, s := range []string{segMissingLost, segMissingUploading, segMissingDelayed} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], strings.ToLower(strings.TrimPrefix(s, "MISSING_"))))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " (segments missing: " + strings.Join(parts, ", ") + ")"
}

// pgMajor turns PostgreSQL's server_version_num (150004, 90624) into its
// major version ("15", "9.6").
func pgMajor(v int) string {
	switch {
	case v <= 0:
		return ""
	case v >= 100000:
		return strconv.Itoa(v / 10000)
	default:
		return fmt.Sprintf("%d.%d", v/10000, v/100%100)
	}
}
