package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// lockSeries renders the lock metrics built from a state as
// "name{labels} value" lines.
func lockSeries(t *testing.T, cfg *config.Config, st *policy.LockState) map[string]float64 {
	t.Helper()
	c := NewCollector(Sources{})
	mfs, err := gatherMetrics(c.buildLocks(nil, cfg, st))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
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

func TestLockMetrics(t *testing.T) {
	cfg, err := config.Parse("r.yml", []byte("environments:\n  prod: {rpo: 1h}\nlocks: {dsn_env: X, keys: [{name: a, env: prod}, {name: b, env: prod}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	since := at.Add(-time.Minute)
	got := lockSeries(t, cfg, &policy.LockState{Known: true, ObservedAt: at, Holders: []model.LockHolder{
		{Key: "a", Purpose: "backup", PID: 1, Since: since},
		{Key: "b", Purpose: "migration", PID: 2},
	}})
	want := map[string]float64{
		"restorable_lock_held{key=a,purpose=backup}":                         1,
		"restorable_lock_held{key=a,purpose=migration}":                      0,
		"restorable_lock_held{key=b,purpose=backup}":                         0,
		"restorable_lock_held{key=b,purpose=migration}":                      1,
		"restorable_lock_held_since_timestamp_seconds{key=a,purpose=backup}": float64(since.Unix()),
		"restorable_lock_watch_success{}":                                    1,
		"restorable_lock_watch_last_success_timestamp_seconds{}":             float64(at.Unix()),
	}
	if !equalSeries(got, want) {
		t.Errorf("known state:\n got %v\nwant %v", got, want)
	}

	// Unknown is absent, never 0: only the watch metrics remain.
	got = lockSeries(t, cfg, &policy.LockState{ObservedAt: at, Err: "connection refused"})
	want = map[string]float64{"restorable_lock_watch_success{}": 0, "restorable_lock_watch_last_success_timestamp_seconds{}": float64(at.Unix())}
	if !equalSeries(got, want) {
		t.Errorf("unknown state:\n got %v\nwant %v", got, want)
	}
	got = lockSeries(t, cfg, &policy.LockState{Err: "not read yet"})
	if !equalSeries(got, map[string]float64{"restorable_lock_watch_success{}": 0}) {
		t.Errorf("never read: %v", got)
	}

	none, err := config.Parse("r.yml", []byte("environments:\n  prod: {rpo: 1h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := lockSeries(t, none, nil); len(got) != 0 {
		t.Errorf("without locks configured: %v", got)
	}
}

func equalSeries(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
