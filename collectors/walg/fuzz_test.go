package walg

import (
	"os"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
)

// The parsers of backup-list and wal-verify output never panic, and what
// they accept maps to a catalog without panicking, each backup with an id
// and an end time. The fixtures seed the corpus.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/backup-list.json", "testdata/wal-verify-ok.json", "testdata/wal-verify-lost.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	src := &config.Source{Name: "pg", Env: "prod", WALG: &config.WALGOptions{WALVerify: true}}
	m := &mapper{src: src, opts: src.WALG, observedAt: time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := parseBackupList(data)
		if err == nil {
			cat := m.catalog(list, &walVerify{}, nil)
			for _, b := range cat.Backups {
				if b.ID == "" || b.End.IsZero() {
					t.Fatalf("accepted backup without id or end: %+v", b)
				}
			}
		}
		if v, err := parseWALVerify(data); err == nil {
			m.catalog(nil, v, nil)
		}
	})
}
