package history

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/restorable/restorable/internal/model"
)

// within reports whether s lies in the memory of buf.
func within(s, buf string) bool {
	if len(s) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(buf)))
	return p >= lo && p < lo+uintptr(len(buf))
}

// The writer's state of a backup outlives the catalog that listed it.
// When a catalog's ids and datasets are parts of one large buffer (as the
// s3 collector builds them), the state must keep copies: one kept part
// would keep the whole buffer alive for as long as the backup lives, a
// buffer a collection for every backup still listed.
func TestStateKeepsNoPartOfTheCatalog(t *testing.T) {
	var text strings.Builder
	for i := range 100 {
		fmt.Fprintf(&text, "ds%02d/backup-%04d.dump|", i%4, i)
	}
	buf := text.String()
	var backups []model.Backup
	for part := range strings.SplitSeq(strings.TrimSuffix(buf, "|"), "|") {
		dataset, _, _ := strings.Cut(part, "/")
		b := backup("s3", "x", part, day0().Add(-time.Hour))
		b.ID, b.Dataset = part, dataset
		if !within(b.ID, buf) || !within(b.Dataset, buf) {
			t.Fatal("the test's ids are not parts of its buffer")
		}
		backups = append(backups, b)
	}
	w := openTest(t, t.TempDir(), newClock(day0()), 2)
	mustAppend(t, w, "s3", &model.Catalog{Backups: backups})
	st := w.source("s3")
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.backups) != len(backups) {
		t.Fatalf("%d backups in the state, want %d", len(st.backups), len(backups))
	}
	for k, s := range st.backups {
		for _, kept := range []string{k.id, k.dataset, s.env.Value(), s.release.Value(), s.typ.Value(), s.status.Value()} {
			if within(kept, buf) {
				t.Fatalf("the state of %s keeps %q, a part of the catalog's buffer", k.id, kept)
			}
		}
	}
}

// The writer holds a state for every backup its sources list: at a
// million backups each byte of it is a megabyte. The state is as big as
// its doc comment says (80 bytes on 64-bit platforms, so that one more
// word fails here), and that size is an allocation class of its own: an
// 88-byte state took 96.
func TestBackupStateSize(t *testing.T) {
	const documented = 80
	got := unsafe.Sizeof(backupState{})
	if got > documented || unsafe.Sizeof(uintptr(0)) == 8 && got != documented {
		t.Errorf("backupState is %d bytes, not the %d documented (history.go, backupState)", got, documented)
	}
	// What the allocator gives a state, measured over many so that
	// whatever else the process allocates meanwhile rounds away.
	const n = 1 << 14
	states := make([]*backupState, n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range states {
		states[i] = &backupState{gen: uint64(i)}
	}
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(states)
	if per := (after.TotalAlloc - before.TotalAlloc) / n; per != uint64(got) {
		t.Errorf("a backupState of %d bytes takes %d from the allocator", got, per)
	}
}

// A state's times read back as they were written, the zero time and times
// before 1970 included.
func TestStampRoundTrip(t *testing.T) {
	for _, at := range []time.Time{{}, time.Unix(0, 0), time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC),
		time.Date(2026, 12, 2, 3, 4, 5, 678901000, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		if got := stampOf(at).time(); !got.Equal(micros(at)) || got.IsZero() != at.IsZero() {
			t.Errorf("%v read back as %v", at, got)
		}
	}
}
