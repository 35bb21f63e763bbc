// Command dump takes a logical database dump together with the checksums
// that restore probes compare a restore against, and optionally writes the
// manifest record that puts the dump in Restorable's catalog.
//
//	dump postgres --dsn-env SOURCE_DSN --out /backups/orders.dump --manifest /var/lib/ci/manifests/orders.ndjson --dataset orders --env prod
//
// The dump and its checksums come from one snapshot of the source, so a
// later postgres-logical or mysql-logical probe can tell a faithful restore
// from a damaged one. Connection strings are read from a file or an
// environment variable, never from the command line, where other users of
// the machine could read them.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"

	"github.com/restorable/restorable/internal/probe"
	"github.com/restorable/restorable/internal/secret"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type options struct {
	engine   string
	dsnEnv   string
	dsnFile  string
	out      string
	jobs     int
	binDir   string
	manifest string
	env      string
	dataset  string
	release  string
	id       string
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	app := kingpin.New("dump", "Take a logical dump with the checksums Restorable's restore probes verify, and record it in a manifest.")
	app.UsageWriter(stderr)
	app.ErrorWriter(stderr)
	app.Version(version.Print("restorable_dump"))
	app.HelpFlag.Short('h')
	o := &options{}
	for _, engine := range []string{"postgres", "mysql"} {
		c := app.Command(engine, "Dump a "+engine+" database ("+map[string]string{"postgres": "pg_dump --format=custom", "mysql": "mysqldump --single-transaction"}[engine]+").")
		c.Flag("dsn-env", "Environment variable holding the source's connection string.").PlaceHolder("NAME").StringVar(&o.dsnEnv)
		c.Flag("dsn-file", "File holding the source's connection string.").PlaceHolder("PATH").StringVar(&o.dsnFile)
		c.Flag("out", "Dump file to write; the checksums go next to it (<out>.checksums.json).").Required().StringVar(&o.out)
		c.Flag("jobs", "Connections computing checksums while the dump runs.").Default("2").IntVar(&o.jobs)
		c.Flag("bin-dir", "Directory of pg_dump or mysqldump (default: PATH).").StringVar(&o.binDir)
		c.Flag("manifest", "Append a manifest record for the dump to this .ndjson file (see docs/manifest.md).").PlaceHolder("FILE").StringVar(&o.manifest)
		c.Flag("env", "Environment of the manifest record.").StringVar(&o.env)
		c.Flag("dataset", "Dataset of the manifest record (default: the database name).").StringVar(&o.dataset)
		c.Flag("release", "Release label of the manifest record.").StringVar(&o.release)
		c.Flag("id", "Backup id of the manifest record (default: dataset and start time).").StringVar(&o.id)
	}
	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "dump: %v (see dump --help)\n", err)
		return 2
	}
	o.engine = cmd
	if err := dump(ctx, o, stdout); err != nil {
		fmt.Fprintf(stderr, "dump %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func (o *options) dsn() (string, error) {
	return secret.FromFlags(o.dsnFile, o.dsnEnv, "the source's connection string")
}

func dump(ctx context.Context, o *options, stdout io.Writer) error {
	dsn, err := o.dsn()
	if err != nil {
		return err
	}
	if _, err := os.Stat(o.out); err == nil {
		return fmt.Errorf("%s exists: a dump never overwrites a file", o.out)
	}
	start := time.Now().UTC()
	var sums *probe.Checksums
	switch o.engine {
	case "postgres":
		sums, err = probe.DumpPostgres(ctx, dsn, o.out, probe.PostgresDumpOptions{BinDir: o.binDir, Jobs: o.jobs})
	case "mysql":
		sums, err = probe.DumpMySQL(ctx, dsn, o.out, probe.MySQLDumpOptions{BinDir: o.binDir, Jobs: o.jobs})
	}
	if err != nil {
		return err
	}
	end := time.Now().UTC()
	size, digest, err := fileDigest(o.out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, sha256:%s; checksums of %d tables in %s\n", o.out, size, digest, len(sums.Tables), probe.ChecksumsPath(o.out))
	if o.manifest == "" {
		return nil
	}
	dataset := o.dataset
	if dataset == "" {
		dataset = sums.Database
	}
	id := o.id
	if id == "" {
		id = dataset + "-" + start.Format("20060102T150405Z")
	}
	abs, err := filepath.Abs(o.out)
	if err != nil {
		return err
	}
	rec := map[string]any{
		"dataset": dataset, "id": id, "type": "logical",
		"start": start.Format(time.RFC3339), "end": end.Format(time.RFC3339),
		"stored_bytes": size, "location": abs, "checksum": "sha256:" + digest,
		"agent": "restorable-dump", "agent_version": version.Version,
	}
	if o.env != "" {
		rec["env"] = o.env
	}
	if o.release != "" {
		rec["release"] = o.release
	}
	if version.Version == "" {
		delete(rec, "agent_version")
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return appendLine(o.manifest, line)
}

func fileDigest(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close() //nolint:errcheck // read-only
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", fmt.Errorf("checksum %s: %w", path, err)
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// appendLine adds one NDJSON line with a single write, so that the
// manifest collector never reads half a record.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open manifest: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		_ = f.Close()
		return fmt.Errorf("write manifest: %w", err)
	}
	return f.Close()
}
