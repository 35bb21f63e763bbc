package restic

import (
	"testing"

	"github.com/restorable/restorable/internal/config"
)

// The parsers of restic's output never panic, and what they accept is
// usable: every snapshot they return has a valid, unique id and a time, and
// turns into a backup record with that id. The seed corpus is in
// testdata/fuzz/FuzzParseSnapshots.
func FuzzParseSnapshots(f *testing.F) {
	src := &config.Source{Name: "files", DatasetFrom: "tag:app", Restic: &config.ResticOptions{}}
	f.Fuzz(func(t *testing.T, data []byte) {
		snaps, err := parseSnapshots(data)
		if err != nil {
			if snaps != nil {
				t.Fatalf("snapshots %v returned with error %v", snaps, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, s := range snaps {
			if !validID(s.ID) || s.Time.IsZero() || seen[s.ID] {
				t.Fatalf("accepted snapshot %+v: invalid or duplicate id, or no time", s)
			}
			seen[s.ID] = true
			if b := toBackup(src, "/srv/repo", s); b.ID != s.ID || b.Start.IsZero() {
				t.Fatalf("snapshot %s became backup %+v", s.ID, b)
			}
		}
		summariesComplete(snaps)
		snapshotSetKey(snaps)
	})
}

// The stats parser never panics and never accepts output without the two
// fields every restic version writes. Seeds: testdata/fuzz/FuzzParseStats.
func FuzzParseStats(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseStats(data)
		if err != nil {
			if s != (stats{}) {
				t.Fatalf("stats %+v returned with error %v", s, err)
			}
			return
		}
		if s.TotalSize > 0 && clampInt64(s.TotalSize) <= 0 {
			t.Fatalf("total size %d clamped to %d", s.TotalSize, clampInt64(s.TotalSize))
		}
	})
}
