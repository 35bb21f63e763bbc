package history

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/restorable/restorable/internal/audit"
)

// TableAudit holds the exporter's audit log entries, one row per entry, so
// that they can be queried next to the backups they concern. The JSON
// audit log stays the record: it is hash-chained and written first; the
// table is a copy for analysis. Its directory is the audit log's default
// directory too (audit/audit.log); readers see only its dt= partitions.
const TableAudit = "audit"

// AuditRow is one entry of the audit log in the audit table.
type AuditRow struct {
	Seq       int64     `parquet:"seq"`
	Time      time.Time `parquet:"time,timestamp(microsecond:utc)"`
	Principal string    `parquet:"principal,dict"`
	Auth      string    `parquet:"auth,optional,dict"`
	Remote    string    `parquet:"remote,optional"`
	Action    string    `parquet:"action,dict"`
	Target    string    `parquet:"target,optional"`
	Outcome   string    `parquet:"outcome,dict"`
	Status    int64     `parquet:"status,optional"`
	Detail    string    `parquet:"detail,optional"`
}

// AuditRowOf maps an audit entry to its row.
func AuditRowOf(e *audit.Entry) AuditRow {
	return AuditRow{
		Seq: e.Seq, Time: micros(e.Time), Principal: e.Principal, Auth: e.Auth, Remote: e.Remote,
		Action: e.Action, Target: e.Target, Outcome: e.Outcome, Status: int64(e.Status), Detail: e.Detail,
	}
}

// AppendAudit records audit entries, one file per UTC day of their time.
// It keeps no duplicate filter: the exporter hands each entry over once,
// after the audit log has it on disk.
func (w *Writer) AppendAudit(entries ...audit.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if err := w.begin(); err != nil {
		return fmt.Errorf("append audit entries: %w", err)
	}
	defer w.life.RUnlock()
	rows := make([]AuditRow, len(entries))
	for i := range entries {
		rows[i] = AuditRowOf(&entries[i])
	}
	now := micros(w.now())
	for _, day := range byDay(rows, func(r *AuditRow) time.Time { return r.Time }) {
		dir := filepath.Join(w.tableDir(TableAudit), partitionOf(day[0].Time))
		if _, err := writeFile(dir, now, day, nil); err != nil {
			return fmt.Errorf("append audit entries %d to %d: %w", day[0].Seq, day[len(day)-1].Seq, err)
		}
	}
	return nil
}
