package policy

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

func listed(t *testing.T, l []ReleaseEntry) map[string]ReleaseEntry {
	t.Helper()
	out := map[string]ReleaseEntry{}
	for i, e := range l {
		if i > 0 && e.Deployed.After(l[i-1].Deployed) {
			t.Errorf("release list not newest first: %s after %s", e.Release, l[i-1].Release)
		}
		out[e.Release] = e
	}
	return out
}

func TestReleaseListPicksTheBackupBeforeEachRelease(t *testing.T) {
	cfg := testCfg(t)
	b1 := prodBackup("b1", "v1", 20*24*time.Hour)
	b2 := prodBackup("b2", "v2", 8*24*time.Hour)
	b2.Detail.Checksum, b2.Location = "sha256:22", "s3://bk/b2"
	// Two backups of v3 that ended in the same second: the larger id
	// wins, whatever order the catalog lists them in.
	tieA, tieB := prodBackup("t-a", "v3", 3*time.Hour), prodBackup("t-b", "v3", 3*time.Hour)
	tieB.Detail.Checksum = "sha256:bb"
	pre := prodBackup("pre5", "v4", 50*time.Minute)
	pre.Source = "files"
	pre.Location = "s3://bk/pre5"
	preEv := ev("p5", model.EventPreReleaseBackup, "v5", 45*time.Minute)
	preEv.BackupSource, preEv.BackupID = "files", "pre5"
	d6 := ev("d6", model.EventDeploy, "v6", 10*time.Minute)
	d6.BackupID = "b2"
	events := []model.Event{
		ev("d4", model.EventDeploy, "v4", 2*time.Hour),
		preEv,
		ev("d5", model.EventDeploy, "v5", 30*time.Minute),
		d6,
	}
	tracks := Tracks(cfg, events, testAt())
	if len(tracks) != 1 {
		t.Fatalf("tracks %+v", tracks)
	}
	for _, order := range [][]model.Backup{{b1, b2, tieA, tieB, pre}, {pre, tieB, tieA, b2, b1}} {
		got := listed(t, ReleaseList(&tracks[0], order))
		for _, want := range []struct {
			release, from, backup, backupFrom, checksum string
		}{
			{"v6", ReleaseFromEvent, "b2", BackupFromDeploy, "sha256:22"},
			{"v5", ReleaseFromEvent, "pre5", BackupFromPreReleaseBackup, ""},
			{"v4", ReleaseFromEvent, "t-b", BackupFromCatalog, "sha256:bb"},
			{"v3", ReleaseFromLabel, "b2", BackupFromCatalog, "sha256:22"},
			{"v2", ReleaseFromLabel, "b1", BackupFromCatalog, ""},
		} {
			e, ok := got[want.release]
			if !ok {
				t.Errorf("%s not listed: %+v", want.release, got)
				continue
			}
			if e.From != want.from || e.Backup == nil || e.Backup.ID != want.backup || e.Backup.From != want.backupFrom || e.Backup.Checksum != want.checksum {
				t.Errorf("%s: %+v backup %+v, want from %s backup %s (%s, %q)", want.release, e, e.Backup, want.from, want.backup, want.backupFrom, want.checksum)
			}
		}
		if e := got["v1"]; e.Backup != nil {
			t.Errorf("v1 has no backup before it, got %+v", e.Backup)
		}
		if e := got["v5"]; e.Backup == nil || e.Backup.Location != "s3://bk/pre5" || !e.Backup.InCatalog {
			t.Errorf("v5's pre-release backup is not looked up in the catalog: %+v", e.Backup)
		}
	}
	// A pre-release backup no catalog lists is still named, from its event.
	got := listed(t, ReleaseList(&tracks[0], []model.Backup{b1}))
	if b := got["v5"].Backup; b == nil || b.ID != "pre5" || b.InCatalog || !b.Time.Equal(preEv.Time) {
		t.Errorf("v5 backup known only from its event: %+v", b)
	}
}
