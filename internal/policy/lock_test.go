package policy

import (
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

func TestGateMigrationWaitsForBackupLock(t *testing.T) {
	cfg, err := config.Parse("gate.yml", []byte(`
environments:
  prod: {rpo: 1h, retention: {releases: 1}}
  dev: {rpo: 72h, retention: {releases: 1}}
sources:
  - {name: s, type: manifest, env: prod, manifest: {dir: m}}
  - {name: d, type: manifest, env: dev, manifest: {dir: m}}
locks:
  dsn_env: COORD
  keys:
    - {name: payments-db, env: prod, dataset: payments}
    - {name: dev-db, env: dev}
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var backups []model.Backup
	for _, b := range []struct{ src, env, dataset string }{{"s", "prod", "payments"}, {"s", "prod", "orders"}, {"d", "dev", "payments"}} {
		backups = append(backups, model.Backup{Source: b.src, Env: b.env, Dataset: b.dataset, ID: b.dataset, Type: model.BackupFull,
			Status: model.StatusSucceeded, Release: "v1", Start: at.Add(-11 * time.Minute), End: at.Add(-10 * time.Minute)})
	}
	since := at.Add(-3 * time.Minute)
	held := func(purpose string) *LockState {
		return &LockState{Known: true, ObservedAt: at, Holders: []model.LockHolder{
			{Key: "payments-db", Purpose: purpose, PID: 4242, Since: since},
			{Key: "not-configured", Purpose: "backup", PID: 7},
		}}
	}
	for _, tc := range []struct {
		name   string
		locks  *LockState
		req    GateRequest
		allow  bool
		detail string
	}{
		{"a backup holds the lock: migration denied", held("backup"), GateRequest{Env: "prod", Dataset: "payments", Purpose: PurposeMigration}, false,
			"a backup holds lock payments-db (session pid 4242 on the coordination database, since 2026-12-01T11:57:00Z)"},
		{"whole environment: migration denied", held("backup"), GateRequest{Env: "prod", Purpose: PurposeMigration}, false, "a backup holds lock payments-db"},
		{"a deploy is unaffected", held("backup"), GateRequest{Env: "prod", Dataset: "payments"}, true, ""},
		{"an explicit deploy is unaffected", held("backup"), GateRequest{Env: "prod", Dataset: "payments", Purpose: PurposeDeploy}, true, ""},
		{"another dataset's migration is unaffected", held("backup"), GateRequest{Env: "prod", Dataset: "orders", Purpose: PurposeMigration}, true, ""},
		{"another environment's migration is unaffected", held("backup"), GateRequest{Env: "dev", Purpose: PurposeMigration}, true, ""},
		{"a migration holding the lock does not deny", held("migration"), GateRequest{Env: "prod", Purpose: PurposeMigration}, true, ""},
		{"nobody holds it: allowed", &LockState{Known: true, ObservedAt: at}, GateRequest{Env: "prod", Purpose: PurposeMigration}, true, ""},
		{"unreadable: migration denied", &LockState{Err: "connection refused"}, GateRequest{Env: "prod", Dataset: "payments", Purpose: PurposeMigration}, false,
			"whether a backup holds lock payments-db is unknown (the coordination database could not be read: connection refused)"},
		{"never read: migration denied", nil, GateRequest{Env: "dev", Purpose: PurposeMigration}, false, "whether a backup holds lock dev-db is unknown"},
		{"unreadable: a deploy is unaffected", nil, GateRequest{Env: "prod"}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Evaluate(cfg, Input{At: at, Backups: Backups(backups), Locks: tc.locks})
			a, err := Gate(cfg, res, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if a.Allow != tc.allow {
				t.Fatalf("allow = %v, want %v; reasons %+v", a.Allow, tc.allow, a.Reasons)
			}
			if tc.detail == "" {
				return
			}
			if len(a.Reasons) != 1 || a.Reasons[0].Check != CheckBackupLock || !strings.HasPrefix(a.Reasons[0].Detail, tc.detail) {
				t.Fatalf("reasons %+v, want one %s starting %q", a.Reasons, CheckBackupLock, tc.detail)
			}
		})
	}
	res := Evaluate(cfg, Input{At: at, Backups: Backups(backups), Locks: held("backup")})
	if len(res.Locks.Holders) != 1 || res.Locks.Holders[0].Key != "payments-db" {
		t.Errorf("result keeps holders %+v, want only the configured payments-db", res.Locks.Holders)
	}
	if !GateOpen(cfg, res)["prod"] {
		t.Error("the deploy gauge closed for a backup lock")
	}
	denied, err := Gate(cfg, res, GateRequest{Env: "prod", Dataset: "payments", Purpose: PurposeMigration})
	if err != nil || denied.Allow {
		t.Fatalf("migration: %+v, %v", denied, err)
	}
	o := []Override{{Env: "prod", By: "alice", Reason: "INC-1", Since: at.Add(-time.Minute), ExpiresAt: at.Add(time.Hour)}}
	if a := ApplyOverrides(denied, o, at); !a.Allow || len(a.Reasons) != 1 || a.Override == nil {
		t.Errorf("an override of prod does not overrule a migration's lock reason like a deploy's: %+v", a)
	}
	if _, err := Gate(cfg, res, GateRequest{Env: "prod", Purpose: "restore"}); err == nil {
		t.Error("an unknown purpose was accepted")
	}
}

func TestNoLocksConfigured(t *testing.T) {
	cfg := gateConfig(t)
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	b := model.Backup{Source: "s", Env: "prod", Dataset: "db", ID: "b", Type: model.BackupFull, Status: model.StatusSucceeded,
		Release: "v1", Start: at.Add(-11 * time.Minute), End: at.Add(-10 * time.Minute)}
	res := Evaluate(cfg, Input{At: at, Backups: Backups([]model.Backup{b})})
	if res.Locks != nil {
		t.Errorf("locks %+v without locks configured", res.Locks)
	}
	a, err := Gate(cfg, res, GateRequest{Env: "prod", Purpose: PurposeMigration})
	if err != nil || !a.Allow {
		t.Errorf("migration without locks configured: %+v, %v", a, err)
	}
}
