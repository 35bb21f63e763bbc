// Package runx runs the external programs that collectors and probes read
// (restic, pgbackrest, pg_restore, ...) with a deadline, and classifies
// what went wrong so that self-metrics can say why a source failed.
package runx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	KindOther    Kind = "other"
)

// Kinds lists every failure kind, for metrics that must expose each once.
var Kinds = []Kind{KindNotFound, KindTimeout, KindExit, KindParse, KindIO, KindConfig, KindCanceled, KindOther}

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
}

// Result is what a finished run produced.
type Result struct {
	Stdout []byte
	Stderr []byte
	// ReadBytes is what the program read through read(2)-like calls
	// (rchar of /proc/PID/io), measured just before it was reaped. It is 0
	// where the kernel does not report it.
	ReadBytes int64
	Duration  time.Duration
}

// WaitDelay is how long a killed program's pipes may stay open.
const WaitDelay = 2 * time.Second

// Run runs c until it exits or ctx is done. On ctx's deadline the whole
// process group is killed. Errors name the program and carry the tail of
// its standard error.
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
	cmd := exec.Command(resolved, args...)
	cmd.Dir = c.Dir
	cmd.Env = append(baseEnv(), c.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
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
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			// Kill the group: restic and pgbackrest start helpers of
			// their own (ssh, rclone, archive workers).
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		case <-done:
		}
	}()
	readBytes := waitReadBytes(cmd.Process.Pid)
	werr := cmd.Wait()
	close(done)
	Count(ctx, operation(c), readBytes)
	res := &Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ReadBytes: readBytes, Duration: time.Since(start)}
	if ctx.Err() != nil {
		return res, &Error{Kind: KindTimeout, Err: fmt.Errorf("%s %s: killed after %s: %w", c.Path, firstArg(c.Args), res.Duration.Round(time.Millisecond), ctx.Err())}
	}
	if werr != nil {
		tail := c.StderrTail
		if tail <= 0 {
			tail = 512
		}
		return res, &Error{Kind: KindExit, Err: fmt.Errorf("%s %s: %v: %s", c.Path, firstArg(c.Args), werr, Tail(stderr.String(), tail))}
	}
	return res, nil
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
