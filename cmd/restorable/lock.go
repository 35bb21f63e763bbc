package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restorable/restorable/internal/lockwatch"
	"github.com/restorable/restorable/internal/secret"
)

// Exit codes of restorable lock, besides the child's own. They follow
// sysexits.h, so they rarely collide with what a dump or migration tool
// returns.
const (
	// exitUsage: bad flags or arguments.
	exitUsage = 64
	// exitUnavailable: the coordination database could not be reached or
	// answered an error before the child started, or the connection holding
	// the lock died while the child ran (the child was sent SIGTERM).
	exitUnavailable = 69
	// exitBusy: the lock was not granted within --wait.
	exitBusy = 75
	// exitNoStart: the command could not be started (not found, not
	// executable), as shells answer.
	exitNoStart = 127
)

// lockOptions are the flags of restorable lock.
type lockOptions struct {
	key            string
	purpose        string
	dsnFile        string
	dsnEnv         string
	wait           time.Duration
	connectTimeout time.Duration
	keepalive      time.Duration
	command        []string
}

func (o *lockOptions) register(app *kingpin.Application) {
	c := app.Command("lock", "Run a command while holding the backup/migration advisory lock of a key on a coordination database (see docs/lock.md). Exits with the command's status; 75 when the lock was not granted within --wait, 69 when the coordination database failed, 64 on bad usage, 127 when the command cannot start.")
	c.Flag("key", "Name of the lock, usually the database the backups and migrations touch (the advisory lock key is the first 8 bytes of its SHA-256, big-endian).").Required().StringVar(&o.key)
	c.Flag("purpose", "What the command does: backup or migration; the exporter and the deploy gate report it.").Required().EnumVar(&o.purpose, lockwatch.Purposes...)
	c.Flag("dsn-file", "File holding the coordination database's connection string.").PlaceHolder("PATH").StringVar(&o.dsnFile)
	c.Flag("dsn-env", "Environment variable holding the coordination database's connection string.").PlaceHolder("NAME").StringVar(&o.dsnEnv)
	c.Flag("wait", "Longest time to wait for the lock; 0s tries once without waiting.").Default("10m").DurationVar(&o.wait)
	c.Flag("connect-timeout", "Longest time to connect to the coordination database.").Default("10s").DurationVar(&o.connectTimeout)
	c.Flag("keepalive", "TCP keepalive idle time and probe interval of the connection holding the lock; three unanswered probes count as a lost lock.").Default("10s").DurationVar(&o.keepalive)
	c.Arg("command", "The command to run, after --.").Required().StringsVar(&o.command)
}

func (o *lockOptions) dsn() (string, error) {
	return secret.FromFlags(o.dsnFile, o.dsnEnv, "the coordination database's connection string")
}

func fprintf(w io.Writer, format string, args ...any) {
	_, _ = fmt.Fprintf(w, format, args...)
}

// runLock takes the lock, runs the command, forwards the signals that
// arrive on sigs to it and releases the lock when it ends.
func runLock(o *lockOptions, stderr io.Writer, sigs <-chan os.Signal) int {
	logf := func(format string, args ...any) {
		fprintf(stderr, "restorable lock: "+format+"\n", args...)
	}
	if strings.TrimSpace(o.key) == "" {
		logf("--key must not be empty")
		return exitUsage
	}
	if o.wait < 0 || o.connectTimeout <= 0 || o.keepalive <= 0 {
		logf("--wait must be at least 0s, --connect-timeout and --keepalive greater than 0s")
		return exitUsage
	}
	dsn, err := o.dsn()
	if err != nil {
		logf("%v", err)
		return exitUsage
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message quotes the connection string: say only where
		// it came from.
		logf("the connection string from %s does not parse", o.dsnSource())
		return exitUsage
	}
	key := lockwatch.Key(o.key)
	cfg.RuntimeParams["application_name"] = lockwatch.WaitingName(o.purpose, o.key)
	// The role's own timeouts must not cut the wait short or end the idle
	// session holding the lock; --wait bounds the wait on the server.
	cfg.RuntimeParams["statement_timeout"] = "0"
	if o.wait > 0 {
		cfg.RuntimeParams["lock_timeout"] = strconv.FormatInt(o.wait.Milliseconds(), 10)
	}
	cfg.ConnectTimeout = o.connectTimeout
	dialer := &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: o.keepalive, Interval: o.keepalive, Count: 3}}
	cfg.DialFunc = dialer.DialContext

	// A signal before the command starts abandons the wait.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var early os.Signal
	stopEarly := make(chan struct{})
	earlyDone := make(chan struct{})
	go func() {
		defer close(earlyDone)
		select {
		case s := <-sigs:
			early = s
			cancel()
		case <-stopEarly:
		}
	}()
	conn, code := acquire(ctx, cfg, o, key, logf)
	close(stopEarly)
	<-earlyDone
	if early != nil {
		if conn != nil {
			closeConn(conn)
		}
		logf("%s before the command started: not running it", early)
		return 128 + signalNumber(early)
	}
	if conn == nil {
		return code
	}
	return hold(conn, o, key, sigs, logf)
}

func (o *lockOptions) dsnSource() string {
	if o.dsnEnv != "" {
		return "$" + o.dsnEnv
	}
	return o.dsnFile
}

// acquire connects and waits for the lock; it returns the connection
// holding it, or nil and the exit code.
func acquire(ctx context.Context, cfg *pgx.ConnConfig, o *lockOptions, key int64, logf func(string, ...any)) (*pgx.Conn, int) {
	cctx, ccancel := context.WithTimeout(ctx, o.connectTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	ccancel()
	if err != nil {
		if ctx.Err() == nil {
			// ConnectError names user, database and host, never the password.
			logf("connect to the coordination database: %v", err)
		}
		return nil, exitUnavailable
	}
	// idle_session_timeout (PostgreSQL 14 and later) would end the idle
	// session holding the lock.
	if serverMajor(conn.PgConn().ParameterStatus("server_version")) >= 14 {
		qctx, qcancel := context.WithTimeout(ctx, o.connectTimeout)
		_, err := conn.Exec(qctx, "SET idle_session_timeout = 0")
		qcancel()
		if err != nil && ctx.Err() == nil {
			logf("turn idle_session_timeout off: %v", err)
			closeConn(conn)
			return nil, exitUnavailable
		}
	}
	var got bool
	if o.wait == 0 {
		qctx, qcancel := context.WithTimeout(ctx, o.connectTimeout)
		err = conn.QueryRow(qctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&got)
		qcancel()
	} else {
		// lock_timeout ends the wait on the server; the deadline here only
		// guards against a server that never answers.
		qctx, qcancel := context.WithTimeout(ctx, o.wait+o.connectTimeout)
		_, err = conn.Exec(qctx, "SELECT pg_advisory_lock($1)", key)
		qcancel()
		got = err == nil
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
			err = nil
		}
	}
	if err != nil {
		closeConn(conn)
		if ctx.Err() != nil {
			return nil, exitUnavailable
		}
		logf("take the lock %q: %v", o.key, err)
		return nil, exitUnavailable
	}
	if !got {
		closeConn(conn)
		logf("lock %q (key %d) is held by another session: not granted within %s", o.key, key, o.wait)
		return nil, exitBusy
	}
	// Mark the session as the holder; this is the last query until the
	// command ends, so query_start tells the watcher when the lock was
	// granted.
	qctx, qcancel := context.WithTimeout(ctx, o.connectTimeout)
	_, err = conn.Exec(qctx, "SELECT set_config('application_name', $1, false)", lockwatch.ApplicationName(o.purpose, o.key))
	qcancel()
	if err != nil {
		closeConn(conn)
		if ctx.Err() == nil {
			logf("name the session holding the lock: %v", err)
		}
		return nil, exitUnavailable
	}
	return conn, 0
}

// hold runs the command while the connection holds the lock.
func hold(conn *pgx.Conn, o *lockOptions, key int64, sigs <-chan os.Signal, logf func(string, ...any)) int {
	cmd := exec.Command(o.command[0], o.command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = childAttr()
	if err := startChild(cmd); err != nil {
		logf("start %s: %v", o.command[0], err)
		release(conn, key, o, logf)
		return exitNoStart
	}
	logf("lock %q held for %s (key %d); running %s (pid %d)", o.key, o.purpose, key, o.command[0], cmd.Process.Pid)

	// The connection is watched by reading it: the server closing the
	// session (terminated, restarted) or the keepalive giving up ends the
	// read with an error, and the lock is gone.
	wctx, wcancel := context.WithCancel(context.Background())
	lost := make(chan error, 1)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			err := conn.PgConn().WaitForNotification(wctx)
			if wctx.Err() != nil {
				return
			}
			if err != nil {
				lost <- err
				return
			}
		}
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var lockLost bool
	var waitErr error
loop:
	for {
		select {
		case s := <-sigs:
			logf("forwarding %s to pid %d", s, cmd.Process.Pid)
			_ = cmd.Process.Signal(s)
		case err := <-lost:
			lockLost = true
			logf("the connection holding lock %q failed (%v): the lock is gone; sending SIGTERM to pid %d", o.key, err, cmd.Process.Pid)
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case waitErr = <-exited:
			break loop
		}
	}
	wcancel()
	<-watchDone
	code := exitCode(cmd.ProcessState, waitErr)
	if lockLost {
		logf("%s ended (status %d) without the lock", o.command[0], code)
		closeConn(conn)
		return exitUnavailable
	}
	release(conn, key, o, logf)
	return code
}

// release unlocks and closes the session; closing alone would release the
// lock too, so a failed unlock is only reported.
func release(conn *pgx.Conn, key int64, o *lockOptions, logf func(string, ...any)) {
	ctx, cancel := context.WithTimeout(context.Background(), o.connectTimeout)
	defer cancel()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
		logf("unlock %q: %v (closing the session releases it)", o.key, err)
	}
	closeConn(conn)
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// exitCode is the status a shell would report for the command: its exit
// status, or 128 plus the signal that killed it.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return exitNoStart
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func signalNumber(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return int(n)
	}
	return 1
}

// serverMajor is the major version in a server_version such as
// "15.20 (Debian 15.20-0+deb12u1)"; 0 when it does not start with one.
func serverMajor(v string) int {
	end := strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(v)
	}
	n, _ := strconv.Atoi(v[:end])
	return n
}
