package pgbackrest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// The facts pgbackrest_exporter exposes reach the records: what each
// backup copied (info.delta), what a restore of it reads
// (info.repository.size), the PostgreSQL version of the stanza, and, from
// 2.48 on, the sizes of a running backup and the restore lock.
func TestBackupAndRepositoryFacts(t *testing.T) {
	cat := catalogOf(t, "healthy.json", testSource(), false)
	full, incr := cat.Backups[0], cat.Backups[1]
	if full.Details().DeltaBytes != full.LogicalBytes || incr.Details().DeltaBytes <= 0 || incr.Details().DeltaBytes >= incr.LogicalBytes {
		t.Errorf("delta bytes: full %d of %d, incr %d of %d; a full copies everything, an incr what changed", full.Details().DeltaBytes, full.LogicalBytes, incr.Details().DeltaBytes, incr.LogicalBytes)
	}
	if full.Details().RestoreBytes <= 0 || incr.Details().RestoreBytes < full.Details().RestoreBytes {
		t.Errorf("restore bytes: full %d, incr %d; restoring an incr reads its full too", full.Details().RestoreBytes, incr.Details().RestoreBytes)
	}
	r := cat.Repositories[0]
	if r.DatabaseVersion != "15" || r.RestoreLockKnown || r.BackupProgressKnown {
		t.Errorf("2.45 repository: version %q, restore lock known %v, progress known %v", r.DatabaseVersion, r.RestoreLockKnown, r.BackupProgressKnown)
	}

	newer := catalogOf(t, "newer-2.5x.json", testSource(), false).Repositories[0]
	if !newer.RestoreLockKnown || newer.RestoreLocked || !newer.BackupProgressKnown ||
		newer.BackupBytesDone != 1048576 || newer.BackupBytesTotal != 23451449 || newer.BackupProgress != 1048576.0/23451449 {
		t.Errorf("2.5x repository: %+v", newer)
	}
	// Block-incremental repositories leave out info.repository.size: the
	// restore size is unknown, not zero bytes.
	for _, b := range catalogOf(t, "newer-2.5x.json", testSource(), false).Backups {
		if b.Details().RestoreBytes != 0 {
			t.Errorf("%s: restore bytes %d where pgBackRest reports none", b.ID, b.Details().RestoreBytes)
		}
	}
}

// pgBackRest 2.45 reports a running backup's progress in its text output
// only: the collector reads it there, with one more call only while a
// backup runs.
func TestProgressOfARunningBackupFrom245Text(t *testing.T) {
	bin, callLog := fakePgBackRest(t, `case "$*" in
*--output=text*) sed 's/0.00% complete/34.12% complete/' '`+fixturePath(t, "running-2.45.txt")+`' ;;
*--set=*) exit 1 ;;
*) cat '`+fixturePath(t, "lock-held.json")+`' ;;
esac`)
	c := newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: []string{"demo"}})
	cat, err := c.Collect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r := cat.Repositories[0]
	if !r.BackupLocked || !r.BackupProgressKnown || math.Abs(r.BackupProgress-0.3412) > 1e-9 {
		t.Errorf("running backup: locked %v, progress %v (known %v); want 0.3412", r.BackupLocked, r.BackupProgress, r.BackupProgressKnown)
	}
	text := 0
	for _, call := range calls(t, callLog) {
		if strings.Contains(call, "--output=text") {
			text++
		}
	}
	if text != 1 {
		t.Errorf("%d text info runs, want 1", text)
	}

	// Without a running backup, no text run.
	bin, callLog = fakePgBackRest(t, `case "$*" in *--set=*) exit 1 ;; *) cat '`+fixturePath(t, "healthy.json")+`' ;; esac`)
	c = newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: []string{"demo"}})
	if _, err := c.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, call := range calls(t, callLog) {
		if strings.Contains(call, "--output=text") {
			t.Errorf("text info run while no backup runs: %s", call)
		}
	}
}

func TestParseTextProgress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{string(readFixture(t, "running-2.45.txt")), 0, true},
		{"    status: ok (backup/expire running - 34.12% complete)\n", 0.3412, true},
		{"    status: ok (backup/expire running)\n", 0, false},
		{"    status: ok\n", 0, false},
		{"(backup/expire running - 140.00% complete)", 0, false},
	} {
		got, ok := parseTextProgress([]byte(tc.in))
		if math.Abs(got-tc.want) > 1e-9 || ok != tc.ok {
			t.Errorf("%q: %v %v, want %v %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// Databases come from one `info --set` per backup, read once per backup
// and at most SetReadsPerCollection per collection, newest first; a failed
// read leaves that backup without databases and fails nothing.
func TestDatabasesAreReadOncePerBackupAndBounded(t *testing.T) {
	// A stanza with 8 backups, made from the real fixture.
	var stanzas []map[string]any
	if err := json.Unmarshal(readFixture(t, "healthy.json"), &stanzas); err != nil {
		t.Fatal(err)
	}
	first := stanzas[0]["backup"].([]any)[0].(map[string]any)
	var backups []any
	for i := range 8 {
		b := map[string]any{}
		for k, v := range first {
			b[k] = v
		}
		b["label"] = fmt.Sprintf("20261125-2014%02dF", i)
		b["timestamp"] = map[string]any{"start": 1764000000 + i*100, "stop": 1764000050 + i*100}
		backups = append(backups, b)
	}
	stanzas[0]["backup"] = backups
	data, _ := json.Marshal(stanzas)
	dir := t.TempDir()
	info := filepath.Join(dir, "info.json")
	if err := os.WriteFile(info, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// A set read answers with the set's databases; label ...03F fails.
	bin, callLog := fakePgBackRest(t, `case "$*" in
*--set=20261125-201403F*) echo 'ERROR: [075]: no backup' >&2; exit 75 ;;
*--set=20261125-201402F*) cat '`+info+`' ;;
*--set=*) set=$(echo "$*" | sed 's/.*--set=\([^ ]*\).*/\1/'); sed "s/\"label\":\"20261125-201400F\"/\"label\":\"$set\"/; s/\"annotation\"/\"database-ref\":[{\"name\":\"postgres\",\"oid\":5},{\"name\":\"shop\",\"oid\":16384}],\"annotation\"/" '`+info+`' ;;
*) cat '`+info+`' ;;
esac`)
	c := newCollector(t, &config.PgBackRestOptions{Binary: bin, Stanzas: []string{"demo"}})
	setReads := func() []string {
		var out []string
		for _, call := range calls(t, callLog) {
			if _, set, ok := strings.Cut(call, "--set="); ok {
				out = append(out, strings.Fields(set)[0])
			}
		}
		return out
	}
	collect := func() *model.Catalog {
		t.Helper()
		var meter runx.Meter
		cat, err := c.Collect(runx.WithMeter(context.Background(), &meter))
		if err != nil {
			t.Fatal(err)
		}
		return cat
	}
	cat := collect()
	if got := setReads(); !slices.Equal(got, []string{"20261125-201407F", "20261125-201406F", "20261125-201405F", "20261125-201404F", "20261125-201403F"}) {
		t.Errorf("first collection read sets %v, want the 5 newest", got)
	}
	with := map[string][]string{}
	for _, b := range cat.Backups {
		with[b.ID] = b.Details().Databases
	}
	if !slices.Equal(with["20261125-201407F"], []string{"postgres", "shop"}) || with["20261125-201403F"] != nil || with["20261125-201400F"] != nil {
		t.Errorf("databases after one collection: %v", with)
	}
	_ = os.Remove(callLog)
	cat = collect()
	if got := setReads(); !slices.Equal(got, []string{"20261125-201403F", "20261125-201402F", "20261125-201401F", "20261125-201400F"}) {
		t.Errorf("second collection read sets %v, want the failed one again and the older ones, none read twice", got)
	}
	for _, b := range cat.Backups {
		if b.ID != "20261125-201403F" && b.ID != "20261125-201402F" && !slices.Equal(b.Details().Databases, []string{"postgres", "shop"}) {
			t.Errorf("%s: databases %v after two collections", b.ID, b.Details().Databases)
		}
	}
	// An answer without database-ref (201402F) is not asked again; a run
	// that failed (201403F) is.
	_ = os.Remove(callLog)
	collect()
	if got := setReads(); !slices.Equal(got, []string{"20261125-201403F"}) {
		t.Errorf("third collection read sets %v, want only the one whose run failed", got)
	}
}
