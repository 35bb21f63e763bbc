package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
)

// Problem is one thing wrong with a log, at a line (1-based) or, with Line
// 0, with the log as a whole.
type Problem struct {
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.Msg
	}
	return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
}

// Result is what Verify found.
type Result struct {
	// Lines is the number of lines in the log.
	Lines int
	// Last is the sequence number and hash of the last readable entry.
	Last Head
	// Head is what the head file records; zero when it is missing.
	Head Head
	// AfterHead counts entries after the one the head file records. One is
	// the window of a crash between the fsync of a line and the
	// replacement of the head.
	AfterHead int
	// Torn reports a last line without its newline.
	Torn bool
	// Problems lists everything that shows tampering or damage, in line
	// order, with whole-log problems last. Empty means the log is intact.
	Problems []Problem

	// lastBreak is the line of the last ActionDiscontinuity entry: the
	// problems up to it are already on record in the log itself.
	lastBreak int
}

// unrecorded returns the problems the log does not yet record in an
// ActionDiscontinuity entry of its own.
func (r Result) unrecorded() []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.Line == 0 || p.Line > r.lastBreak {
			out = append(out, p)
		}
	}
	return out
}

// Verify reads the log at path and its head file and reports every line
// that was edited, removed, inserted, reordered or cut off. An error means
// the log could not be read at all.
func Verify(path string) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, fmt.Errorf("open audit log: %w", err)
	}
	defer f.Close() //nolint:errcheck // read-only
	res, err := verifyReader(f, path+HeadSuffix)
	if err != nil {
		return Result{}, fmt.Errorf("read audit log %s: %w", path, err)
	}
	return res, nil
}

var hashSuffix = regexp.MustCompile(`,"hash":"([0-9a-f]{64})"}$`)

func verifyReader(r io.Reader, headPath string) (Result, error) {
	lines, torn, err := readLines(r)
	if err != nil {
		return Result{}, err
	}
	res := Result{Lines: len(lines), Torn: torn}
	add := func(line int, format string, args ...any) {
		res.Problems = append(res.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	// hashOf remembers each sequence number's hash for the head check.
	hashOf := map[int64]string{}
	lineOf := map[int64]int{}
	var expect int64 = 1
	prev := ""
	for i, raw := range lines {
		n := i + 1
		if torn && n == len(lines) {
			add(n, "incomplete line (cut short by a crash during a write, or by an edit)")
			continue
		}
		m := hashSuffix.FindSubmatchIndex(raw)
		if m == nil {
			add(n, "not an audit entry (no hash at the end of the line)")
			continue
		}
		stored := string(raw[m[2]:m[3]])
		body := append(bytes.Clone(raw[:m[0]]), '}')
		var e Entry
		if err := json.Unmarshal(body, &e); err != nil {
			add(n, "not an audit entry: %v", err)
			continue
		}
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != stored {
			add(n, "edited: its content (seq %d, %s %s) does not match its hash", e.Seq, e.Action, e.Target)
		}
		switch {
		case e.Seq > expect:
			add(n, "seq %d where %d was expected: %d entries before it are missing (removed, or moved later)", e.Seq, expect, e.Seq-expect)
		case e.Seq < expect:
			add(n, "seq %d where %d was expected: out of order (moved here from earlier, or duplicated)", e.Seq, expect)
		case e.Prev != prev:
			if n == 1 {
				add(n, "the first entry names a previous hash: the log does not start where it began")
			} else {
				add(n, "does not follow line %d: its prev hash differs (line %d was edited and re-hashed, or replaced)", n-1, n-1)
			}
		}
		if e.Action == ActionDiscontinuity {
			add(n, "the exporter found the log broken when it opened it: %s", e.Detail)
			res.lastBreak = n
		}
		prev = stored
		expect = e.Seq + 1
		res.Last = Head{Seq: e.Seq, Hash: stored}
		hashOf[e.Seq] = stored
		lineOf[e.Seq] = n
	}

	data, err := os.ReadFile(headPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if len(lines) > 0 {
			add(0, "head file %s is missing: a log cut off at the end cannot be ruled out", headPath)
		}
		return res, nil
	case err != nil:
		return res, fmt.Errorf("read audit head: %w", err)
	}
	if err := json.Unmarshal(data, &res.Head); err != nil {
		add(0, "head file %s is not a head: %v", headPath, err)
		return res, nil
	}
	h := res.Head
	switch hash, ok := hashOf[h.Seq]; {
	case h.Seq > res.Last.Seq:
		add(0, "truncated: the log ends at seq %d (line %d) but the head file records seq %d: %d entries were cut off the end", res.Last.Seq, len(lines), h.Seq, h.Seq-res.Last.Seq)
	case h.Seq == 0:
		if len(lines) > 0 {
			add(0, "head file records an empty log, but the log has %d lines", len(lines))
		}
	case !ok:
		add(0, "head file records seq %d, which no line of the log has", h.Seq)
	case hash != h.Hash:
		add(lineOf[h.Seq], "seq %d does not match the head file's hash: the log was rewritten from here on", h.Seq)
	default:
		res.AfterHead = int(res.Last.Seq - h.Seq)
	}
	return res, nil
}
