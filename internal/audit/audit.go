// Package audit keeps the exporter's tamper-evident audit log: one JSON line
// per state-changing or sensitive operation (a probe run, a reload, a
// refused request), each carrying the hash of the line before it, written
// and fsynced before the HTTP answer leaves.
//
// The chain has no secret key. It detects a line that was edited, removed,
// inserted or reordered by someone who did not recompute every later hash,
// and, with the head file next to the log (the sequence number and hash of
// the last line, replaced atomically after every append), a log whose tail
// was cut off. Someone who can write both files can rewrite them
// consistently; a copy kept elsewhere (Prometheus keeps
// restorable_audit_log_entries) is what exposes that. docs/security.md says
// so to users.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Outcomes of an audited operation.
const (
	// OutcomeAllowed is written before an authorised operation runs, so
	// that nothing runs that the log does not know of.
	OutcomeAllowed = "allowed"
	// OutcomeOK and OutcomeFailed are written after the operation, with the
	// HTTP status it answered.
	OutcomeOK     = "ok"
	OutcomeFailed = "failed"
	// OutcomeDenied is a refused request: cross-site, unauthenticated or
	// without the permission.
	OutcomeDenied = "denied"
)

// ActionDiscontinuity is the entry the exporter writes when it opens a log
// that does not continue its head (cut off, edited or torn by a crash), so
// that the break stays on record after the chain goes on.
const ActionDiscontinuity = "audit.discontinuity"

// HeadSuffix names the head file: the log's path with this suffix.
const HeadSuffix = ".head"

// Entry is one audited operation.
type Entry struct {
	// Seq numbers entries from 1 without gaps.
	Seq  int64     `json:"seq"`
	Time time.Time `json:"time"`
	// Principal is who asked: a configured principal's name, "anonymous",
	// or "signal" for SIGHUP.
	Principal string `json:"principal"`
	// Auth is how the principal was recognised: token, client-cert,
	// basic-auth, none or signal.
	Auth   string `json:"auth,omitempty"`
	Remote string `json:"remote,omitempty"`
	// Action is what was asked, such as probe.run or config.reload.
	Action string `json:"action"`
	// Target is what the action applies to, such as a probe's name.
	Target  string `json:"target,omitempty"`
	Outcome string `json:"outcome"`
	Status  int    `json:"status,omitempty"`
	// Detail says why a request was denied or an operation failed.
	Detail string `json:"detail,omitempty"`
	// Prev is the hash of the previous line, empty on the first.
	Prev string `json:"prev"`
}

// Head is the content of the head file: the last line written.
type Head struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Log appends entries to one audit log file.
type Log struct {
	path string
	now  func() time.Time

	// mu serialises appends: every line needs the hash of the one before,
	// so appends cannot overlap. It is held across the write and fsync of
	// one line on a local disk, which is the price of the chain; nothing
	// else waits on it.
	mu   sync.Mutex
	f    *os.File
	head Head

	// onAppend receives every entry once it is on disk; set before the
	// log is shared, by OnAppend.
	onAppend func(Entry)
}

// OnAppend makes fn receive a copy of every entry appended from now on,
// complete with its Seq, Time and Prev, after the entry and the head are
// on disk and without the log's lock held, so that fn (a copy to the
// history) never delays other appends nor decides whether an append
// succeeded. It must be called before the log is used concurrently.
func (l *Log) OnAppend(fn func(Entry)) { l.onAppend = fn }

// Open opens (creating it and its directory when missing) the log at path
// and continues its chain. When the log does not continue its head file,
// or its chain is broken, Open records an ActionDiscontinuity entry that
// names the problems before anything else is appended, and returns them so
// that the caller can log them.
func Open(path string, now func() time.Time) (*Log, []Problem, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, nil, fmt.Errorf("create audit log directory of %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("open audit log %s: %w", path, err)
	}
	l := &Log{path: path, now: now, f: f}
	res, err := verifyReader(f, path+HeadSuffix)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read audit log %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	l.head = res.Last
	if res.Torn {
		// A line cut short by a crash is left as evidence; the newline ends
		// it so that the next entry starts a line of its own.
		if _, err := f.Write([]byte("\n")); err != nil {
			_ = f.Close()
			return nil, nil, fmt.Errorf("end the torn last line of %s: %w", path, err)
		}
	}
	problems := res.unrecorded()
	if len(problems) > 0 {
		detail := ""
		for i, p := range problems {
			if i > 0 {
				detail += "; "
			}
			detail += p.String()
		}
		if err := l.Append(Entry{Principal: "exporter", Auth: "none", Action: ActionDiscontinuity, Outcome: OutcomeFailed, Detail: detail}); err != nil {
			_ = f.Close()
			return nil, nil, err
		}
	}
	return l, problems, nil
}

// Path is the log's file.
func (l *Log) Path() string { return l.path }

// Entries is the number of entries written so far (the last sequence
// number).
func (l *Log) Entries() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.head.Seq
}

// Append writes e as the next line, fsyncs it and then replaces the head
// file; it returns only when both are on disk. Seq, Prev and a zero Time
// are filled in. The entry as written then goes to the OnAppend function,
// if any.
func (l *Log) Append(e Entry) error {
	written, err := l.append(e)
	if err != nil {
		return err
	}
	if l.onAppend != nil {
		l.onAppend(written)
	}
	return nil
}

// append writes e under the lock and returns it as written.
func (l *Log) append(e Entry) (Entry, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return Entry{}, errors.New("append to audit log: closed")
	}
	e.Seq = l.head.Seq + 1
	e.Prev = l.head.Hash
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	e.Time = e.Time.UTC()
	line, hash, err := encode(e)
	if err != nil {
		return Entry{}, err
	}
	if _, err := l.f.Write(line); err != nil {
		return Entry{}, fmt.Errorf("write audit entry %d to %s: %w", e.Seq, l.path, err)
	}
	if err := l.f.Sync(); err != nil {
		return Entry{}, fmt.Errorf("sync audit log %s: %w", l.path, err)
	}
	next := Head{Seq: e.Seq, Hash: hash}
	if err := writeHead(l.path+HeadSuffix, next); err != nil {
		return Entry{}, err
	}
	l.head = next
	return e, nil
}

// Close closes the log file.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("close audit log %s: %w", l.path, err)
	}
	return nil
}

// encode returns the line of e (ending in a newline) and its hash. The hash
// is the SHA-256 of the line's JSON without its hash field, which is added
// as the last field, so that a verifier hashes exactly the bytes written.
func encode(e Entry) ([]byte, string, error) {
	body, err := json.Marshal(e)
	if err != nil {
		return nil, "", fmt.Errorf("encode audit entry %d: %w", e.Seq, err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	line := make([]byte, 0, len(body)+len(hash)+12)
	line = append(line, body[:len(body)-1]...)
	line = append(line, `,"hash":"`...)
	line = append(line, hash...)
	line = append(line, "\"}\n"...)
	return line, hash, nil
}

// writeHead replaces the head file atomically: a reader sees the old head
// or the new one, never a mix.
func writeHead(path string, h Head) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode audit head: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write audit head %s: %w", tmp, err)
	}
	_, werr := f.Write(append(data, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write audit head %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace audit head %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
