package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/testutil"
)

// lockMetrics reads the restorable_lock_* series of a gather, by name and
// labels.
func lockMetrics(t *testing.T, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "restorable_lock_") {
			continue
		}
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = m.GetGauge().GetValue()
		}
	}
	return out
}

func askGate(t *testing.T, a *app, query string) policy.GateAnswer {
	t.Helper()
	rec := httptest.NewRecorder()
	a.handleGate(rec, httptest.NewRequest("GET", "/api/v1/gate?"+query, nil))
	if rec.Code != 200 {
		t.Fatalf("gate %s: HTTP %d %s", query, rec.Code, rec.Body)
	}
	var ans policy.GateAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("gate answer: %v: %s", err, rec.Body)
	}
	return ans
}

// eventually polls cond until it holds, for up to 15 s.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
	}
	t.Fatalf("%s: never happened; last: %s", what, last)
}

// TestGateDeniesMigrationWhileBackupHoldsLock runs the real restorable
// lock against the real PostgreSQL server: while a backup holds the lock
// of payments-db, the exporter's gate denies a migration of payments in
// prod, naming the holder, and still allows a deploy and another dataset's
// migration; after the backup ends it allows the migration. The lock
// metrics follow, and an unreachable coordination database makes them
// absent and closes the migration gate.
func TestGateDeniesMigrationWhileBackupHoldsLock(t *testing.T) {
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(t, "no PostgreSQL on 127.0.0.1:5432")
	}
	bin := testutil.GoBuild(t, "../restorable")
	dir := t.TempDir()
	manifests := filepath.Join(dir, "manifests")
	if err := os.MkdirAll(manifests, 0o755); err != nil {
		t.Fatal(err)
	}
	end := time.Now().UTC().Add(-10 * time.Minute).Format(time.RFC3339)
	start := time.Now().UTC().Add(-20 * time.Minute).Format(time.RFC3339)
	var lines string
	for _, ds := range []string{"payments", "orders"} {
		lines += `{"dataset":"` + ds + `","id":"` + ds + `-1","type":"full","release":"v1","start":"` + start + `","end":"` + end + `","status":"succeeded"}` + "\n"
	}
	if err := os.WriteFile(filepath.Join(manifests, "b.ndjson"), []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf("payments-db-%d", time.Now().UnixNano())
	dsnFile := filepath.Join(dir, "coord-dsn")
	if err := os.WriteFile(dsnFile, []byte("postgres://postgres:s3cret-gate@127.0.0.1:5432/postgres?sslmode=disable\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "restorable.yml")
	if err := os.WriteFile(cfgFile, []byte(`environments:
  prod: {rpo: 1h, retention: {releases: 1}}
sources:
  - {name: ci, type: manifest, env: prod, interval: 1h, manifest: {dir: manifests}}
history:
  disabled: true
locks:
  dsn_file: coord-dsn
  interval: 1s
  keys:
    - {name: `+key+`, env: prod, dataset: payments}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := newApp(ctx, appOptions{ConfigFile: cfgFile, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now, Registry: prometheus.NewRegistry()})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	held := func(purpose string) string { return "restorable_lock_held{key=" + key + ",purpose=" + purpose + "}" }
	migration := "env=prod&dataset=payments&purpose=migration"
	eventually(t, "the migration gate opens while nobody holds the lock", func() (bool, string) {
		ans := askGate(t, a, migration)
		m := lockMetrics(t, a.Gatherer())
		v, ok := m[held("backup")]
		return ans.Allow && ok && v == 0 && m["restorable_lock_watch_success{}"] == 1, fmt.Sprintf("%+v %v", ans.Reasons, m)
	})

	ready := filepath.Join(dir, "ready")
	cmd := exec.Command(bin, "lock", "--key", key, "--purpose", "backup", "--dsn-file", dsnFile, "--", "sh", "-c", `echo ready > "$1"; exec sleep 60`, "sh", ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var denied policy.GateAnswer
	eventually(t, "the migration gate closes while a backup holds the lock", func() (bool, string) {
		denied = askGate(t, a, migration)
		return !denied.Allow, fmt.Sprintf("%+v", denied)
	})
	if len(denied.Reasons) != 1 || denied.Reasons[0].Check != policy.CheckBackupLock || denied.Reasons[0].Subject != key ||
		!strings.Contains(denied.Reasons[0].Detail, "a backup holds lock "+key+" (session pid ") {
		t.Fatalf("reasons %+v, want one naming the backup holding %s", denied.Reasons, key)
	}
	if strings.Contains(denied.Reasons[0].Detail, "unknown time") {
		t.Errorf("the holder's start is unknown: %s", denied.Reasons[0].Detail)
	}
	if ans := askGate(t, a, "env=prod&dataset=payments"); !ans.Allow {
		t.Errorf("a deploy was denied: %+v", ans.Reasons)
	}
	if ans := askGate(t, a, "env=prod&dataset=orders&purpose=migration"); !ans.Allow {
		t.Errorf("another dataset's migration was denied: %+v", ans.Reasons)
	}
	if ans := askGate(t, a, "env=prod&purpose=migration"); ans.Allow {
		t.Error("a migration of the whole environment was allowed")
	}
	m := lockMetrics(t, a.Gatherer())
	if m[held("backup")] != 1 || m[held("migration")] != 0 {
		t.Errorf("lock metrics %v", m)
	}
	if s := m["restorable_lock_held_since_timestamp_seconds{key="+key+",purpose=backup}"]; s < float64(time.Now().Add(-time.Minute).Unix()) || s > float64(time.Now().Unix()+1) {
		t.Errorf("held since %v", s)
	}
	checkLockFamiliesDocumented(t, a.Gatherer())
	if gateGauge(t, a.Gatherer())["prod"] != true {
		t.Error("the deploy gauge closed for a backup lock")
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	eventually(t, "the migration gate opens after the backup", func() (bool, string) {
		ans := askGate(t, a, migration)
		return ans.Allow, fmt.Sprintf("%+v", ans.Reasons)
	})
	if m := lockMetrics(t, a.Gatherer()); m[held("backup")] != 0 {
		t.Errorf("lock metrics after the backup: %v", m)
	}

	// The coordination database becomes unreachable: unknown is absent,
	// and a migration waits.
	if err := os.WriteFile(dsnFile, []byte(fmt.Sprintf("postgres://postgres:s3cret-gate@127.0.0.1:%d/postgres?sslmode=disable\n", testutil.FreePort(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the lock state turns unknown", func() (bool, string) {
		m := lockMetrics(t, a.Gatherer())
		_, present := m[held("backup")]
		return !present && m["restorable_lock_watch_success{}"] == 0, fmt.Sprintf("%v", m)
	})
	ans := askGate(t, a, migration)
	if ans.Allow || len(ans.Reasons) != 1 || !strings.Contains(ans.Reasons[0].Detail, "is unknown") {
		t.Errorf("migration with the lock state unknown: %+v", ans)
	}
	if strings.Contains(ans.Reasons[0].Detail, "s3cret") {
		t.Errorf("the reason shows the password: %s", ans.Reasons[0].Detail)
	}
	if ans := askGate(t, a, "env=prod"); !ans.Allow {
		t.Errorf("a deploy was denied with the lock state unknown: %+v", ans.Reasons)
	}
	rec := httptest.NewRecorder()
	a.handleGate(rec, httptest.NewRequest("GET", "/api/v1/gate?env=prod&purpose=restore", nil))
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "unknown purpose") {
		t.Errorf("purpose=restore: HTTP %d %s", rec.Code, rec.Body)
	}
}

// checkLockFamiliesDocumented compares the restorable_lock_* families a
// gather exposes (while a lock is held, so all are present) with their rows
// in docs/metrics.md: names, types and labels. TestMetricsReference leaves
// these families to this test, because its golden fixtures have no
// coordination database.
func checkLockFamiliesDocumented(t *testing.T, g prometheus.Gatherer) {
	t.Helper()
	doc, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `(restorable_lock_[a-z_]+)` \\| (gauge|counter) \\|\\s*([a-z_, ]*?)\\s*\\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = m[2] + " " + strings.ReplaceAll(m[3], " ", "")
	}
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]string{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "restorable_lock_") {
			continue
		}
		var labels []string
		for _, l := range mf.Metric[0].Label {
			labels = append(labels, l.GetName())
		}
		exposed[mf.GetName()] = strings.ToLower(mf.GetType().String()) + " " + strings.Join(labels, ",")
	}
	if len(documented) == 0 {
		t.Fatal("docs/metrics.md documents no restorable_lock_ family")
	}
	if !maps.Equal(documented, exposed) {
		t.Errorf("lock families documented %v, exposed %v", documented, exposed)
	}
}
