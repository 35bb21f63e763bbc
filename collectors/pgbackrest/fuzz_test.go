package pgbackrest

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
)

// The parser of `pgbackrest info --output=json` never panics, and every
// stanza it accepts maps to a catalog without panicking, each backup with
// an id and a start time. The seed corpus is in testdata/fuzz/FuzzParseInfo.
func FuzzParseInfo(f *testing.F) {
	src := &config.Source{Name: "payments", Env: "prod", PgBackRest: &config.PgBackRestOptions{}}
	observed := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		stanzas, err := parseInfo(data)
		if err != nil {
			return
		}
		for _, qualify := range []bool{false, true} {
			cat := (&mapper{src: src, opts: src.PgBackRest, qualify: qualify, observedAt: observed}).catalog(stanzas)
			for _, b := range cat.Backups {
				if b.ID == "" || b.Start.IsZero() {
					t.Fatalf("accepted backup without id or start: %+v", b)
				}
			}
		}
	})
}
