package events

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenJournal: whatever bytes the journal file holds (a torn or
// damaged tail, garbage), opening it never fails or panics, keeps an
// intact prefix of records, and a second open finds nothing left to cut.
func FuzzOpenJournal(f *testing.F) {
	rec, _ := encode(nil, new(event("seed")))
	f.Add(rec)
	f.Add(append(append([]byte(nil), rec...), rec[:5]...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, JournalFile), data, 0o640); err != nil {
			t.Fatal(err)
		}
		j, evs, torn, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		size := j.size
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if torn == nil && size != int64(len(data)) {
			t.Fatalf("no torn tail reported, but %d of %d bytes kept", size, len(data))
		}
		j2, evs2, torn2, err := OpenJournal(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = j2.Close()
		if torn2 != nil || len(evs2) != len(evs) {
			t.Fatalf("second open: %d records (first %d), torn %+v", len(evs2), len(evs), torn2)
		}
	})
}
