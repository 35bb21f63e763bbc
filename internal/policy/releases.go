package policy

import (
	"cmp"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// How a release of the release list is known, and where its backup came
// from.
const (
	ReleaseFromEvent = "deploy_event"
	ReleaseFromLabel = "backup_label"

	BackupFromDeploy           = "deploy_event"
	BackupFromPreReleaseBackup = "pre_release_backup"
	BackupFromCatalog          = "catalog"
)

// ReleaseBackup is the backup that precedes a release: the data state a
// rollback of that release restores so that the data matches the code.
type ReleaseBackup struct {
	Source string    `json:"source"`
	ID     string    `json:"id"`
	Time   time.Time `json:"time,omitzero"`
	// Checksum and Location are the catalog's; empty when the backup is
	// only known from an event and no catalog lists it (any more).
	Checksum string `json:"checksum,omitempty"`
	Location string `json:"location,omitempty"`
	// Release is the backup's own release label: the release running when
	// it was taken.
	Release string `json:"release,omitempty"`
	// From says how it was chosen: named by the deploy (deploy_event), by
	// a pre_release_backup event (pre_release_backup), or the newest
	// successful backup of the dataset that ended by the deploy (catalog).
	From string `json:"from"`
	// InCatalog is false when no collected catalog lists the backup.
	InCatalog bool `json:"in_catalog"`
}

// ReleaseEntry is one release of a dataset in an environment.
type ReleaseEntry struct {
	Release string `json:"release"`
	// Deployed is the newest successful deploy of the release (From
	// deploy_event), or the start of the first backup labelled with it
	// (From backup_label): the release was running by then.
	Deployed time.Time `json:"deployed"`
	From     string    `json:"from"`
	Revision string    `json:"revision,omitempty"`
	// Event is the id of the deploy event.
	Event string `json:"event,omitempty"`
	// Backup precedes the release; nil when none is known, which the
	// release.pre_release_backup check reports for deploy events.
	Backup *ReleaseBackup `json:"backup"`
}

// ReleaseList lists the releases of one dataset, newest first: those its
// deploy events name (track, nil when it has none) and those its backups'
// release labels name (backups: the retained backups of the dataset in
// the environment, from every configured source), each with the backup
// that precedes it. Among candidate backups the newest wins by
// model.CompareRecency, so two backups that ended in the same second are
// picked the same way everywhere.
func ReleaseList(track *Track, backups []model.Backup) []ReleaseEntry {
	byID := map[[2]string]*model.Backup{}
	var good []*model.Backup
	for i := range backups {
		b := &backups[i]
		byID[[2]string{b.Source, b.ID}] = b
		if b.Good() && !b.End.IsZero() {
			good = append(good, b)
		}
	}
	slices.SortFunc(good, model.CompareRecency)
	// newestBy is the newest good backup that ended at or before t and is
	// not labelled with skip.
	newestBy := func(t time.Time, skip string) *model.Backup {
		for i := len(good) - 1; i >= 0; i-- {
			if b := good[i]; !b.End.After(t) && (skip == "" || b.Release != skip) {
				return b
			}
		}
		return nil
	}
	lookup := func(source, id string) *model.Backup {
		if source != "" {
			return byID[[2]string{source, id}]
		}
		var found *model.Backup
		for k, b := range byID {
			if k[1] == id && model.Newer(b, found) {
				found = b
			}
		}
		return found
	}
	named := func(source, id string, at time.Time, from string) *ReleaseBackup {
		if b := lookup(source, id); b != nil {
			return catalogBackup(b, from)
		}
		return &ReleaseBackup{Source: source, ID: id, Time: at.UTC(), From: from}
	}

	var out []ReleaseEntry
	seen := map[string]bool{}
	if track != nil {
		// The newest deploy of each release, and the deploy before it.
		var prev time.Time
		latest := map[string]ReleaseEntry{}
		for i := range track.Events {
			ev := &track.Events[i]
			if !succeeded(ev, model.EventDeploy) {
				continue
			}
			e := ReleaseEntry{Release: ev.Release, Deployed: ev.Time.UTC(), From: ReleaseFromEvent, Revision: ev.Revision, Event: ev.ID}
			switch {
			case ev.BackupID != "":
				e.Backup = named(ev.BackupSource, ev.BackupID, ev.Time, BackupFromDeploy)
			default:
				if pre := preReleaseBackup(track.Events, prev, ev); pre != nil && pre.BackupID != "" {
					e.Backup = named(pre.BackupSource, pre.BackupID, pre.Time, BackupFromPreReleaseBackup)
				} else if b := newestBy(ev.Time, ev.Release); b != nil {
					e.Backup = catalogBackup(b, BackupFromCatalog)
				}
			}
			if ev.Release != "" {
				latest[ev.Release] = e
			}
			prev = ev.Time
		}
		for r, e := range latest {
			seen[r] = true
			out = append(out, e)
		}
	}
	// A label seen by several sources counts from its first sighting.
	first := map[string]time.Time{}
	for _, s := range Sightings(good) {
		if t, ok := first[s.Release]; !seen[s.Release] && (!ok || s.FirstSeen.Before(t)) {
			first[s.Release] = s.FirstSeen
		}
	}
	for r, t := range first {
		e := ReleaseEntry{Release: r, Deployed: t.UTC(), From: ReleaseFromLabel}
		if b := newestBy(t, r); b != nil {
			e.Backup = catalogBackup(b, BackupFromCatalog)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b ReleaseEntry) int {
		return cmp.Or(b.Deployed.Compare(a.Deployed), cmp.Compare(a.Release, b.Release))
	})
	return out
}

func catalogBackup(b *model.Backup, from string) *ReleaseBackup {
	return &ReleaseBackup{Source: b.Source, ID: b.ID, Time: b.End.UTC(), Checksum: b.Details().Checksum, Location: b.Location,
		Release: b.Release, From: from, InCatalog: true}
}
