// Package runx runs the external programs that collectors and probes read
// (restic, pgbackrest, pg_restore, ...) with a deadline, and classifies
// what went wrong so that self-metrics can say why a source failed.
package runx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Kind says why a collection or a probe failed. It is a bounded label
// value of the exporter's self-metrics.
type Kind string

// The kinds of failure.
const (
	KindNone     Kind = ""
	KindNotFound Kind = "not_found" // the program does not exist
	KindTimeout  Kind = "timeout"   // the deadline passed
	KindExit     Kind = "exit"      // the program exited non-zero
	KindParse    Kind = "parse"     // the output could not be understood
	KindIO       Kind = "io"        // reading files or the network failed
	KindConfig   Kind = "config"    // the source's settings do not work
	KindCanceled Kind = "canceled"  // the exporter stopped or reloaded
	KindLimit    Kind = "limit"     // output or a file exceeded a size limit
	KindOther    Kind = "other"
)

// Kinds lists every failure kind, for metrics that must expose each once.
var Kinds = []Kind{KindNotFound, KindTimeout, KindExit, KindParse, KindIO, KindConfig, KindCanceled, KindLimit, KindOther}

// Error is a failure with its kind.
type Error struct {
	Kind Kind
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an error of the given kind.
func Errorf(k Kind, format string, args ...any) error {
	return &Error{Kind: k, Err: fmt.Errorf(format, args...)}
}

// ParseError marks err as a failure to understand a program's output or a
// file's contents.
func ParseError(err error) error {
	if err == nil {
		return nil
	}
	return &Error{Kind: KindParse, Err: err}
}

// KindOf classifies err. Context errors are recognised anywhere in the chain.
func KindOf(err error) Kind {
	if err == nil {
		return KindNone
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return KindTimeout
	}
	if errors.Is(err, context.Canceled) {
		return KindCanceled
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		if errors.Is(err, exec.ErrNotFound) {
			return KindNotFound
		}
		return KindIO
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return KindIO
	}
	return KindOther
}

// Cmd describes one program run.
type Cmd struct {
	Path string
	Args []string
	// Env is added to a minimal environment (PATH, HOME, LANG); the
	// exporter's own environment is not passed on, so secrets meant for
	// one program do not leak into another.
	Env []string
	Dir string
	// Stdin is fed to the program when not nil.
	Stdin []byte
	// StdinPath names a file fed to the program instead, for input too
	// large to hold in memory (a database dump).
	StdinPath string
	// RunAs runs the program as another user through runuser(1).
	RunAs string
	// StderrTail bounds how much of stderr is kept for error messages.
	StderrTail int
	// MaxStdout bounds the standard output kept in Result.Stdout (default
	// DefaultMaxStdout). A program that writes more is killed and Run
	// returns an error of KindLimit naming the limit, so that a runaway
	// program cannot drive the exporter out of memory.
	MaxStdout int64
	// Stdout, when not nil, receives the standard output as it is written
	// instead of Result.Stdout, unbounded: for output the caller streams
	// (hashes, copies to a file) rather than holds.
	Stdout io.Writer
}

// Result is what a finished run produced.
type Result struct {
	Stdout []byte
	// Stderr is the program's standard error, at most its first and last
	// StderrKeep bytes with a marker saying how much was left out between.
	Stderr []byte
	// ReadBytes is what the program read through read(2)-like calls
	// (rchar of /proc/PID/io), measured just before it was reaped. It is 0
	// where the kernel does not report it.
	ReadBytes int64
	Duration  time.Duration
}

const (
	// WaitDelay is how long a program's pipes may stay open once it has
	// exited or been killed. A helper that left the process group (through
	// setsid) and still holds the pipes cannot keep Run waiting longer.
	WaitDelay = 2 * time.Second
	// reapDelay is how long Run waits, after the context is done, for a
	// killed program to be reaped before it returns anyway: a process
	// stuck in the kernel (a hung NFS read) cannot be killed at once.
	reapDelay = WaitDelay + 3*time.Second
	// DefaultMaxStdout bounds a program's kept standard output when
	// Cmd.MaxStdout is not set. The catalogs read this way (restic
	// snapshots, pgbackrest info) are a few megabytes even for large
	// estates.
	DefaultMaxStdout = 256 << 20
	// StderrKeep is how much of the start and of the end of a program's
	// standard error is kept: the start says what went wrong first, the end
	// why the program gave up.
	StderrKeep = 32 << 10
)

// Run runs c until it exits or ctx is done. On ctx's deadline the whole
// process group is killed, and so is every other descendant of the program
// that is still running (a helper that started a session of its own).
// Run returns at most a few seconds (reapDelay) after ctx is done, even
// when a descendant keeps the output pipes open or the program cannot be
// reaped. Errors name the program and carry the tail of its standard
// error.
func Run(ctx context.Context, c Cmd) (*Result, error) {
	path, args := c.Path, c.Args
	if c.RunAs != "" {
		args = append([]string{"-u", c.RunAs, "--", path}, args...)
		path = "runuser"
	}
	resolved, err := exec.LookPath(path)
	if err != nil {
		return nil, &Error{Kind: KindNotFound, Err: fmt.Errorf("%s: program not found (install it or set its path in the config)", path)}
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Kind: KindOf(err), Err: fmt.Errorf("%s %s: not started: %w", c.Path, firstArg(c.Args), err)}
	}
	cmd := exec.Command(resolved, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// WaitDelay starts once Wait sees the program exit: pipes a leftover
	// descendant holds open are closed then, so that Wait returns.
	cmd.WaitDelay = WaitDelay
	limit := c.MaxStdout
	if limit <= 0 {
		limit = DefaultMaxStdout
	}
	stdout := newLimitedBuffer(limit)
	stderr := NewHeadTail(StderrKeep, StderrKeep)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	if c.Stdin != nil {
		cmd.Stdin = bytes.NewReader(c.Stdin)
	}
	if c.StdinPath != "" {
		f, err := os.Open(c.StdinPath)
		if err != nil {
			return nil, &Error{Kind: KindIO, Err: fmt.Errorf("open input of %s: %w", c.Path, err)}
		}
		defer f.Close() //nolint:errcheck // read-only
		cmd.Stdin = f
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, &Error{Kind: KindOther, Err: fmt.Errorf("start %s: %w", c.Path, err)}
	}
	pid := cmd.Process.Pid
	done := make(chan waited, 1)
	go func() {
		rb := waitReadBytes(pid)
		done <- waited{rb, cmd.Wait()}
	}()
	var w waited
	select {
	case w = <-done:
	case <-stdout.full:
		// Excess output ends the program at once rather than after the
		// flood: its pipe is closed already, but a program that ignores
		// SIGPIPE may go on working.
		killTree(pid)
		if w, err = waitKilled(done); err != nil {
			return nil, &Error{Kind: KindLimit, Err: fmt.Errorf("%s %s: standard output exceeds the limit of %s; the program was killed: %w", c.Path, firstArg(c.Args), FormatBytes(limit), err)}
		}
	case <-ctx.Done():
		select {
		case w = <-done:
			// It ended as the deadline passed: it is reaped already,
			// and its pid may belong to another process by now.
		default:
			// Kill the group and every descendant: restic and
			// pgbackrest start helpers of their own (ssh, rclone,
			// archive workers).
			killTree(pid)
			if w, err = waitKilled(done); err != nil {
				Count(ctx, operation(c), 0)
				return nil, &Error{Kind: KindTimeout, Err: fmt.Errorf("%s %s: killed after %s: %w: %w", c.Path, firstArg(c.Args), time.Since(start).Round(time.Millisecond), err, ctx.Err())}
			}
		}
	}
	Count(ctx, operation(c), w.readBytes)
	res := &Result{Stdout: stdout.buf.Bytes(), Stderr: stderr.Bytes(), ReadBytes: w.readBytes, Duration: time.Since(start)}
	if stdout.exceeded() {
		return res, &Error{Kind: KindLimit, Err: fmt.Errorf("%s %s: standard output exceeds the limit of %s; the program was stopped", c.Path, firstArg(c.Args), FormatBytes(limit))}
	}
	if ctx.Err() != nil {
		return res, &Error{Kind: KindTimeout, Err: fmt.Errorf("%s %s: killed after %s: %w", c.Path, firstArg(c.Args), res.Duration.Round(time.Millisecond), ctx.Err())}
	}
	if errors.Is(w.err, exec.ErrWaitDelay) {
		// The program itself succeeded; a helper it left behind held the
		// pipes. What the program wrote is complete.
		return res, nil
	}
	if w.err != nil {
		tail := c.StderrTail
		if tail <= 0 {
			tail = 512
		}
		return res, &Error{Kind: KindExit, Err: fmt.Errorf("%s %s: %v: %s", c.Path, firstArg(c.Args), w.err, Tail(string(res.Stderr), tail))}
	}
	return res, nil
}

// waited is how a program ended.
type waited struct {
	readBytes int64
	err       error
}

// waitKilled waits at most reapDelay for a killed program. When it does not
// exit in time, the goroutine sending on done still reaps it whenever it
// dies; the caller is not kept waiting for it.
func waitKilled(done <-chan waited) (waited, error) {
	t := time.NewTimer(reapDelay)
	defer t.Stop()
	select {
	case w := <-done:
		return w, nil
	case <-t.C:
		return waited{}, fmt.Errorf("not exited %s after SIGKILL (left to be reaped)", reapDelay)
	}
}

// FormatBytes writes n in binary units for messages about limits.
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

func firstArg(args []string) string {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a
		}
	}
	return ""
}

// Tail returns the last n bytes of s, trimmed, for messages.
func Tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}

func baseEnv() []string {
	env := []string{"LANG=C.UTF-8"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
