package duck

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/history"
)

// The audit log copied to the history reads back with DuckDB as the audit
// view, entry for entry, next to the JSON log in its default place
// (audit/audit.log), which the view does not pick up.
func TestAuditView(t *testing.T) {
	dir := t.TempDir()
	day1 := time.Date(2026, 11, 30, 23, 59, 0, 0, time.UTC)
	now := day1
	w, err := history.Open(dir, history.Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := audit.Open(filepath.Join(dir, "audit", "audit.log"), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	var copied []audit.Entry
	l.OnAppend(func(e audit.Entry) { copied = append(copied, e) })
	for _, e := range []audit.Entry{
		{Principal: "alice", Auth: "token", Remote: "10.0.0.1", Action: "gate.override", Target: "/api/v1/gate/override", Outcome: audit.OutcomeAllowed},
		{Principal: "alice", Auth: "token", Remote: "10.0.0.1", Action: "gate.override", Target: "/api/v1/gate/override", Outcome: audit.OutcomeOK, Status: 200, Detail: `env=prod dataset= expires_at=2026-12-01T01:59:00Z reason="INC-42"`},
	} {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	now = day1.Add(2 * time.Minute) // the next UTC day: a second partition
	if err := l.Append(audit.Entry{Principal: "anonymous", Auth: "none", Action: "http.post", Target: "/-/reload", Outcome: audit.OutcomeDenied, Status: 401, Detail: "unauthorized"}); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendAudit(copied...); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	db := openDB(t, dir)
	rows, err := db.Query(context.Background(), "SELECT seq, time, principal, auth, remote, action, target, outcome, status, detail, CAST(dt AS VARCHAR) FROM audit ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close() //nolint:errcheck // test
	n := 0
	for rows.Next() {
		// An entry's empty fields (no status before an operation ran, no
		// detail) read as NULL.
		var (
			seq                                    int64
			status                                 sql.NullInt64
			at                                     time.Time
			principal, action, target, outcome, dt string
			auth, remote, detail                   sql.NullString
		)
		if err := rows.Scan(&seq, &at, &principal, &auth, &remote, &action, &target, &outcome, &status, &detail, &dt); err != nil {
			t.Fatal(err)
		}
		want := copied[n]
		if seq != want.Seq || !at.Equal(want.Time) || principal != want.Principal || auth.String != want.Auth || remote.String != want.Remote ||
			action != want.Action || target != want.Target || outcome != want.Outcome || status.Int64 != int64(want.Status) || status.Valid != (want.Status != 0) || detail.String != want.Detail {
			t.Errorf("row %d: %d %s %s %v %v %s %s %s %v %v, want %+v", n, seq, at, principal, auth, remote, action, target, outcome, status, detail, want)
		}
		if wantDT := want.Time.UTC().Format("2006-01-02"); dt != wantDT {
			t.Errorf("row %d: partition %s, want %s", n, dt, wantDT)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 3 || len(copied) != 3 {
		t.Errorf("%d rows from %d entries copied, want 3", n, len(copied))
	}
}
