package policy

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// ev is a release event of prod's orders at ago before testAt, received
// when it happened.
func ev(id string, kind model.EventKind, release string, ago time.Duration) model.Event {
	t := testAt().Add(-ago)
	return model.Event{ID: id, Sender: "generic", Kind: kind, Env: "prod", Dataset: "orders", Release: release,
		Result: model.ResultSucceeded, Time: t, Received: t}
}

func ack(id, actor, reason string, ago time.Duration) model.Event {
	e := ev(id, model.EventFreezeAck, "", ago)
	e.Actor, e.Reason = actor, reason
	return e
}

// storm is two deploys of v4, each rolled back to v3.
func storm() []model.Event {
	return []model.Event{
		ev("d1", model.EventDeploy, "v4", 5*time.Hour),
		ev("r1", model.EventRollback, "v3", 4*time.Hour),
		ev("d2", model.EventDeploy, "v4", 3*time.Hour),
		ev("r2", model.EventRollback, "v3", 2*time.Hour),
	}
}

func eventCheckCases() []checkCase {
	return []checkCase{
		{name: "release.freeze fires after two consecutive rollbacks", check: CheckFreeze,
			change: func(in *state) { in.Events = storm() },
			fire:   true, subject: "orders", observed: "2 consecutive rollbacks of orders in prod", start: testAt().Add(-2 * time.Hour)},
		{name: "release.freeze stays quiet after one rollback", check: CheckFreeze,
			change: func(in *state) { in.Events = storm()[:2] }},
		{name: "release.freeze ends with a freeze_ack naming actor and reason", check: CheckFreeze,
			change: func(in *state) { in.Events = append(storm(), ack("a1", "alice", "backup process reviewed", time.Hour)) }},

		{name: "release.pre_release_backup fires for a deploy with no backup since the previous one", check: CheckPreReleaseBackup,
			change: func(in *state) {
				in.Events = []model.Event{ev("d1", model.EventDeploy, "v3", 20*time.Minute), ev("d2", model.EventDeploy, "v4", 10*time.Minute)}
			},
			fire: true, subject: "orders@v4", observed: "v4 deployed", start: testAt().Add(-10 * time.Minute)},
		{name: "release.pre_release_backup accepts a pre_release_backup event", check: CheckPreReleaseBackup,
			change: func(in *state) {
				in.Events = []model.Event{ev("d1", model.EventDeploy, "v3", 20*time.Minute),
					ev("p1", model.EventPreReleaseBackup, "v4", 15*time.Minute), ev("d2", model.EventDeploy, "v4", 10*time.Minute)}
			}},
		{name: "release.pre_release_backup accepts a backup of the dataset since the previous deploy", check: CheckPreReleaseBackup,
			change: func(in *state) {
				// b3 ended 30m ago, between the two deploys.
				in.Events = []model.Event{ev("d1", model.EventDeploy, "v3", 2*time.Hour), ev("d2", model.EventDeploy, "v4", 10*time.Minute)}
			}},

		{name: "release.rollback_migration fires for a rollback across a migration without a restore", check: CheckRollbackMigration,
			change: func(in *state) { in.Events = migrationStory("") },
			fire:   true, subject: "orders@v3", observed: "undid 1 migration(s) and restored no backup", start: testAt().Add(-time.Hour)},
		{name: "release.rollback_migration stays quiet when the rollback restored a backup", check: CheckRollbackMigration,
			change: func(in *state) { in.Events = migrationStory("b2") }},
	}
}

// migrationStory deploys v3, migrates, deploys v4 and rolls back to v3,
// restoring backupID (none when empty).
func migrationStory(backupID string) []model.Event {
	rb := ev("r1", model.EventRollback, "v3", time.Hour)
	rb.BackupID, rb.BackupSource = backupID, "db"
	return []model.Event{
		ev("d1", model.EventDeploy, "v3", 3*time.Hour),
		ev("m1", model.EventMigration, "v4", 150*time.Minute),
		ev("d2", model.EventDeploy, "v4", 2*time.Hour),
		rb,
	}
}

// frozen reports whether the evaluation freezes prod's orders, and checks
// that the gate agrees.
func frozen(t *testing.T, events []model.Event) bool {
	t.Helper()
	cfg := testCfg(t)
	in := healthy()
	in.Events = events
	res := Evaluate(cfg, in.input())
	got := len(find(res.Findings, CheckFreeze)) > 0
	a, err := Gate(cfg, res, GateRequest{Env: "prod", Dataset: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if denied := slices.ContainsFunc(a.Reasons, func(r GateReason) bool { return r.Check == CheckFreeze }); denied != got {
		t.Errorf("freeze finding %v but gate reason %v", got, denied)
	}
	return got
}

func TestFreeze(t *testing.T) {
	withAck := func(a model.Event) []model.Event { return append(storm(), a) }
	other := func(env, dataset string) []model.Event {
		evs := storm()
		evs[1].Env, evs[1].Dataset = env, dataset
		return evs
	}
	for _, c := range []struct {
		name   string
		events []model.Event
		frozen bool
	}{
		{"two rollbacks freeze", storm(), true},
		{"two rollbacks in a row without a deploy freeze", []model.Event{ev("r1", model.EventRollback, "v3", 3*time.Hour), ev("r2", model.EventRollback, "v2", 2*time.Hour)}, true},
		{"one rollback does not", storm()[:3], false},
		{"an ack with actor and reason unfreezes", withAck(ack("a1", "alice", "reviewed", time.Hour)), false},
		{"an ack without a reason is ignored", withAck(ack("a1", "alice", "", time.Hour)), true},
		{"an ack without an actor is ignored", withAck(ack("a1", " ", "reviewed", time.Hour)), true},
		{"a canceled ack is ignored", withAck(func() model.Event {
			a := ack("a1", "alice", "reviewed", time.Hour)
			a.Result = model.ResultCanceled
			return a
		}()), true},
		{"an ack without a result counts", withAck(func() model.Event { a := ack("a1", "alice", "reviewed", time.Hour); a.Result = ""; return a }()), false},
		{"an ack before the rollbacks does not unfreeze", append([]model.Event{ack("a0", "alice", "reviewed", 6*time.Hour)}, storm()...), true},
		{"a rollback of another dataset does not count", other("prod", "billing"), false},
		{"a rollback in another environment does not count", other("staging", "orders"), false},
		{"a failed rollback does not count", func() []model.Event { e := storm(); e[3].Result = model.ResultFailed; return e }(), false},
		{"a deploy that stuck a day ends the series", []model.Event{
			ev("r1", model.EventRollback, "v3", 50*time.Hour), ev("d2", model.EventDeploy, "v4", 48*time.Hour),
			ev("r2", model.EventRollback, "v3", 2*time.Hour)}, false},
		{"rollbacks a day apart with no deploy known are not consecutive", []model.Event{
			ev("r1", model.EventRollback, "v3", 30*time.Hour), ev("r2", model.EventRollback, "v2", 2*time.Hour)}, false},
		{"a rollback weeks before a deploy and its rollback is not consecutive with it", []model.Event{
			ev("r0", model.EventRollback, "v2", 20*24*time.Hour), ev("d1", model.EventDeploy, "v4", 4*time.Hour),
			ev("r1", model.EventRollback, "v3", 3*time.Hour)}, false},
		{"a deploy does not end a freeze, even when it sticks", append(storm(), ev("d3", model.EventDeploy, "v5", 90*time.Minute),
			ev("d4", model.EventDeploy, "v5", 0)), true},
		{"events received after the instant are not known yet", func() []model.Event {
			e := storm()
			e[3].Received = testAt().Add(time.Minute)
			return e
		}(), false},
		{"a replayed journal counts each event once", append(storm()[:3], storm()[:3]...), false},
		{"events arriving out of order are read in time order", []model.Event{storm()[3], storm()[1], storm()[0], storm()[2]}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := frozen(t, c.events); got != c.frozen {
				t.Errorf("frozen = %v, want %v", got, c.frozen)
			}
		})
	}
}

// A freeze of one dataset denies the environment's gate and that
// dataset's, but not the gate of another dataset.
func TestFreezeGatesItsDataset(t *testing.T) {
	cfg := testCfg(t)
	in := healthy()
	in.Events = storm()
	res := Evaluate(cfg, in.input())
	for _, c := range []struct {
		dataset string
		allow   bool
	}{{"", false}, {"orders", false}, {"billing", true}} {
		a, err := Gate(cfg, res, GateRequest{Env: "prod", Dataset: c.dataset})
		if err != nil {
			t.Fatal(err)
		}
		frozen := slices.ContainsFunc(a.Reasons, func(r GateReason) bool { return r.Check == CheckFreeze })
		if frozen == c.allow {
			t.Errorf("dataset %q: freeze reason %v, want %v (%+v)", c.dataset, frozen, !c.allow, a.Reasons)
		}
	}
}

func TestTracks(t *testing.T) {
	cfg := testCfg(t)
	evs := storm()
	evs[3].Migration = true
	tr := Tracks(cfg, append(evs, evs...), testAt())
	if len(tr) != 1 {
		t.Fatalf("tracks %+v", tr)
	}
	got := tr[0]
	if got.Consecutive != 2 || !got.Frozen || len(got.Events) != 4 {
		t.Errorf("consecutive %d frozen %v events %d", got.Consecutive, got.Frozen, len(got.Events))
	}
	if got.DeployToRollback != time.Hour {
		t.Errorf("deploy to rollback %s, want 1h", got.DeployToRollback)
	}
	if got.LastRollback == nil || got.LastRollback.ID != "r2" || got.LastMigrationRollback == nil || got.LastMigrationRollback.ID != "r2" {
		t.Errorf("last rollback %+v, across a migration %+v", got.LastRollback, got.LastMigrationRollback)
	}
	// An unconfigured environment makes no track.
	evs[0].Env = "qa"
	if tr := Tracks(cfg, evs[:1], testAt()); len(tr) != 0 {
		t.Errorf("unconfigured env tracked: %+v", tr)
	}
}

func TestRollbackSpan(t *testing.T) {
	story := migrationStory("")
	// Named target: the span starts at v3's deploy and covers m1.
	start, migs, covers := RollbackSpan(story, 3)
	if !covers || len(migs) != 1 || migs[0].ID != "m1" || !start.Equal(story[0].Time) {
		t.Errorf("named: start %s migrations %v", start, migs)
	}
	// Unnamed target: the deploy before the newest one, the same here.
	story[3].Release = ""
	if start, migs, _ := RollbackSpan(story, 3); len(migs) != 1 || !start.Equal(story[0].Time) {
		t.Errorf("unnamed: start %s migrations %v", start, migs)
	}
	// A migration before the release returned to is not undone.
	early := append([]model.Event{ev("m0", model.EventMigration, "v3", 4*time.Hour)}, migrationStory("")...)
	early = slices.DeleteFunc(early, func(e model.Event) bool { return e.ID == "m1" })
	if _, migs, covers := RollbackSpan(early, len(early)-1); covers {
		t.Errorf("a migration before v3 counted: %v", migs)
	}
}

// BenchmarkEvaluateEvents measures what the release events add to one
// evaluation: reading 100,000 events (1,000 datasets with 100 events
// each: pre-release backups, deploys and now and then a rollback) into
// tracks and judging them.
func BenchmarkEvaluateEvents(b *testing.B) {
	cfg := testCfg(b)
	var events []model.Event
	for d := range 1000 {
		for i := range 100 {
			kind := model.EventDeploy
			switch {
			case i%10 == 9:
				kind = model.EventRollback
			case i%2 == 0:
				kind = model.EventPreReleaseBackup
			}
			e := ev(fmt.Sprintf("e%d-%d", d, i), kind, fmt.Sprintf("v%d", i/2), time.Duration(100-i)*24*time.Hour)
			e.Dataset = fmt.Sprintf("ds%d", d)
			events = append(events, e)
		}
	}
	in := healthy()
	in.Events = events
	var findings int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		findings = len(Evaluate(cfg, in.input()).Findings)
	}
	b.ReportMetric(float64(findings), "findings")
}
