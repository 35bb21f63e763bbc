package lockwatch

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/testutil"
)

// coordDSN is the real PostgreSQL server of the tests; trust
// authentication ignores the password, which must never show.
const coordDSN = "postgres://postgres:s3cret-watch@127.0.0.1:5432/postgres?sslmode=disable"

func needServer(t *testing.T) { needServerB(t) }

func needServerB(t testing.TB) {
	t.Helper()
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(t, "no PostgreSQL on 127.0.0.1:5432")
	}
}

// TestWatcherSeesTheHolder runs the real restorable lock and reads its
// holder through the watcher, then sees the lock free after the wrapper
// ends.
func TestWatcherSeesTheHolder(t *testing.T) {
	needServer(t)
	bin := testutil.GoBuild(t, "../../cmd/restorable")
	key := fmt.Sprintf("watch-%d", time.Now().UnixNano())
	t.Setenv("LOCKWATCH_TEST_DSN", coordDSN)
	w := New(&config.Locks{DSNEnv: "LOCKWATCH_TEST_DSN", Interval: config.Duration(time.Second), Timeout: config.Duration(5 * time.Second),
		Keys: []config.LockKey{{Name: key, Env: "prod"}, {Name: key + "-other", Env: "prod"}}}, Options{})
	ctx := context.Background()
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	st, v0 := w.State()
	if !st.Known || len(st.Holders) != 0 {
		t.Fatalf("before the wrapper: %+v", st)
	}

	ready := filepath.Join(t.TempDir(), "ready")
	before := time.Now().Add(-time.Second)
	cmd := exec.Command(bin, "lock", "--key", key, "--purpose", "backup", "--dsn-env", "LOCKWATCH_TEST_DSN", "--", "sh", "-c", `echo ready > "$1"; exec sleep 60`, "sh", ready)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the wrapper did not start its command")
		}
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	st, v1 := w.State()
	if !st.Known || len(st.Holders) != 1 {
		t.Fatalf("while the wrapper holds the lock: %+v", st)
	}
	h := st.Holders[0]
	if h.Key != key || h.Purpose != PurposeBackup || h.PID == 0 {
		t.Errorf("holder %+v", h)
	}
	if h.Since.Before(before) || h.Since.After(time.Now()) {
		t.Errorf("holder since %s, want between %s and now", h.Since, before)
	}
	if v1 == v0 {
		t.Error("the version did not change with the holders")
	}
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, v := w.State(); v != v1 {
		t.Error("the version changed without a change of holders")
	}

	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := w.State(); !st.Known || len(st.Holders) != 0 {
		t.Fatalf("after the wrapper ended: %+v", st)
	}
}

// TestWatcherUnreachable: a failed read makes the state unknown, keeps
// the time of the last good read, and never shows the password.
func TestWatcherUnreachable(t *testing.T) {
	needServer(t)
	t.Setenv("LOCKWATCH_TEST_DSN", coordDSN)
	cfg := &config.Locks{DSNEnv: "LOCKWATCH_TEST_DSN", Interval: config.Duration(time.Second), Timeout: config.Duration(2 * time.Second), Keys: []config.LockKey{{Name: "k", Env: "prod"}}}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	w := New(cfg, Options{Now: func() time.Time { return now }})
	if st, _ := w.State(); st.Known {
		t.Fatal("known before the first read")
	}
	if err := w.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	for _, dsn := range []string{
		fmt.Sprintf("postgres://postgres:s3cret-watch@127.0.0.1:%d/postgres?sslmode=disable", testutil.FreePort(t)),
		"postgres://postgres:s3cret-watch@127.0.0.1:notaport/postgres",
		"",
	} {
		t.Setenv("LOCKWATCH_TEST_DSN", dsn)
		if err := w.Poll(context.Background()); err == nil {
			t.Fatalf("%q: read succeeded", dsn)
		}
		st, _ := w.State()
		if st.Known || st.Err == "" || !st.ObservedAt.Equal(now.Add(-time.Minute)) {
			t.Errorf("%q: state %+v, want unknown since the last good read", dsn, st)
		}
		if strings.Contains(st.Err, "s3cret") {
			t.Errorf("the error shows the password: %s", st.Err)
		}
	}
}

func TestRunStopsWithContext(t *testing.T) {
	needServer(t)
	t.Setenv("LOCKWATCH_TEST_DSN", coordDSN)
	changed := make(chan struct{}, 10)
	w := New(&config.Locks{DSNEnv: "LOCKWATCH_TEST_DSN", Interval: config.Duration(time.Second), Timeout: config.Duration(2 * time.Second), Keys: []config.LockKey{{Name: "k", Env: "prod"}}},
		Options{OnChange: func() { changed <- struct{}{} }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the first read did not report a change from unknown to known")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
