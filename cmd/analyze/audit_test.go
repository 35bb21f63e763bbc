package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/audit"
)

// writeAuditLog writes five probe runs to <root>/audit/audit.log as the
// exporter does.
func writeAuditLog(t *testing.T, root string) string {
	t.Helper()
	path := filepath.Join(root, "audit", "audit.log")
	l, _, err := audit.Open(path, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"a", "b", "c", "d", "e"} {
		if err := l.Append(audit.Entry{Principal: "alice", Auth: "token", Action: "probe.run", Target: "probe-" + target, Outcome: audit.OutcomeOK, Status: 202}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestAuditVerify: analyze audit verify exits 0 on an intact log, 1 with
// the line and what is wrong for every kind of tampering, 2 when it cannot
// read the log.
func TestAuditVerify(t *testing.T) {
	edit := func(f func([]string) []string) func(string) error {
		return func(path string) error {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			lines := strings.SplitAfter(string(data), "\n")
			return os.WriteFile(path, []byte(strings.Join(f(lines[:len(lines)-1]), "")), 0o640)
		}
	}
	cases := []struct {
		name   string
		tamper func(path string) error
		code   int
		want   string
	}{
		{"intact", func(string) error { return nil }, exitOK, "intact: 5 entries"},
		{"edited", edit(func(l []string) []string {
			l[1] = strings.Replace(l[1], `"alice"`, `"mallory"`, 1)
			return l
		}), exitTampered, "line 2: edited: its content (seq 2, probe.run probe-b) does not match its hash"},
		{"removed", edit(func(l []string) []string { return append(l[:3:3], l[4:]...) }), exitTampered, "line 4: seq 5 where 4 was expected: 1 entries before it are missing"},
		{"reordered", edit(func(l []string) []string { l[0], l[1] = l[1], l[0]; return l }), exitTampered, "line 1: seq 2 where 1 was expected"},
		{"truncated", edit(func(l []string) []string { return l[:4] }), exitTampered, "truncated: the log ends at seq 4 (line 4) but the head file records seq 5: 1 entries were cut off the end"},
		{"head removed", func(path string) error { return os.Remove(path + audit.HeadSuffix) }, exitTampered, "is missing: a log cut off at the end cannot be ruled out"},
		{"log removed", os.Remove, exitError, "open audit log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			path := writeAuditLog(t, root)
			if err := c.tamper(path); err != nil {
				t.Fatal(err)
			}
			// Found through --history, as the exporter places it.
			code, out, errOut := runIn(t, "--history", root, "audit", "verify")
			if code != c.code || !strings.Contains(out+errOut, c.want) {
				t.Errorf("exit %d, want %d with %q:\n%s%s", code, c.code, c.want, out, errOut)
			}
		})
	}
}
