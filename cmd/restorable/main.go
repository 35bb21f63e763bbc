// Command restorable holds Restorable's small helpers for pipelines and
// jobs. Its one subcommand, lock, runs a backup or a schema migration
// while holding a PostgreSQL advisory lock on a coordination database, so
// that backups and migrations of the same data never overlap:
//
//	restorable lock --key payments-db --purpose backup --dsn-env COORD_DSN --wait 10m -- pg_dump ...
//
// See docs/lock.md for the lock's semantics and exit codes.
package main

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwarded...)
	os.Exit(run(os.Args[1:], os.Stderr, sigs))
}

// forwarded are the signals the lock command passes on to its child.
var forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

func run(args []string, stderr io.Writer, sigs <-chan os.Signal) int {
	app := kingpin.New("restorable", "Helpers for pipelines and jobs that back up and migrate databases watched by Restorable.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print("restorable"))
	app.HelpFlag.Short('h')
	lo := &lockOptions{}
	lo.register(app)
	cmd, err := app.Parse(args)
	if err != nil {
		fprintf(stderr, "restorable: %v (see restorable --help)\n", err)
		return exitUsage
	}
	switch cmd {
	case "lock":
		return runLock(lo, stderr, sigs)
	}
	return exitUsage
}
