package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// TrackKey names the release track of a dataset (or service) in an
// environment: the events a deploy pipeline sends for it.
type TrackKey struct {
	Env, Dataset string
}

// Track is what the release events of one dataset in one environment say
// at an instant: the one reading of the events that the release checks,
// the release metrics and the release list all use.
type Track struct {
	Key TrackKey
	// Events are the track's events known at the instant, ordered by
	// EventOrder.
	Events []model.Event
	// Consecutive counts the successful rollbacks since the last reset: a
	// freeze_ack with actor and reason, or a release (a successful deploy,
	// or the release a successful rollback returned to) that ran
	// checks.freeze.settle without a rollback. Rollbacks holds them.
	Consecutive int
	Rollbacks   []model.Event
	// Frozen is true from the rollback that made Consecutive reach
	// checks.freeze.rollbacks until a valid freeze_ack; a deploy does not
	// end it.
	Frozen      bool
	FrozenSince time.Time
	// LastRollback is the newest successful rollback, nil when none.
	LastRollback *model.Event
	// DeployToRollback is the time from the successful deploy before
	// LastRollback to it; zero when no deploy preceded it.
	DeployToRollback time.Duration
	// LastMigrationRollback is the newest successful rollback whose span
	// covers a schema migration (see RollbackSpan), nil when none.
	LastMigrationRollback *model.Event
}

// EventKnownAt is when an event is known to Restorable: when the exporter
// acknowledged it, or its own time when that is not recorded. Producers
// hand the events known at Input.At.
func EventKnownAt(ev *model.Event) time.Time { return cmp.Or(ev.Received, ev.Time) }

// EventOrder orders events by their time, then their receipt and id: the
// order in which the release checks read a track, whatever order the
// events arrived in.
func EventOrder(a, b *model.Event) int {
	return cmp.Or(a.Time.Compare(b.Time), a.Received.Compare(b.Received), cmp.Compare(a.ID, b.ID))
}

// ValidAck reports whether a freeze_ack names who acknowledged and why
// and was not reported failed or canceled; one that does not is ignored.
func ValidAck(ev *model.Event) bool {
	return ev.Kind == model.EventFreezeAck && strings.TrimSpace(ev.Actor) != "" && strings.TrimSpace(ev.Reason) != "" &&
		ev.Result != model.ResultFailed && ev.Result != model.ResultCanceled
}

// migrates reports whether an event ran a schema migration: a migration
// event that was not canceled, or a deploy or rollback marked migration.
func migrates(ev *model.Event) bool {
	if ev.Kind == model.EventMigration {
		return ev.Result != model.ResultCanceled
	}
	return ev.Migration && (ev.Kind == model.EventDeploy || ev.Kind == model.EventRollback) && ev.Result != model.ResultCanceled
}

func succeeded(ev *model.Event, kind model.EventKind) bool {
	return ev.Kind == kind && ev.Result == model.ResultSucceeded
}

// Tracks reads the release events known at at (EventKnownAt) of the
// configured environments into one Track per dataset, ordered by env and
// dataset. Events are deduplicated by ID (the first one given wins), so a
// replayed journal changes nothing.
func Tracks(cfg *config.Config, events []model.Event, at time.Time) []Track {
	seen := make(map[string]struct{}, len(events))
	// Pointers into events: an event is copied once, into its track.
	byKey := map[TrackKey][]*model.Event{}
	for i := range events {
		ev := &events[i]
		if _, dup := seen[ev.ID]; dup {
			continue
		}
		seen[ev.ID] = struct{}{}
		if cfg.Environments[ev.Env] == nil || ev.Dataset == "" || EventKnownAt(ev).After(at) {
			continue
		}
		k := TrackKey{ev.Env, ev.Dataset}
		byKey[k] = append(byKey[k], ev)
	}
	keys := make([]TrackKey, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b TrackKey) int { return cmp.Or(cmp.Compare(a.Env, b.Env), cmp.Compare(a.Dataset, b.Dataset)) })
	out := make([]Track, 0, len(keys))
	for _, k := range keys {
		ptrs := byKey[k]
		slices.SortFunc(ptrs, EventOrder)
		evs := make([]model.Event, len(ptrs))
		for i, p := range ptrs {
			evs[i] = *p
		}
		out = append(out, foldTrack(cfg, k, evs, at))
	}
	return out
}

// foldTrack reads one track's ordered events.
func foldTrack(cfg *config.Config, k TrackKey, evs []model.Event, at time.Time) Track {
	t := Track{Key: k, Events: evs}
	limit := max(1, cfg.Checks.Freeze.Rollbacks)
	settle := cfg.Checks.Freeze.Settle.D()
	// landed is the newest successful deploy or rollback: the release
	// running since. deployed is the newest successful deploy since the
	// last rollback.
	var landed, deployed *model.Event
	for i := range evs {
		ev := &evs[i]
		switch {
		case ValidAck(ev):
			t.Consecutive, t.Rollbacks, t.Frozen, t.FrozenSince = 0, nil, false, time.Time{}
		case succeeded(ev, model.EventDeploy):
			t.settled(landed, ev.Time, settle)
			landed, deployed = ev, ev
		case succeeded(ev, model.EventRollback):
			t.settled(landed, ev.Time, settle)
			t.Consecutive++
			t.Rollbacks = append(t.Rollbacks, *ev)
			if !t.Frozen && t.Consecutive >= limit {
				t.Frozen, t.FrozenSince = true, ev.Time
			}
			t.LastRollback = ev
			t.DeployToRollback = 0
			if deployed != nil {
				t.DeployToRollback = ev.Time.Sub(deployed.Time)
			}
			if _, _, covers := RollbackSpan(evs, i); covers {
				t.LastMigrationRollback = ev
			}
			landed, deployed = ev, nil
		}
	}
	t.settled(landed, at, settle)
	return t
}

// settled ends the series of consecutive rollbacks when the release that
// landed last (deployed, or returned to by a rollback) ran settle long by
// until: it stuck, so the rollbacks before it are not consecutive with any
// after it. A freeze only ends with an acknowledgement.
func (t *Track) settled(landed *model.Event, until time.Time, settle time.Duration) {
	if !t.Frozen && landed != nil && until.Sub(landed.Time) >= settle {
		t.Consecutive, t.Rollbacks = 0, nil
	}
}

// RollbackSpan returns, for the rollback at index i of a track's ordered
// events, where the span it undoes starts (exclusive; zero when it reaches
// back to the track's first event) and the migrations it covers. The span
// starts at the newest successful deploy or rollback that brought the
// release the rollback returns to (its Release); when the rollback names
// no release or that one is not among the events, at the successful deploy
// before the newest one, so that the migration run with the deploy being
// undone is covered. The rollback itself counts when it ran a migration.
func RollbackSpan(evs []model.Event, i int) (start time.Time, migrations []model.Event, covers bool) {
	rb := &evs[i]
	var arrivals []int
	target := -1
	for j := range i {
		ev := &evs[j]
		if succeeded(ev, model.EventDeploy) || succeeded(ev, model.EventRollback) {
			arrivals = append(arrivals, j)
			if rb.Release != "" && ev.Release == rb.Release {
				target = j
			}
		}
	}
	if target < 0 && len(arrivals) >= 2 {
		target = arrivals[len(arrivals)-2]
	}
	from := 0
	if target >= 0 {
		start = evs[target].Time
		from = target + 1
	}
	for j := from; j <= i; j++ {
		if migrates(&evs[j]) {
			migrations = append(migrations, evs[j])
		}
	}
	return start, migrations, len(migrations) > 0
}

func eventEvidence(ev *model.Event, note string) Evidence {
	return Evidence{Kind: "event", Source: ev.Sender, ID: ev.ID, Release: ev.Release, Time: ev.Time.UTC(), Note: note}
}

func trackSubject(k TrackKey) Subject { return Subject{Dataset: k.Dataset} }

// setEvents gives the release checks the events known at the evaluation's
// instant.
func (e *evaluator) setEvents(events []model.Event) {
	e.tracks = Tracks(e.cfg, events, e.at)
	e.deployBackups = map[TrackKey][]judgedDeploy{}
	for ti := range e.tracks {
		t := &e.tracks[ti]
		var prev *model.Event
		for i := range t.Events {
			ev := &t.Events[i]
			if !succeeded(ev, model.EventDeploy) {
				continue
			}
			if !ev.Time.Before(e.since) {
				d := judgedDeploy{deploy: ev}
				if prev != nil {
					d.after = prev.Time
				}
				e.deployBackups[t.Key] = append(e.deployBackups[t.Key], d)
			}
			prev = ev
		}
	}
}

// judgedDeploy is a successful deploy within the period and the backup
// found to precede it, if any.
type judgedDeploy struct {
	deploy *model.Event
	// after is the previous successful deploy of the track: a backup must
	// end after it (and not after the deploy) to be this release's.
	after  time.Time
	backup *model.Backup
}

// observeDeployBackups lets every good backup of a series mark the deploys
// of its dataset that it precedes. The newest such backup is kept.
func (e *evaluator) observeDeployBackups(k model.SeriesKey, members []*model.Backup) {
	ds := e.deployBackups[TrackKey{k.Env, k.Dataset}]
	if len(ds) == 0 {
		return
	}
	for _, b := range members {
		if !b.Good() || b.End.IsZero() {
			continue
		}
		for i := range ds {
			d := &ds[i]
			if b.End.After(d.after) && !b.End.After(d.deploy.Time) && model.Newer(b, d.backup) {
				c := *b
				d.backup = &c
			}
		}
	}
}

// checkFreeze reports every frozen track.
func (e *evaluator) checkFreeze() []Finding {
	var out []Finding
	for _, t := range e.tracks {
		if !t.Frozen {
			continue
		}
		f := e.newFinding(CheckFreeze, t.Key.Env, trackSubject(t.Key))
		f.Expected = fmt.Sprintf("fewer than %d consecutive rollbacks, or a freeze_ack with actor and reason after them", max(1, e.cfg.Checks.Freeze.Rollbacks))
		f.Observed = fmt.Sprintf("%d consecutive rollbacks of %s in %s since %s, not acknowledged: deploys are frozen",
			t.Consecutive, t.Key.Dataset, t.Key.Env, rfc3339(t.Rollbacks[0].Time))
		for i := range t.Rollbacks {
			if len(f.Evidence) == maxEvidence {
				break
			}
			f.Evidence = append(f.Evidence, eventEvidence(&t.Rollbacks[i], "rollback to "+cmp.Or(t.Rollbacks[i].Release, "an earlier release")))
		}
		f.Start = t.FrozenSince
		out = append(out, f)
	}
	return out
}

// checkPreReleaseBackup wants, for every successful deploy in the period,
// a backup taken for it: a pre_release_backup event of the dataset since
// the previous deploy (for this release or naming none), a backup named by
// the deploy itself, or a successful backup of the dataset that ended
// since the previous deploy.
func (e *evaluator) checkPreReleaseBackup() []Finding {
	var out []Finding
	for _, t := range e.tracks {
		for _, d := range e.deployBackups[t.Key] {
			if d.deploy.BackupID != "" || d.backup != nil {
				continue
			}
			if preReleaseBackup(t.Events, d.after, d.deploy) != nil {
				continue
			}
			s := trackSubject(t.Key)
			s.Release = d.deploy.Release
			f := e.newFinding(CheckPreReleaseBackup, t.Key.Env, s)
			f.Expected = "a pre_release_backup event, or a successful backup of " + t.Key.Dataset + ", between the previous deploy and this one"
			since := "the first deploy known"
			if !d.after.IsZero() {
				since = "the previous deploy at " + rfc3339(d.after)
			}
			f.Observed = fmt.Sprintf("%s deployed %s with no backup since %s", cmp.Or(d.deploy.Release, "a release"), rfc3339(d.deploy.Time), since)
			f.Evidence = []Evidence{eventEvidence(d.deploy, "deploy")}
			f.Start = d.deploy.Time
			out = append(out, f)
		}
	}
	return out
}

// preReleaseBackup returns the newest successful pre_release_backup event
// of a track's ordered events after the previous deploy (after) and by
// deploy, for the deploy's release or naming none; nil when there is none.
func preReleaseBackup(evs []model.Event, after time.Time, deploy *model.Event) *model.Event {
	var found *model.Event
	for i := range evs {
		ev := &evs[i]
		if ev.Time.After(deploy.Time) {
			break
		}
		if ev.Kind == model.EventPreReleaseBackup && ev.Result == model.ResultSucceeded && ev.Time.After(after) &&
			(ev.Release == "" || ev.Release == deploy.Release) {
			found = ev
		}
	}
	return found
}

// checkRollbackMigration reports every successful rollback in the period
// whose span covers a schema migration and that restored no backup.
func (e *evaluator) checkRollbackMigration() []Finding {
	var out []Finding
	for _, t := range e.tracks {
		for i := range t.Events {
			rb := &t.Events[i]
			if !succeeded(rb, model.EventRollback) || rb.Time.Before(e.since) || rb.BackupID != "" {
				continue
			}
			_, migs, covers := RollbackSpan(t.Events, i)
			if !covers {
				continue
			}
			s := trackSubject(t.Key)
			s.Release = rb.Release
			f := e.newFinding(CheckRollbackMigration, t.Key.Env, s)
			f.Expected = "a rollback across a schema migration restores the backup taken before it (backup_id)"
			f.Observed = fmt.Sprintf("rollback at %s undid %d migration(s) and restored no backup: the data may not match the code", rfc3339(rb.Time), len(migs))
			f.Evidence = append(f.Evidence, eventEvidence(rb, "rollback"))
			for j := range migs {
				if len(f.Evidence) == maxEvidence {
					break
				}
				f.Evidence = append(f.Evidence, eventEvidence(&migs[j], "migration"))
			}
			f.Start = rb.Time
			out = append(out, f)
		}
	}
	return out
}
