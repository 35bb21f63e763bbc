package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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

// hashField is how every line ends: `,"hash":"<64 hex digits>"}`.
const (
	hashField    = `,"hash":"`
	hashFieldLen = len(hashField) + 2*sha256.Size + len(`"}`)
)

// splitHash returns the line's JSON without its hash field, and the hash;
// ok is false when the line does not end in a hash field.
func splitHash(raw []byte) (body []byte, hash string, ok bool) {
	if len(raw) < hashFieldLen+1 {
		return nil, "", false
	}
	tail := raw[len(raw)-hashFieldLen:]
	if !bytes.HasPrefix(tail, []byte(hashField)) || !bytes.HasSuffix(tail, []byte(`"}`)) {
		return nil, "", false
	}
	hexPart := tail[len(hashField) : len(tail)-2]
	for _, c := range hexPart {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, "", false
		}
	}
	body = append(bytes.Clone(raw[:len(raw)-hashFieldLen]), '}')
	return body, string(hexPart), true
}

// verifyReader checks the log line by line, holding one line at a time,
// so that a log of years verifies in little memory.
func verifyReader(r io.Reader, headPath string) (Result, error) {
	var res Result
	add := func(line int, format string, args ...any) {
		res.Problems = append(res.Problems, Problem{Line: line, Msg: fmt.Sprintf(format, args...)})
	}
	head, headErr := readHead(headPath)
	var headHash string
	headLine := 0
	var expect int64 = 1
	prev := ""
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		raw, err := br.ReadBytes('\n')
		if len(raw) == 0 && errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Result{}, err
		}
		res.Lines = n
		if !bytes.HasSuffix(raw, []byte("\n")) {
			res.Torn = true
			add(n, "incomplete line (cut short by a crash during a write, or by an edit)")
			break
		}
		raw = bytes.TrimSuffix(raw, []byte("\n"))
		body, stored, ok := splitHash(raw)
		if !ok {
			add(n, "not an audit entry (no hash at the end of the line)")
			continue
		}
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
		if e.Seq == head.Seq && headLine == 0 {
			headHash, headLine = stored, n
		}
		prev = stored
		expect = e.Seq + 1
		res.Last = Head{Seq: e.Seq, Hash: stored}
	}

	switch {
	case errors.Is(headErr, fs.ErrNotExist):
		if res.Lines > 0 {
			add(0, "head file %s is missing: a log cut off at the end cannot be ruled out", headPath)
		}
		return res, nil
	case errors.Is(headErr, errBadHead):
		add(0, "%v", headErr)
		return res, nil
	case headErr != nil:
		return res, headErr
	}
	res.Head = head
	switch {
	case head.Seq > res.Last.Seq:
		add(0, "truncated: the log ends at seq %d (line %d) but the head file records seq %d: %d entries were cut off the end", res.Last.Seq, res.Lines, head.Seq, head.Seq-res.Last.Seq)
	case head.Seq == 0:
		if res.Lines > 0 {
			add(0, "head file records an empty log, but the log has %d lines", res.Lines)
		}
	case headLine == 0:
		add(0, "head file records seq %d, which no line of the log has", head.Seq)
	case headHash != head.Hash:
		add(headLine, "seq %d does not match the head file's hash: the log was rewritten from here on", head.Seq)
	default:
		res.AfterHead = int(res.Last.Seq - head.Seq)
	}
	return res, nil
}

var errBadHead = errors.New("bad head file")

// readHead reads the head file; a file that is not a head is errBadHead.
func readHead(path string) (Head, error) {
	var h Head
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return h, err
		}
		return h, fmt.Errorf("read audit head: %w", err)
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, fmt.Errorf("%w: %s is not a head: %v", errBadHead, path, err)
	}
	return h, nil
}
