package runx

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
