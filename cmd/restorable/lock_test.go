package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/lockwatch"
	"github.com/restorable/restorable/internal/testutil"
)

// coordDSN is the real PostgreSQL server the lock tests coordinate on; the
// password is ignored by its trust authentication and must never show in
// the wrapper's messages.
const coordDSN = "postgres://postgres:s3cret-coord@127.0.0.1:5432/postgres?sslmode=disable"

// binary builds the command once per test run.
var binary = struct {
	once sync.Once
	path string
	err  error
}{}

func restorableBin(t *testing.T) string {
	t.Helper()
	binary.once.Do(func() {
		dir, err := os.MkdirTemp("", "restorable-bin-")
		if err != nil {
			binary.err = err
			return
		}
		binary.path = filepath.Join(dir, "restorable")
		out, err := exec.Command("go", "build", "-o", binary.path, ".").CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		_ = os.RemoveAll(filepath.Dir(binary.path))
	}
	os.Exit(code)
}

// coord connects to the coordination server, or skips (fails under
// REQUIRE_INTEGRATION=1) when there is none.
func coord(t *testing.T) *pgx.Conn {
	t.Helper()
	if !testutil.TCPReachable("127.0.0.1:5432") {
		testutil.Unavailable(t, "no PostgreSQL on 127.0.0.1:5432")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, coordDSN)
	if err != nil {
		testutil.Unavailable(t, "cannot connect to PostgreSQL as postgres: "+err.Error())
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// uniqueKey is a lock name no other test (or engineer) on the server uses.
func uniqueKey(t *testing.T) string {
	return fmt.Sprintf("test-%s-%d", t.Name(), time.Now().UnixNano())
}

// wrapper prepares `restorable lock` with the coordination DSN in the
// environment.
func wrapper(t *testing.T, key, purpose string, extra []string, command ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"lock", "--key", key, "--purpose", purpose, "--dsn-env", "COORD_DSN"}, extra...)
	args = append(args, "--")
	args = append(args, command...)
	cmd := exec.Command(restorableBin(t), args...)
	cmd.Env = append(os.Environ(), "COORD_DSN="+coordDSN)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run the wrapper: %v", err)
	}
	return ee.ExitCode()
}

// holderPID waits until a session holds the advisory lock of key under a
// holder's application_name and returns its backend pid.
func holderPID(t *testing.T, c *pgx.Conn, key string, purpose string) int {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var pid int
		err := c.QueryRow(context.Background(), `
SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND (l.classid::bigint << 32 | l.objid::bigint) = $1 AND a.application_name = $2`,
			lockwatch.Key(key), lockwatch.ApplicationName(purpose, key)).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no session holds lock %q", key)
	return 0
}

// free reports whether the lock of key can be taken now (and releases it).
func free(t *testing.T, c *pgx.Conn, key string) bool {
	t.Helper()
	var got bool
	if err := c.QueryRow(context.Background(), "SELECT pg_try_advisory_lock($1)", lockwatch.Key(key)).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got {
		if _, err := c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockwatch.Key(key)); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && bytes.HasSuffix(b, []byte("\n")) {
			return string(b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s was not written", path)
	return ""
}

// TestLockNeverOverlaps runs rounds of four wrapped commands at once on one
// key; each appends its start and end to a file, and no start may come
// between another command's start and end.
func TestLockNeverOverlaps(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	log := filepath.Join(t.TempDir(), "runs.log")
	const rounds, concurrent = 10, 4
	script := `echo "start $1 $(date +%s%N)" >> "$2"; sleep 0.02; echo "end $1 $(date +%s%N)" >> "$2"`
	for r := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, concurrent)
		outs := make([]*bytes.Buffer, concurrent)
		for i := range concurrent {
			purpose := lockwatch.PurposeBackup
			if i%2 == 1 {
				purpose = lockwatch.PurposeMigration
			}
			cmd, stderr := wrapper(t, key, purpose, []string{"--wait", "30s"}, "sh", "-c", script, "sh", fmt.Sprintf("%d-%d", r, i), log)
			outs[i] = stderr
			wg.Go(func() { errs[i] = cmd.Run() })
		}
		wg.Wait()
		for i, err := range errs {
			if code := exitStatus(t, err); code != 0 {
				t.Fatalf("round %d run %d: exit %d\n%s", r, i, code, outs[i])
			}
			if strings.Contains(outs[i].String(), "s3cret") {
				t.Fatalf("the wrapper printed the password: %s", outs[i])
			}
		}
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // read-only
	var open string
	var last int64
	var runs int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("bad line %q", sc.Text())
		}
		ts, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if ts < last {
			t.Fatalf("line %q is older than the one before it", sc.Text())
		}
		last = ts
		switch fields[0] {
		case "start":
			if open != "" {
				t.Fatalf("run %s started while run %s held the lock", fields[1], open)
			}
			open = fields[1]
		case "end":
			if open != fields[1] {
				t.Fatalf("run %s ended while run %q was the one running", fields[1], open)
			}
			open = ""
			runs++
		}
	}
	if runs != rounds*concurrent {
		t.Fatalf("%d runs completed, want %d", runs, rounds*concurrent)
	}
	if !free(t, c, key) {
		t.Fatal("the lock is still held after every command ended")
	}
}

// TestLockWaitTimeout: while another session holds the lock, the wrapper
// gives up after --wait with exit code 75 and never runs the command.
func TestLockWaitTimeout(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	if _, err := c.Exec(context.Background(), "SELECT pg_advisory_lock($1)", lockwatch.Key(key)); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	for _, wait := range []string{"0s", "1s"} {
		cmd, stderr := wrapper(t, key, "migration", []string{"--wait", wait}, "touch", marker)
		start := time.Now()
		code := exitStatus(t, cmd.Run())
		if code != exitBusy {
			t.Fatalf("--wait %s: exit %d, want %d\n%s", wait, code, exitBusy, stderr)
		}
		if wait == "1s" && time.Since(start) < time.Second {
			t.Fatalf("--wait 1s gave up after %s", time.Since(start))
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatalf("--wait %s: the command ran without the lock", wait)
		}
		if !strings.Contains(stderr.String(), "held by another session") {
			t.Fatalf("--wait %s: message %q does not say the lock is held", wait, stderr)
		}
	}
	if _, err := c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockwatch.Key(key)); err != nil {
		t.Fatal(err)
	}
	cmd, stderr := wrapper(t, key, "migration", []string{"--wait", "1s"}, "touch", marker)
	if code := exitStatus(t, cmd.Run()); code != 0 {
		t.Fatalf("free lock: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the command did not run once the lock was free")
	}
}

// TestLockExitCodes: the command's status comes back; a command killed by
// a signal gives 128+N; a command that cannot start gives 127; bad usage
// 64; an unreachable server 69, without the password in the message.
func TestLockExitCodes(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	for _, tc := range []struct {
		name    string
		command []string
		want    int
	}{
		{"success", []string{"true"}, 0},
		{"status 7", []string{"sh", "-c", "exit 7"}, 7},
		{"status 200", []string{"sh", "-c", "exit 200"}, 200},
		{"killed", []string{"sh", "-c", "kill -KILL $$"}, 128 + 9},
		{"not found", []string{"/nonexistent/restorable-test-command"}, exitNoStart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, stderr := wrapper(t, key, "backup", nil, tc.command...)
			if code := exitStatus(t, cmd.Run()); code != tc.want {
				t.Fatalf("exit %d, want %d\n%s", code, tc.want, stderr)
			}
			if !free(t, c, key) {
				t.Fatal("the lock is held after the command ended")
			}
		})
	}
	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{
			{"lock", "--key", key, "--purpose", "restore", "--dsn-env", "COORD_DSN", "--", "true"},
			{"lock", "--key", " ", "--purpose", "backup", "--dsn-env", "COORD_DSN", "--", "true"},
			{"lock", "--key", key, "--purpose", "backup", "--dsn-env", "COORD_DSN"},
			{"lock", "--key", key, "--purpose", "backup", "--", "true"},
		} {
			cmd := exec.Command(restorableBin(t), args...)
			cmd.Env = append(os.Environ(), "COORD_DSN="+coordDSN)
			out, err := cmd.CombinedOutput()
			if code := exitStatus(t, err); code != exitUsage {
				t.Fatalf("%q: exit %d, want %d\n%s", args, code, exitUsage, out)
			}
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		port := testutil.FreePort(t)
		cmd := exec.Command(restorableBin(t), "lock", "--key", key, "--purpose", "backup", "--dsn-env", "COORD_DSN", "--connect-timeout", "2s", "--", "true")
		cmd.Env = append(os.Environ(), fmt.Sprintf("COORD_DSN=postgres://postgres:s3cret-coord@127.0.0.1:%d/postgres?sslmode=disable", port))
		out, err := cmd.CombinedOutput()
		if code := exitStatus(t, err); code != exitUnavailable {
			t.Fatalf("exit %d, want %d\n%s", code, exitUnavailable, out)
		}
		if strings.Contains(string(out), "s3cret") {
			t.Fatalf("the message shows the password: %s", out)
		}
	})
	t.Run("unparsable dsn", func(t *testing.T) {
		cmd := exec.Command(restorableBin(t), "lock", "--key", key, "--purpose", "backup", "--dsn-env", "COORD_DSN", "--", "true")
		cmd.Env = append(os.Environ(), "COORD_DSN=postgres://postgres:s3cret-coord@127.0.0.1:notaport/x")
		out, err := cmd.CombinedOutput()
		if code := exitStatus(t, err); code != exitUsage {
			t.Fatalf("exit %d, want %d\n%s", code, exitUsage, out)
		}
		if strings.Contains(string(out), "s3cret") {
			t.Fatalf("the message shows the password: %s", out)
		}
	})
}

// TestLockForwardsSignals: SIGTERM and SIGINT sent to the wrapper reach the
// command, whose status is returned, and the lock is released.
func TestLockForwardsSignals(t *testing.T) {
	c := coord(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			key := uniqueKey(t)
			dir := t.TempDir()
			ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
			script := fmt.Sprintf(`trap 'echo %s > "$2"; exit 42' %s; echo ready > "$1"; while :; do sleep 0.05; done`, sig, strings.TrimPrefix(signalName(sig), "SIG"))
			cmd, stderr := wrapper(t, key, "backup", nil, "sh", "-c", script, "sh", ready, got)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			waitFile(t, ready)
			holderPID(t, c, key, "backup")
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := exitStatus(t, cmd.Wait()); code != 42 {
				t.Fatalf("exit %d, want the command's 42\n%s", code, stderr)
			}
			if b := waitFile(t, got); strings.TrimSpace(b) != sig.String() {
				t.Fatalf("the command got %q", b)
			}
			if !free(t, c, key) {
				t.Fatal("the lock is held after the command ended")
			}
		})
	}
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return ""
}

// TestLockReleasedWhenWrapperKilled: SIGKILL leaves no chance to unlock;
// the server drops the session and the lock with it, and the command gets
// SIGTERM from the kernel (Linux).
func TestLockReleasedWhenWrapperKilled(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd, _ := wrapper(t, key, "backup", nil, "sh", "-c", `echo $$ > "$1"; exec sleep 60`, "sh", pidFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childPID, err := strconv.Atoi(strings.TrimSpace(waitFile(t, pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	holderPID(t, c, key, "backup")
	if free(t, c, key) {
		t.Fatal("the lock is free while the wrapper runs")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for !free(t, c, key) {
		if time.Now().After(deadline) {
			t.Fatal("the lock was not released after the wrapper was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for alive(childPID) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(childPID, syscall.SIGKILL)
			t.Fatal("the command kept running after the wrapper was killed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// TestLockLostStopsCommand: when the server ends the session holding the
// lock, the command gets SIGTERM and the wrapper exits 69.
func TestLockLostStopsCommand(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	dir := t.TempDir()
	ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
	cmd, stderr := wrapper(t, key, "backup", nil, "sh", "-c", `trap 'echo TERM > "$2"; exit 0' TERM; echo ready > "$1"; while :; do sleep 0.05; done`, "sh", ready, got)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, ready)
	pid := holderPID(t, c, key, "backup")
	if _, err := c.Exec(context.Background(), "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd.Wait()); code != exitUnavailable {
		t.Fatalf("exit %d, want %d\n%s", code, exitUnavailable, stderr)
	}
	if b := waitFile(t, got); strings.TrimSpace(b) != "TERM" {
		t.Fatalf("the command got %q", b)
	}
	if !strings.Contains(stderr.String(), "the lock is gone") {
		t.Fatalf("message %q does not say the lock is gone", stderr)
	}
}

// TestKeyIsDocumentedHash: the key is the first 8 bytes of SHA-256,
// big-endian, and the SQL expression docs/lock.md gives computes the same.
func TestKeyIsDocumentedHash(t *testing.T) {
	c := coord(t)
	for _, name := range []string{"payments-db", "orders", "ünïcode-key"} {
		var sql int64
		if err := c.QueryRow(context.Background(), `SELECT ('x' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 16))::bit(64)::bigint`, name).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		if got := lockwatch.Key(name); got != sql {
			t.Fatalf("Key(%q) = %d, SQL says %d", name, got, sql)
		}
	}
}

// TestLockSignalWhileWaiting: a signal during the wait abandons it; the
// command never starts and the exit code is 128 + the signal.
func TestLockSignalWhileWaiting(t *testing.T) {
	c := coord(t)
	key := uniqueKey(t)
	if _, err := c.Exec(context.Background(), "SELECT pg_advisory_lock($1)", lockwatch.Key(key)); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(t.TempDir(), "ran")
	cmd, stderr := wrapper(t, key, "migration", []string{"--wait", "60s"}, "touch", marker)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		var n int
		if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", lockwatch.WaitingName("migration", key)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the wrapper never waited for the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := exitStatus(t, cmd.Wait()); code != 128+int(syscall.SIGTERM) {
		t.Fatalf("exit %d, want %d\n%s", code, 128+int(syscall.SIGTERM), stderr)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the command ran although the wait was abandoned")
	}
	if _, err := c.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", lockwatch.Key(key)); err != nil {
		t.Fatal(err)
	}
}
