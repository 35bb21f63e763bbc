package history

import (
	"fmt"
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
		for _, kept := range []string{k.id, k.dataset, s.id, s.env, s.dataset, s.release, s.typ, s.status} {
			if within(kept, buf) {
				t.Fatalf("the state of %s keeps %q, a part of the catalog's buffer", s.id, kept)
			}
		}
	}
}
