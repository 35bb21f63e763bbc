package pgbackrest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/testutil"
)

// pgUser is the account PostgreSQL and pgBackRest run as: initdb refuses
// root, and pgBackRest must own its repository like the server owns its
// data directory.
const pgUser = "postgres"

// pgCluster is a throwaway PostgreSQL cluster that archives its WAL into a
// pgBackRest repository, everything inside one temporary directory owned by
// pgUser. It is stopped and removed when the test ends.
type pgCluster struct {
	Dir    string // root of everything below, owned by pgUser
	Data   string // PGDATA
	Repo   string // repo1-path
	Config string // absolute path of pgbackrest.conf
	Stanza string
	Port   int
	// Socket is the unix socket directory (the server listens on no TCP
	// address, so parallel tests cannot collide).
	Socket string

	bin        string // PostgreSQL binaries
	pgbackrest string
}

// startPGCluster creates, configures and starts a cluster with a stanza of
// the given name (not yet created in the repository). It skips, or fails
// where integration tests are required, when the machine cannot run it.
func startPGCluster(t *testing.T, stanza string) *pgCluster {
	t.Helper()
	if os.Geteuid() != 0 {
		testutil.Unavailable(t, "running PostgreSQL as "+pgUser+" needs root")
	}
	testutil.Program(t, "runuser")
	pgbackrest := testutil.Program(t, "pgbackrest")
	u, err := user.Lookup(pgUser)
	if err != nil {
		testutil.Unavailable(t, "no "+pgUser+" user")
	}
	bin := postgresBinDir(t)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// t.TempDir is private to root; PostgreSQL needs a directory of its
	// own user, with a short path for the unix socket.
	dir, err := os.MkdirTemp("", "restorable-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{
		Dir: dir, Data: filepath.Join(dir, "data"), Repo: filepath.Join(dir, "repo"),
		Config: filepath.Join(dir, "pgbackrest.conf"), Stanza: stanza,
		Port: testutil.FreePort(t), Socket: dir, bin: bin, pgbackrest: pgbackrest,
	}
	conf := fmt.Sprintf(`[global]
repo1-path=%[1]s/repo
repo1-retention-full=10
log-path=%[1]s/log
lock-path=%[1]s/lock
spool-path=%[1]s/spool
log-level-console=warn
log-level-file=off
start-fast=y
compress-type=none
archive-timeout=30

[%[2]s]
pg1-path=%[3]s
pg1-port=%[4]d
pg1-socket-path=%[1]s
pg1-user=%[5]s
`, dir, stanza, c.Data, c.Port, pgUser)
	if err := os.WriteFile(c.Config, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}

	c.run(t, filepath.Join(bin, "initdb"), "--no-sync", "--auth=trust", "--username="+pgUser, "--pgdata="+c.Data)
	settings := fmt.Sprintf(`
port = %d
listen_addresses = ''
unix_socket_directories = '%s'
wal_level = replica
archive_mode = on
archive_command = '%s --config=%s --stanza=%s archive-push %%p'
fsync = off
`, c.Port, dir, pgbackrest, c.Config, stanza)
	f, err := os.OpenFile(filepath.Join(c.Data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(settings); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	pgCtl := filepath.Join(bin, "pg_ctl")
	c.run(t, pgCtl, "start", "--wait", "--timeout=30", "--pgdata="+c.Data, "--log="+filepath.Join(dir, "postgres.log"))
	t.Cleanup(func() {
		// Immediate: the test is over, and a fast shutdown would wait
		// for the archiver.
		cmd := exec.Command("runuser", "-u", pgUser, "--", pgCtl, "stop", "--mode=immediate", "--wait", "--pgdata="+c.Data)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("stop PostgreSQL: %v: %s", err, out)
		}
	})
	return c
}

// postgresBinDir finds the PostgreSQL server programs: the directory initdb
// resolves to (Debian links it into /usr/local/bin on these machines), or
// the newest /usr/lib/postgresql/N/bin.
func postgresBinDir(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(real)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(dirs) == 0 {
		testutil.Unavailable(t, "PostgreSQL server programs (initdb) are not installed")
	}
	return filepath.Dir(dirs[len(dirs)-1])
}

// run runs a program as pgUser and fails the test with its output when it
// fails.
func (c *pgCluster) run(t *testing.T, prog string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runuser", append([]string{"-u", pgUser, "--", prog}, args...)...)
	cmd.Dir = c.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(prog), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// PgBackRest runs a pgbackrest command on the cluster's stanza.
func (c *pgCluster) PgBackRest(t *testing.T, args ...string) string {
	t.Helper()
	return c.run(t, c.pgbackrest, append([]string{"--config=" + c.Config, "--stanza=" + c.Stanza}, args...)...)
}

// SQL runs statements through psql on the cluster's socket.
func (c *pgCluster) SQL(t *testing.T, sql string) string {
	t.Helper()
	return c.run(t, filepath.Join(c.bin, "psql"), "--no-psqlrc", "--quiet", "--tuples-only", "--no-align",
		"--set=ON_ERROR_STOP=1", "--host="+c.Socket, "--port="+strconv.Itoa(c.Port), "--username="+pgUser,
		"--dbname=postgres", "--command="+sql)
}
