package runx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRunKinds(t *testing.T) {
	ctx := context.Background()
	if _, err := Run(ctx, Cmd{Path: "/nonexistent/restic"}); KindOf(err) != KindNotFound || !strings.Contains(err.Error(), "program not found") {
		t.Errorf("missing program: %v (%s)", err, KindOf(err))
	}
	_, err := Run(ctx, Cmd{Path: script(t, "echo 'Fatal: repository does not exist' >&2; exit 3"), Args: []string{"snapshots"}})
	if KindOf(err) != KindExit || !strings.Contains(err.Error(), "repository does not exist") || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("non-zero exit: %v (%s)", err, KindOf(err))
	}
	res, err := Run(ctx, Cmd{Path: script(t, "cat; echo done"), Stdin: []byte("in ")})
	if err != nil || string(res.Stdout) != "in done\n" {
		t.Errorf("stdin and stdout: %q %v", res.Stdout, err)
	}
}

// A hanging program and the helpers it started are killed at the deadline.
func TestRunTimeoutKillsTheGroup(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "child-survived")
	prog := script(t, "(sleep 2; touch "+marker+") & sleep 60")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := Run(ctx, Cmd{Path: prog, Args: []string{"stats"}})
	if KindOf(err) != KindTimeout || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("hanging program: %v (%s)", err, KindOf(err))
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("a child of the killed program kept running")
	}
}

// The environment is minimal: a secret of the exporter does not reach a
// program unless it is passed on purpose.
func TestRunEnvironment(t *testing.T) {
	t.Setenv("EXPORTER_SECRET", "hunter2")
	res, err := Run(context.Background(), Cmd{Path: script(t, "env"), Env: []string{"RESTIC_PASSWORD_FILE=/run/secret"}})
	if err != nil {
		t.Fatal(err)
	}
	out := string(res.Stdout)
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "RESTIC_PASSWORD_FILE=/run/secret") || !strings.Contains(out, "PATH=") {
		t.Errorf("environment:\n%s", out)
	}
}

func TestMeterCountsCalls(t *testing.T) {
	var m Meter
	ctx := WithMeter(context.Background(), &m)
	prog := script(t, "head -c 4096 /dev/zero >/dev/null")
	for range 2 {
		if _, err := Run(ctx, Cmd{Path: prog, Args: []string{"--json", "-r", "/srv/repo", "snapshots"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.Calls(); got["prog snapshots"] != 2 || len(got) != 1 {
		t.Errorf("calls = %v, want 2 of \"prog snapshots\"", got)
	}
	if m.ReadBytes() < 2*4096 {
		t.Errorf("read bytes = %d, want at least the 8192 the program read", m.ReadBytes())
	}
}

// gone reports whether pid no longer runs (a zombie waiting for init to
// reap it counts as gone).
func gone(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(data), ") ")
	return strings.HasPrefix(rest, "Z")
}

func readPid(t *testing.T, path string) int {
	t.Helper()
	for range 50 {
		data, err := os.ReadFile(path)
		if err == nil && len(bytes.TrimSpace(data)) > 0 {
			pid, err := strconv.Atoi(string(bytes.TrimSpace(data)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// runWithin runs c and fails the test when Run does not return within
// limit: the regression these tests guard against is a Run that never
// returns.
func runWithin(t *testing.T, ctx context.Context, c Cmd, limit time.Duration) (*Result, error) {
	t.Helper()
	type out struct {
		res *Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := Run(ctx, c)
		done <- out{res, err}
	}()
	select {
	case o := <-done:
		return o.res, o.err
	case <-time.After(limit):
		t.Fatalf("Run did not return within %s", limit)
		return nil, nil
	}
}

// A helper that starts a session of its own (setsid) leaves the process
// group and keeps the output pipe open: the run still ends at its deadline,
// and the helper is killed too.
func TestRunTimeoutWithSetsidGrandchild(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		testutil.Unavailable(t, "setsid is not installed")
	}
	pidfile := filepath.Join(t.TempDir(), "pid")
	prog := script(t, "setsid sh -c 'echo $$ > "+pidfile+"; exec sleep 600' & exec sleep 100000")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	// Without the fix Run never returns; 20s only keeps a broken Run from
	// hanging the suite, it measures nothing.
	_, err := runWithin(t, ctx, Cmd{Path: prog, Args: []string{"snapshots"}}, 20*time.Second)
	if KindOf(err) != KindTimeout {
		t.Fatalf("err = %v (%s), want a timeout", err, KindOf(err))
	}
	pid := readPid(t, pidfile)
	for range 50 {
		if gone(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("the setsid grandchild %d still runs after the run was killed", pid)
}

// A program that succeeds but leaves a helper holding its output pipe does
// not keep Run waiting for the helper: its output is returned after
// WaitDelay.
func TestRunSucceedsDespiteALeftoverHelper(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "pid")
	prog := script(t, "setsid sh -c 'echo $$ > "+pidfile+"; exec sleep 600' & echo '[]'")
	res, err := runWithin(t, context.Background(), Cmd{Path: prog}, 20*time.Second)
	t.Cleanup(func() { _ = syscall.Kill(readPid(t, pidfile), syscall.SIGKILL) })
	if err != nil || string(res.Stdout) != "[]\n" {
		t.Fatalf("Run = %q, %v; want the program's output and no error", res.Stdout, err)
	}
}

// A program that floods its standard output is stopped at the limit with an
// error naming it, instead of being buffered whole.
func TestRunBoundsStdout(t *testing.T) {
	res, err := runWithin(t, context.Background(), Cmd{Path: "yes", Args: []string{"snapshots"}, MaxStdout: 1 << 20}, 20*time.Second)
	if KindOf(err) != KindLimit || !strings.Contains(err.Error(), "exceeds the limit of 1 MiB") {
		t.Fatalf("err = %v (%s), want a limit error naming 1 MiB", err, KindOf(err))
	}
	if res == nil || len(res.Stdout) > 1<<20 {
		t.Errorf("kept %d bytes of output, want at most 1 MiB", len(res.Stdout))
	}
}

// Standard error is kept by its start and its end only, so a chatty program
// cannot fill memory through it and the message still says why it failed.
func TestRunBoundsStderr(t *testing.T) {
	prog := script(t, "echo first problem >&2; head -c 5000000 /dev/zero | tr '\\0' x >&2; echo; echo 'Fatal: the real reason' >&2; exit 1")
	res, err := runWithin(t, context.Background(), Cmd{Path: prog}, 20*time.Second)
	if KindOf(err) != KindExit || !strings.Contains(err.Error(), "Fatal: the real reason") {
		t.Fatalf("err = %v (%s)", err, KindOf(err))
	}
	if len(res.Stderr) > 2*StderrKeep+100 {
		t.Errorf("kept %d bytes of standard error, want at most about %d", len(res.Stderr), 2*StderrKeep)
	}
	if !bytes.HasPrefix(res.Stderr, []byte("first problem\n")) || !bytes.Contains(res.Stderr, []byte("bytes left out")) {
		t.Errorf("standard error lost its start or the marker: %q…", res.Stderr[:min(80, len(res.Stderr))])
	}
}

// A context that is already done starts nothing.
func TestRunDoneContext(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Cmd{Path: script(t, "touch "+marker)})
	if KindOf(err) != KindCanceled {
		t.Errorf("err = %v (%s), want canceled", err, KindOf(err))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the program ran although the context was done")
	}
}

func TestHeadTail(t *testing.T) {
	for _, tc := range []struct {
		writes []string
		want   string
	}{
		{[]string{"abc"}, "abc"},
		{[]string{"abcd", "efgh"}, "abcdefgh"},
		{[]string{"abcdefghij"}, "abcd\n[… 2 bytes left out …]\nghij"},
		{[]string{"ab", "cdefg", "hij", "klm"}, "abcd\n[… 5 bytes left out …]\njklm"},
	} {
		h := NewHeadTail(4, 4)
		for _, w := range tc.writes {
			if n, err := h.Write([]byte(w)); n != len(w) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", w, n, err)
			}
		}
		if got := string(h.Bytes()); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.writes, got, tc.want)
		}
	}
	tail := NewHeadTail(0, 3)
	for _, w := range []string{"ab", "cdef", "g"} {
		_, _ = tail.Write([]byte(w))
	}
	if got := string(tail.Tail()); got != "efg" {
		t.Errorf("tail of abcdefg = %q, want efg", got)
	}
	short := NewHeadTail(2, 3)
	_, _ = short.Write([]byte("abcd"))
	if got := string(short.Tail()); got != "abcd" {
		t.Errorf("tail of abcd with nothing left out = %q, want abcd", got)
	}
}
