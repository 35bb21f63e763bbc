package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func clock() func() time.Time {
	t := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(time.Second); return t }
}

// writeLog writes n entries (probe runs of probe-1 ... probe-n) and returns
// the log's path.
func writeLog(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit", "audit.log")
	l, problems, err := Open(path, clock())
	if err != nil || len(problems) > 0 {
		t.Fatalf("open a new log: %v %v", err, problems)
	}
	for i := 1; i <= n; i++ {
		if err := l.Append(Entry{Principal: "alice", Auth: "token", Action: "probe.run", Target: "probe-" + string(rune('0'+i)), Outcome: OutcomeOK, Status: 202}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func readLogLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.SplitAfter(strings.TrimSuffix(string(data), "\n"), "\n")
}

func writeLogLines(t *testing.T, path string, lines []string) {
	t.Helper()
	s := strings.Join(lines, "")
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	if err := os.WriteFile(path, []byte(s), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestIntactLogVerifies(t *testing.T) {
	path := writeLog(t, 5)
	res, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 || res.Lines != 5 || res.Last.Seq != 5 || res.Head != res.Last {
		t.Fatalf("intact log: %+v", res)
	}
	// Reopening continues the chain: seq 6 follows seq 5.
	l, problems, err := Open(path, clock())
	if err != nil || len(problems) > 0 {
		t.Fatalf("reopen: %v %v", err, problems)
	}
	if err := l.Append(Entry{Principal: "bob", Action: "config.reload", Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	res, err = Verify(path)
	if err != nil || len(res.Problems) > 0 || res.Last.Seq != 6 {
		t.Fatalf("after reopening: %v %+v", err, res)
	}
}

// TestTamperIsNamed: every way of changing the log is reported at the line
// where it shows, with what is wrong.
func TestTamperIsNamed(t *testing.T) {
	rehash := func(line string) string {
		body, _, ok := splitHash([]byte(strings.TrimSuffix(line, "\n")))
		if !ok {
			t.Fatalf("not a line: %s", line)
		}
		sum := sha256.Sum256(body)
		return string(body[:len(body)-1]) + `,"hash":"` + hex.EncodeToString(sum[:]) + "\"}\n"
	}
	cases := []struct {
		name   string
		tamper func(lines []string) []string
		want   []string
	}{
		{"edit", func(l []string) []string {
			l[2] = strings.Replace(l[2], "probe-3", "probe-9", 1)
			return l
		}, []string{"line 3: edited: its content (seq 3, probe.run probe-9) does not match its hash"}},
		{"edit and re-hash", func(l []string) []string {
			l[2] = rehash(strings.Replace(l[2], `"ok"`, `"failed"`, 1))
			return l
		}, []string{"line 4: does not follow line 3: its prev hash differs"}},
		{"delete", func(l []string) []string {
			return append(l[:2:2], l[3:]...)
		}, []string{"line 3: seq 4 where 3 was expected: 1 entries before it are missing"}},
		{"delete the first", func(l []string) []string {
			return l[1:]
		}, []string{"line 1: seq 2 where 1 was expected"}},
		{"reorder", func(l []string) []string {
			l[1], l[2] = l[2], l[1]
			return l
		}, []string{"line 2: seq 3 where 2 was expected", "line 3: seq 2 where 4 was expected: out of order"}},
		{"truncate", func(l []string) []string {
			return l[:3]
		}, []string{"truncated: the log ends at seq 3 (line 3) but the head file records seq 5: 2 entries were cut off the end"}},
		{"truncate everything", func(l []string) []string {
			return nil
		}, []string{"truncated: the log ends at seq 0 (line 0) but the head file records seq 5"}},
		{"insert", func(l []string) []string {
			return append(l[:2:2], append([]string{`{"seq":3,"action":"probe.run"}` + "\n"}, l[2:]...)...)
		}, []string{"line 3: not an audit entry (no hash at the end of the line)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeLog(t, 5)
			writeLogLines(t, path, c.tamper(readLogLines(t, path)))
			res, err := Verify(path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.String())
			}
			all := strings.Join(got, "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("problems do not name %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestMissingHeadIsAProblem(t *testing.T) {
	path := writeLog(t, 2)
	if err := os.Remove(path + HeadSuffix); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].String(), "head file") {
		t.Fatalf("problems: %v", res.Problems)
	}
}

// TestCrashBetweenLineAndHead: a line fsynced whose head was not yet
// replaced is not tampering.
func TestCrashBetweenLineAndHead(t *testing.T) {
	path := writeLog(t, 3)
	head, err := os.ReadFile(path + HeadSuffix)
	if err != nil {
		t.Fatal(err)
	}
	l, _, err := Open(path, clock())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append(Entry{Principal: "alice", Action: "probe.run", Outcome: OutcomeAllowed}); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	if err := os.WriteFile(path+HeadSuffix, head, 0o640); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(path)
	if err != nil || len(res.Problems) > 0 || res.AfterHead != 1 {
		t.Fatalf("crash window: %v %+v", err, res)
	}
}

// TestOpenRecordsABreakOnce: an exporter that opens a cut-off log writes
// one discontinuity entry naming the cut, verify keeps reporting it, and a
// second start does not add another.
func TestOpenRecordsABreakOnce(t *testing.T) {
	path := writeLog(t, 5)
	writeLogLines(t, path, readLogLines(t, path)[:3])
	for start := 1; start <= 2; start++ {
		l, problems, err := Open(path, clock())
		if err != nil {
			t.Fatal(err)
		}
		if start == 1 && (len(problems) != 1 || !strings.Contains(problems[0].String(), "truncated")) {
			t.Errorf("first open: problems %v", problems)
		}
		if start == 2 && len(problems) != 0 {
			t.Errorf("second open reports again: %v", problems)
		}
		_ = l.Close()
	}
	lines := readLogLines(t, path)
	if len(lines) != 4 || !strings.Contains(lines[3], `"action":"audit.discontinuity"`) || !strings.Contains(lines[3], `"seq":4`) {
		t.Fatalf("log after two starts:\n%s", strings.Join(lines, ""))
	}
	res, err := Verify(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) != 1 || res.Problems[0].Line != 4 || !strings.Contains(res.Problems[0].Msg, "truncated") {
		t.Fatalf("verify after the break: %v", res.Problems)
	}
}

// TestTornLineIsKept: a line cut short by a crash stays as evidence and the
// next entry starts on a line of its own.
func TestTornLineIsKept(t *testing.T) {
	path := writeLog(t, 2)
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, data[:len(data)-10], 0o640); err != nil {
		t.Fatal(err)
	}
	l, problems, err := Open(path, clock())
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) == 0 {
		t.Error("a torn line is not reported")
	}
	if err := l.Append(Entry{Principal: "alice", Action: "probe.run", Outcome: OutcomeOK}); err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	after, _ := os.ReadFile(path)
	if !bytes.HasPrefix(after, data[:len(data)-10]) {
		t.Error("the torn line was changed")
	}
	lines := readLogLines(t, path)
	if len(lines) != 4 {
		t.Fatalf("lines after the torn one: %q", lines)
	}
	res, _ := Verify(path)
	if len(res.Problems) == 0 || res.Problems[0].Line != 2 {
		t.Errorf("verify: %v", res.Problems)
	}
}
