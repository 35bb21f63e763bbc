// Package pgcluster starts throwaway PostgreSQL clusters for tests,
// optionally with pgBackRest configured (a stanza, WAL archiving, a local
// repository), so that tests of collectors and probes run against the real
// programs.
//
// A cluster lives in a temporary directory of its own, listens on a free
// loopback port and on a Unix socket inside that directory, trusts local
// connections, and is stopped and removed when the test ends. When the test
// runs as root (CI), the cluster runs as the "postgres" OS user, because
// initdb and pgBackRest refuse root.
package pgcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/runx"
	"github.com/restorable/restorable/internal/testutil"
)

// DefaultBinDir is where Debian and Ubuntu install the PostgreSQL 15 server
// programs.
const DefaultBinDir = "/usr/lib/postgresql/15/bin"

// Options configure a cluster.
type Options struct {
	// BinDir holds initdb, pg_ctl and postgres (default DefaultBinDir, or
	// the directory of initdb on PATH).
	BinDir string
	// User is the OS user the cluster runs as when the test runs as root
	// (default "postgres"); a test that is not root runs it as itself.
	User string
	// PgBackRest configures pgBackRest: a repository in the cluster's
	// directory, a stanza, archive_command and stanza-create.
	PgBackRest bool
	// Stanza names the pgBackRest stanza (default "main").
	Stanza string
	// Settings are added to postgresql.conf.
	Settings map[string]string
}

// Cluster is a running throwaway cluster.
type Cluster struct {
	// Dir holds everything below: data, socket, logs and the repository.
	Dir       string
	DataDir   string
	SocketDir string
	Port      int
	// User is the OS user running the server; empty when it is the test's
	// own user.
	User   string
	BinDir string

	// PgBackRest configuration, set when Options.PgBackRest is true.
	ConfigPath string
	RepoPath   string
	Stanza     string

	uid, gid int
	stopped  bool
}

// Start creates, configures and starts a cluster, and stops and removes it
// when the test ends. Missing programs make the test skip (fail in CI, see
// testutil.Unavailable).
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	c := &Cluster{BinDir: o.BinDir, Stanza: o.Stanza, uid: -1, gid: -1}
	if c.BinDir == "" {
		c.BinDir = DefaultBinDir
		if _, err := os.Stat(filepath.Join(c.BinDir, "initdb")); err != nil {
			c.BinDir = filepath.Dir(testutil.Program(t, "initdb"))
		}
	}
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(c.BinDir, p)); err != nil {
			testutil.Unavailable(t, fmt.Sprintf("PostgreSQL server program %s is not in %s", p, c.BinDir))
		}
	}
	if o.PgBackRest {
		testutil.Program(t, "pgbackrest")
	}
	if os.Geteuid() == 0 {
		c.User = o.User
		if c.User == "" {
			c.User = "postgres"
		}
		u, err := user.Lookup(c.User)
		if err != nil {
			testutil.Unavailable(t, fmt.Sprintf("OS user %s to run PostgreSQL as: %v", c.User, err))
		}
		c.uid, _ = strconv.Atoi(u.Uid)
		c.gid, _ = strconv.Atoi(u.Gid)
	}
	// Not t.TempDir: its parents are private to the test's user, and the
	// server's user must reach its directory.
	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		t.Fatalf("create cluster directory: %v", err)
	}
	c.Dir = dir
	t.Cleanup(func() {
		c.Stop(t)
		_ = os.RemoveAll(dir)
	})
	c.DataDir = filepath.Join(dir, "data")
	c.SocketDir = filepath.Join(dir, "socket")
	for _, d := range []string{c.SocketDir, filepath.Join(dir, "log")} {
		c.mkdir(t, d)
	}
	c.chown(t, dir)
	c.Port = testutil.FreePort(t)

	c.run(t, filepath.Join(c.BinDir, "initdb"), "--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "-D", c.DataDir)
	settings := map[string]string{
		"port":                    strconv.Itoa(c.Port),
		"listen_addresses":        "'127.0.0.1'",
		"unix_socket_directories": quote(c.SocketDir),
		"fsync":                   "off",
		"synchronous_commit":      "off",
		"full_page_writes":        "off",
		"max_connections":         "30",
		"shared_buffers":          "32MB",
	}
	if o.PgBackRest {
		if c.Stanza == "" {
			c.Stanza = "main"
		}
		c.RepoPath = filepath.Join(dir, "repo")
		c.ConfigPath = filepath.Join(dir, "pgbackrest.conf")
		for _, d := range []string{c.RepoPath, filepath.Join(dir, "lock"), filepath.Join(dir, "spool")} {
			c.mkdir(t, d)
		}
		conf := fmt.Sprintf(`[global]
repo1-path=%s
repo1-retention-full=4
log-path=%s
lock-path=%s
spool-path=%s
log-level-console=warn
log-level-file=off
start-fast=y
compress-type=gz
compress-level=1

[%s]
pg1-path=%s
pg1-port=%d
pg1-socket-path=%s
pg1-user=postgres
`, c.RepoPath, filepath.Join(dir, "log"), filepath.Join(dir, "lock"), filepath.Join(dir, "spool"), c.Stanza, c.DataDir, c.Port, c.SocketDir)
		if err := os.WriteFile(c.ConfigPath, []byte(conf), 0o644); err != nil {
			t.Fatalf("write pgbackrest.conf: %v", err)
		}
		c.chown(t, c.ConfigPath)
		settings["archive_mode"] = "on"
		settings["archive_command"] = quote(fmt.Sprintf("pgbackrest --config=%s --stanza=%s archive-push %%p", c.ConfigPath, c.Stanza))
		settings["wal_level"] = "replica"
		settings["max_wal_senders"] = "3"
	}
	for k, v := range o.Settings {
		settings[k] = v
	}
	c.appendConf(t, settings)
	c.run(t, filepath.Join(c.BinDir, "pg_ctl"), "-D", c.DataDir, "-l", filepath.Join(dir, "log", "postgres.log"), "-w", "-t", "60", "start")
	if o.PgBackRest {
		c.PgBackRest(t, "stanza-create")
		c.PgBackRest(t, "check")
	}
	return c
}

// DSN returns a keyword/value connection string to db over TCP as the
// postgres superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=%s sslmode=disable", c.Port, db)
}

// PgBackRest runs pgbackrest with the cluster's configuration and stanza
// and returns its standard output.
func (c *Cluster) PgBackRest(t testing.TB, args ...string) []byte {
	t.Helper()
	if c.ConfigPath == "" {
		t.Fatal("pgcluster: the cluster was started without PgBackRest")
	}
	return c.run(t, "pgbackrest", append([]string{"--config=" + c.ConfigPath, "--stanza=" + c.Stanza}, args...)...)
}

// Backup takes a pgBackRest backup of the given type (full, diff, incr);
// args are added to the command (for example "--annotation=release=v1.4").
func (c *Cluster) Backup(t testing.TB, typ string, args ...string) {
	t.Helper()
	c.PgBackRest(t, append([]string{"backup", "--type=" + typ}, args...)...)
}

// SQL runs statements with psql over the socket as the postgres superuser
// and returns the output (unaligned, tuples only).
func (c *Cluster) SQL(t testing.TB, db, sql string) string {
	t.Helper()
	out := c.run(t, "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", c.SocketDir, "-p", strconv.Itoa(c.Port), "-U", "postgres", "-d", db, "-c", sql)
	return strings.TrimSpace(string(out))
}

// Stop stops the server (immediate mode: the data is thrown away anyway).
// It is called automatically when the test ends.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if c.stopped || c.DataDir == "" {
		return
	}
	c.stopped = true
	if _, err := os.Stat(filepath.Join(c.DataDir, "postmaster.pid")); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := runx.Run(ctx, runx.Cmd{Path: filepath.Join(c.BinDir, "pg_ctl"), Args: []string{"-D", c.DataDir, "-m", "immediate", "-w", "stop"}, RunAs: c.User}); err != nil {
		t.Logf("pgcluster: stop: %v", err)
	}
}

// run runs a program as the cluster's user.
func (c *Cluster) run(t testing.TB, prog string, args ...string) []byte {
	t.Helper()
	if !strings.Contains(prog, "/") {
		if _, err := exec.LookPath(prog); err != nil {
			testutil.Unavailable(t, prog+" is not installed")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := runx.Run(ctx, runx.Cmd{Path: prog, Args: args, RunAs: c.User, Dir: c.Dir, StderrTail: 4096})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log", "postgres.log"))
		t.Fatalf("pgcluster: %s %s: %v\nserver log:\n%s", filepath.Base(prog), strings.Join(args, " "), err, runx.Tail(string(log), 4096))
	}
	return res.Stdout
}

func (c *Cluster) mkdir(t testing.TB, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	c.chown(t, d)
}

func (c *Cluster) chown(t testing.TB, path string) {
	t.Helper()
	if c.uid < 0 {
		return
	}
	if err := os.Chown(path, c.uid, c.gid); err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
}

func (c *Cluster) appendConf(t testing.TB, settings map[string]string) {
	t.Helper()
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("\n# pgcluster\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s = %s\n", k, settings[k])
	}
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
}

// quote writes a postgresql.conf string value.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
