package velero

import (
	"os"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
)

// The parser of `velero backup get -o json` output never panics, and every
// backup it accepts maps without panicking to one with an id and a valid
// status. The fixtures seed the corpus.
func FuzzParseBackupGet(f *testing.F) {
	for _, file := range []string{"testdata/backup-get-list.json", "testdata/backup-get-single.json"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	src := &config.Source{Name: "k8s", Env: "prod", Velero: &config.VeleroOptions{Namespace: "velero", PageSize: 500}}
	f.Fuzz(func(t *testing.T, data []byte) {
		bs, err := parseBackupGet(data)
		if err != nil {
			return
		}
		cat := newMapper(src, src.Velero, time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC), nil, nil, nil).catalog(bs, nil)
		for _, b := range cat.Backups {
			if b.ID == "" || !b.Status.Valid() {
				t.Fatalf("accepted backup without id or with status %q: %+v", b.Status, b)
			}
		}
	})
}
