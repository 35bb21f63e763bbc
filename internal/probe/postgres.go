package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/runx"
)

// postgresOptions are the options of a postgres-logical probe.
type postgresOptions struct {
	// Sandbox is the server the scratch database is created on; its
	// database is only used to connect (CREATE and DROP DATABASE).
	Sandbox dsnRef `yaml:"sandbox"`
	// Database fixes the scratch database's name (it must start with
	// SandboxPrefix); by default each run uses restorable_probe_<run id>.
	Database string `yaml:"database,omitempty"`
	// Dump is a fixed dump file; by default the catalog record's location.
	Dump string `yaml:"dump,omitempty"`
	// DumpFrom dumps this database on the fly, in a snapshot whose
	// checksums are computed while it is dumped.
	DumpFrom *dsnRef `yaml:"dump_from,omitempty"`
	// BaseDir resolves a relative catalog location or dump path.
	BaseDir string `yaml:"base_dir,omitempty"`
	// WorkDir holds on-the-fly dumps (default the system's temp dir).
	WorkDir string `yaml:"work_dir,omitempty"`
	// Jobs is pg_restore's --jobs (default 2).
	Jobs int `yaml:"jobs,omitempty"`
	// ChecksumJobs is the number of tables checksummed at once (default 2).
	ChecksumJobs int `yaml:"checksum_jobs,omitempty"`
	// BinDir holds pg_restore and pg_dump (default: on PATH).
	BinDir string `yaml:"bin_dir,omitempty"`
	// AllowMissingChecksums accepts a dump without a checksums file: the
	// restore is then only checked to succeed.
	AllowMissingChecksums bool `yaml:"allow_missing_checksums,omitempty"`
}

// postgresLogical restores a pg_dump custom-format archive into a scratch
// database and compares its checksums with the source's.
type postgresLogical struct {
	opts postgresOptions
	name string
}

// pgDSN reads PostgreSQL connection strings (keyword/value or URI).
type pgDSN struct{}

func (pgDSN) hasPassword(dsn string) (bool, error) {
	m, err := parseConninfo(dsn)
	if err != nil {
		return false, err
	}
	_, ok := m["password"]
	return ok, nil
}

func (pgDSN) endpoint(dsn string) endpoint {
	m, _ := parseConninfo(dsn)
	return pgEndpoint(m)
}

func newPostgresLogical(b *builder) (Prober, error) {
	p := &postgresLogical{opts: postgresOptions{Jobs: 2, ChecksumJobs: 2}, name: b.probe.Name}
	if err := b.decode(&p.opts); err != nil {
		return nil, err
	}
	o := &p.opts
	if err := checkDumpOptions(b, pgDSN{}, &o.Sandbox, o.DumpFrom, &o.Dump, &o.BaseDir, o.Database); err != nil {
		return nil, err
	}
	if o.Jobs < 1 || o.ChecksumJobs < 1 {
		return nil, b.errorf("jobs and checksum_jobs must be at least 1")
	}
	if err := checkSandboxNotSource(b, pgDSN{}, &o.Sandbox, o.DumpFrom, o.Database); err != nil {
		return nil, err
	}
	return p, nil
}

// resolveDir makes a directory option absolute against the configuration
// file's directory.
func resolveDir(b *builder, dir string) string {
	if dir == "" || filepath.IsAbs(dir) {
		if dir == "" {
			return configDir(b.cfg)
		}
		return dir
	}
	return filepath.Join(configDir(b.cfg), dir)
}

func (p *postgresLogical) Run(ctx context.Context, r *run) error {
	o := &p.opts
	sandbox, err := p.sandbox()
	if err != nil {
		return err
	}
	scratch := o.Database
	if scratch == "" {
		scratch = r.sandboxName()
	}

	choice := dumpChoice{fixed: o.Dump, baseDir: o.BaseDir, allowMissingChecksums: o.AllowMissingChecksums}
	if o.DumpFrom.isSet() {
		choice.onTheFly = func() (string, *Checksums, error) { return p.dumpOnTheFly(ctx, r, sandbox, scratch) }
	}
	dump, want, err := r.chooseDump(choice, scratch)
	if err != nil {
		return err
	}
	info, err := os.Stat(dump)
	if err != nil {
		return runx.Errorf(runx.KindIO, "dump: %w", err)
	}
	r.log.Info("restoring dump", "dump", dump, "bytes", info.Size(), "scratch_database", scratch, "sandbox", pgEndpoint(sandbox).server())

	if err := createPgScratch(ctx, r, sandbox, scratch, p.name); err != nil {
		return err
	}
	began := time.Now()
	res, err := runx.Run(ctx, runx.Cmd{
		Path: pgTool(o.BinDir, "pg_restore"),
		Args: []string{"--no-owner", "--no-acl", fmt.Sprintf("--jobs=%d", o.Jobs), "--dbname=" + scratch, dump},
		// dbname comes from --dbname; PGDATABASE is ignored then.
		Env:        pgEnvOf(sandbox, scratch),
		StderrTail: 2048,
	})
	if res != nil && len(res.Stderr) > 0 {
		r.log.Info("pg_restore output", "stderr", runx.Tail(string(res.Stderr), 4096))
	}
	if err != nil {
		return fmt.Errorf("restore the dump (truncated or damaged archive?): %w", err)
	}
	restored := time.Now()
	r.log.Info("dump restored", "duration", restored.Sub(began).Round(time.Millisecond))
	co := pgChecksumOptions{Jobs: o.ChecksumJobs}
	if want != nil {
		co.Methods = want.methods()
	}
	got, err := pgChecksums(ctx, sandbox, scratch, co)
	if err != nil {
		return fmt.Errorf("checksum the restore: %w", err)
	}
	r.log.Info("restore checksummed", "duration", time.Since(restored).Round(time.Millisecond), "tables", len(got.Tables))
	if err := p.measure(ctx, sandbox, scratch, r); err != nil {
		return err
	}
	return r.compareRestore(want, got)
}

// sandbox reads the sandbox's connection keywords.
func (p *postgresLogical) sandbox() (map[string]string, error) {
	dsn, err := p.opts.Sandbox.resolve("sandbox")
	if err != nil {
		return nil, err
	}
	sandbox, err := parseConninfo(dsn)
	if err != nil {
		return nil, runx.Errorf(runx.KindConfig, "sandbox dsn: %w", err)
	}
	return sandbox, nil
}

// measure records the restored database's size as the bytes verified.
func (p *postgresLogical) measure(ctx context.Context, sandbox map[string]string, scratch string, r *run) error {
	conn, err := pgConnect(ctx, sandbox, scratch)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // read-only session
	if err := conn.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&r.result.BytesVerified); err != nil {
		return fmt.Errorf("measure the restore: %w", err)
	}
	return nil
}

// dumpOnTheFly dumps the source into a sandbox directory with its
// checksums taken in the dump's snapshot.
func (p *postgresLogical) dumpOnTheFly(ctx context.Context, r *run, sandbox map[string]string, scratch string) (string, *Checksums, error) {
	srcDSN, err := p.opts.DumpFrom.resolve("dump_from")
	if err != nil {
		return "", nil, err
	}
	src, err := parseConninfo(srcDSN)
	if err != nil {
		return "", nil, runx.Errorf(runx.KindConfig, "dump_from dsn: %w", err)
	}
	if err := refuseSameAsSource(ctx, pgEndpoint(sandbox), pgEndpoint(src), scratch); err != nil {
		return "", nil, err
	}
	dir, err := r.makeSandboxDir(ctx, p.opts.WorkDir, "-dump", sandboxDir, "", "")
	if err != nil {
		return "", nil, err
	}
	dump := filepath.Join(dir, "source.dump")
	r.log.Info("dumping the source in an exported snapshot", "source_server", pgEndpoint(src).server(), "database", pgEndpoint(src).database)
	sums, err := dumpPostgres(ctx, src, dump, PostgresDumpOptions{BinDir: p.opts.BinDir, Jobs: p.opts.ChecksumJobs})
	if err != nil {
		return "", nil, err
	}
	r.result.BackupID = "snapshot:" + sums.Snapshot
	r.result.RestoredPoint = sums.TakenAt
	return dump, sums, nil
}

// createPgScratch records, checks and creates the scratch database, and
// registers its removal. A database of that name that exists already was
// not created by this run: it is refused and left alone.
func createPgScratch(ctx context.Context, r *run, sandbox map[string]string, scratch, probe string) error {
	ep := pgEndpoint(sandbox)
	conn, err := pgConnect(ctx, sandbox, "")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // admin session
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", scratch).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s on the sandbox: %w", scratch, err)
	}
	if exists {
		return runx.Errorf(runx.KindConfig, "refusing to use database %s on the sandbox: it exists already and this run did not create it (it is left alone)", scratch)
	}
	forget, err := r.state.record(sandboxRecord{RunID: r.id, Probe: probe, Kind: sandboxDatabase, Server: ep.server(), Name: scratch, Created: r.now().UTC()})
	if err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{scratch}.Sanitize()+" TEMPLATE template0"); err != nil {
		_ = forget()
		return fmt.Errorf("create scratch database %s: %w", scratch, err)
	}
	r.onCleanup("drop database "+scratch, func(ctx context.Context) error {
		if err := dropPgScratch(ctx, sandbox, scratch, r.id); err != nil {
			return err
		}
		return forget()
	})
	if _, err := conn.Exec(ctx, "COMMENT ON DATABASE "+pgx.Identifier{scratch}.Sanitize()+" IS "+quoteLiteral(markerText+r.id)); err != nil {
		return fmt.Errorf("mark scratch database %s: %w", scratch, err)
	}
	r.log.Info("scratch database created", "database", scratch)
	return nil
}

// dropPgScratch drops a scratch database after checking that it carries
// the mark of the run that created it.
func dropPgScratch(ctx context.Context, sandbox map[string]string, scratch, runID string) error {
	if !strings.HasPrefix(scratch, SandboxPrefix) {
		return fmt.Errorf("refusing to drop %s: not a probe's database", scratch)
	}
	conn, err := pgConnect(ctx, sandbox, "")
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // admin session
	var comment *string
	err = conn.QueryRow(ctx, "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1", scratch).Scan(&comment)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the mark of %s: %w", scratch, err)
	}
	if comment == nil || *comment != markerText+runID {
		return fmt.Errorf("refusing to drop %s: it does not carry the mark of run %s", scratch, runID)
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{scratch}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop %s: %w", scratch, err)
	}
	return nil
}

// dropOrphan drops a scratch database an earlier process left behind, if
// the probe's sandbox is still the server it was created on.
func (p *postgresLogical) dropOrphan(ctx context.Context, rec sandboxRecord) error {
	sandbox, err := p.sandbox()
	if err != nil {
		return err
	}
	if s := pgEndpoint(sandbox).server(); s != rec.Server {
		return fmt.Errorf("the probe's sandbox is now %s, the database was created on %s; drop it yourself", s, rec.Server)
	}
	return dropPgScratch(ctx, sandbox, rec.Name, rec.RunID)
}
