package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const locksEnvs = "environments:\n  prod: {rpo: 1h}\n"

func TestLocksDefaultsAndPaths(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "restorable.yml")
	c, err := Parse(file, []byte(locksEnvs+"locks:\n  dsn_file: secrets/coord-dsn\n  keys:\n    - {name: payments-db, env: prod, dataset: payments}\n    - {name: orders-db, env: prod}\n"))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Locks
	if l.Interval != DefaultLockInterval || l.Timeout != DefaultLockTimeout {
		t.Errorf("interval %s, timeout %s: want the defaults", l.Interval, l.Timeout)
	}
	if want := filepath.Join(dir, "secrets/coord-dsn"); l.DSNFile != want {
		t.Errorf("dsn_file = %q, want %q", l.DSNFile, want)
	}
	if len(l.Keys) != 2 || l.Keys[0] != (LockKey{Name: "payments-db", Env: "prod", Dataset: "payments"}) {
		t.Errorf("keys = %+v", l.Keys)
	}
	if err := c.CheckFiles(); err == nil || !strings.Contains(err.Error(), "locks.dsn_file: "+l.DSNFile+" does not exist") {
		t.Errorf("CheckFiles: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l.DSNFile, []byte("host=x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.CheckFiles(); err != nil {
		t.Errorf("CheckFiles: %v", err)
	}
	c, err = Parse("r.yml", []byte(locksEnvs+"locks: {dsn_env: COORD, interval: 1m, timeout: 2s, keys: [{name: k, env: prod}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Locks.Interval.D() != time.Minute || c.Locks.Timeout.D() != 2*time.Second {
		t.Errorf("interval %s, timeout %s", c.Locks.Interval, c.Locks.Timeout)
	}
}

func TestLocksInvalid(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"locks: {keys: [{name: k, env: prod}]}", "r.yml:3: locks: give the coordination database's connection string with dsn_file or dsn_env"},
		{"locks: {dsn_file: f, dsn_env: E, keys: [{name: k, env: prod}]}", "r.yml:3: locks: give dsn_file or dsn_env, not both"},
		{"locks: {dsn_env: E, interval: 500ms, keys: [{name: k, env: prod}]}", "r.yml:3: locks.interval: must be at least 1s"},
		{"locks: {dsn_env: E, timeout: 0s, keys: [{name: k, env: prod}]}", "r.yml:3: locks.timeout: must be greater than 0 (every read needs a deadline)"},
		{"locks: {dsn_env: E, keys: []}", "r.yml:3: locks.keys: name at least one lock to watch"},
		{"locks:\n  dsn_env: E\n  keys:\n    - {name: k, env: prod}\n    - {name: k, env: prod}", `r.yml:7: locks.keys[1].name: "k" is already locks.keys[0]`},
		{"locks:\n  dsn_env: E\n  keys:\n    - {name: k, env: qa}", `r.yml:6: locks.keys[0].env: unknown environment "qa"`},
		{"locks:\n  dsn_env: E\n  keys:\n    - {name: ' ', env: prod}", `r.yml:6: locks.keys[0].name: required`},
		{"locks: {dsn_env: E, dsn: 'postgres://u:p@h/db', keys: [{name: k, env: prod}]}", `r.yml:3: locks: unknown field "dsn"`},
	} {
		_, err := Parse("r.yml", []byte(locksEnvs+tc.yaml+"\n"))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s:\n got: %v\nwant: %s", tc.yaml, err, tc.want)
		}
	}
}
