package agreement

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// record hands events to the exporter's live state as the journal does.
func (p *pair) record(evs ...model.Event) {
	p.t.Helper()
	if _, err := p.state.RecordEvents(evs); err != nil {
		p.t.Fatal(err)
	}
}

func event(id string, kind model.EventKind, release string, at time.Time) model.Event {
	return model.Event{ID: id, Sender: "generic", Kind: kind, Env: "prod", Dataset: "orders", Release: release,
		Result: model.ResultSucceeded, Time: at, Received: at.Add(time.Second)}
}

// A release story (a deploy without a backup before it, a migration, a
// rollback storm, a freeze_ack) gives the same findings and gate answers
// through the exporter's live state as through the analyzer's reading of
// the history, before and after a restart that replays the journal, and
// the replay adds no row to the events table.
func TestReleaseEventsAgree(t *testing.T) {
	p := newPair(t, caseConfig)
	t0 := p.now
	p.collect("pg", &model.Catalog{Backups: []model.Backup{
		good("pg", "orders", "o1", "v1", t0.Add(-50*time.Hour)),
		good("pg", "orders", "o2", "v2", t0.Add(-26*time.Hour)),
		good("pg", "orders", "o3", "v3", t0.Add(-30*time.Minute)),
	}})
	story := []model.Event{
		event("d1", model.EventDeploy, "v3", t0.Add(-20*time.Minute)),
		event("m1", model.EventMigration, "v4", t0.Add(-15*time.Minute)),
		event("d2", model.EventDeploy, "v4", t0.Add(-10*time.Minute)),
		event("r1", model.EventRollback, "v3", t0.Add(-8*time.Minute)),
		event("d3", model.EventDeploy, "v4", t0.Add(-6*time.Minute)),
		event("r2", model.EventRollback, "v3", t0.Add(-4*time.Minute)),
	}
	p.record(story...)
	res := p.both(t0)
	for _, want := range []struct{ check, subject string }{
		{policy.CheckFreeze, "orders"},
		{policy.CheckPreReleaseBackup, "orders@v4"},
		{policy.CheckRollbackMigration, "orders@v3"},
	} {
		if !has(res, want.check, want.subject) {
			t.Errorf("no %s finding for %s: %+v", want.check, want.subject, res.Findings)
		}
	}
	if a := p.gate(res, "prod"); a.Allow {
		t.Error("gate allows while orders is frozen")
	}

	// A restart replays the whole journal: nothing changes, and the
	// history gains no row.
	if err := p.hist.Close(); err != nil {
		t.Fatal(err)
	}
	p.start()
	p.record(story...)
	p.record(story...)
	if evs, err := p.hist.Events(); err != nil || len(evs) != len(story) {
		t.Fatalf("events table holds %d rows after two replays (%v), want %d", len(evs), err, len(story))
	}
	if res := p.both(t0); !has(res, policy.CheckFreeze, "orders") {
		t.Errorf("freeze forgotten after a restart: %+v", res.Findings)
	}

	// An acknowledgement without a reason is ignored; one with it
	// reopens the gate on both sides.
	p.now = t0.Add(time.Minute)
	noReason := event("a0", model.EventFreezeAck, "", p.now)
	noReason.Actor = "alice"
	p.record(noReason)
	if res := p.both(p.now.Add(time.Second)); !has(res, policy.CheckFreeze, "orders") {
		t.Error("an ack without a reason ended the freeze")
	}
	ack := event("a1", model.EventFreezeAck, "", p.now)
	ack.Actor, ack.Reason = "alice", "reviewed the backup process"
	p.record(ack)
	res = p.both(p.now.Add(2 * time.Second))
	if has(res, policy.CheckFreeze, "orders") {
		t.Errorf("freeze not ended by the ack: %+v", res.Findings)
	}
	if a := p.gate(res, "prod"); !a.Allow {
		t.Errorf("gate still denies after the ack: %+v", a.Reasons)
	}
}
