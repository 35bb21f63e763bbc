package probe

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// pgbackrestOptions are the options of a pgbackrest probe. Config, stanza,
// binary and run_as default to the probe's pgbackrest source.
type pgbackrestOptions struct {
	Config string `yaml:"config,omitempty"`
	Stanza string `yaml:"stanza,omitempty"`
	Binary string `yaml:"binary,omitempty"`
	RunAs  string `yaml:"run_as,omitempty"`
	// Verify runs pgbackrest verify on the repository (default true).
	Verify *bool `yaml:"verify,omitempty"`
	// Restore restores a backup set into a temporary PGDATA, starts it,
	// waits for recovery and runs Query.
	Restore bool `yaml:"restore,omitempty"`
	// Set is the backup label to restore; by default the latest good
	// backup in the source's catalog, or pgBackRest's latest.
	Set string `yaml:"set,omitempty"`
	// WorkDir is where the temporary PGDATA is created (default the
	// system's temp dir); run_as must be able to reach it.
	WorkDir string `yaml:"work_dir,omitempty"`
	// BinDir holds pg_ctl and postgres of the backup's major version
	// (default /usr/lib/postgresql/<version>/bin).
	BinDir string `yaml:"bin_dir,omitempty"`
	// User is the database superuser of the restored cluster (default
	// postgres).
	User string `yaml:"user,omitempty"`
	// Query must succeed on the restored cluster (default: count the
	// databases).
	Query string `yaml:"query,omitempty"`
	// Database is where Query runs (default postgres).
	Database string `yaml:"database,omitempty"`
}

// sandboxPort names the Unix socket of a restored cluster.
const sandboxPort = 5432

// pgbackrestProbe verifies a pgBackRest repository and, when configured,
// proves a backup set restores into a working cluster.
type pgbackrestProbe struct {
	opts pgbackrestOptions
}

func newPgBackRest(b *builder) (Prober, error) {
	p := &pgbackrestProbe{opts: pgbackrestOptions{User: "postgres", Database: "postgres", Query: "SELECT count(*) FROM pg_database"}}
	if err := b.decode(&p.opts); err != nil {
		return nil, err
	}
	o := &p.opts
	if s := b.source(); s != nil && s.PgBackRest != nil {
		o.Config = cmp.Or(o.Config, s.PgBackRest.Config)
		o.Binary = cmp.Or(o.Binary, s.PgBackRest.Binary)
		o.RunAs = cmp.Or(o.RunAs, s.PgBackRest.RunAs)
		if o.Stanza == "" && len(s.PgBackRest.Stanzas) == 1 {
			o.Stanza = s.PgBackRest.Stanzas[0]
		}
	}
	o.Binary = cmp.Or(o.Binary, "pgbackrest")
	// A pgbackrest source that reads all its repository's stanzas (the
	// default) names the stanza of each backup in its id
	// ("STANZA/LABEL"), so the stanza is decided at run time from the
	// backup the catalog picks. Without such a source, the probe's
	// dataset is the stanza.
	if o.Stanza == "" && !p.stanzaFromCatalog(b) {
		if b.probe.Dataset == "" {
			return nil, b.errorf("stanza: required (or a pgbackrest source, or the probe's dataset)")
		}
		o.Stanza = b.probe.Dataset
	}
	if o.Stanza != "" && !validStanza(o.Stanza) {
		return nil, b.errorf("stanza: %q is not a stanza name", o.Stanza)
	}
	if stanza, _, ok := strings.Cut(o.Set, "/"); ok && o.Stanza != "" && stanza != o.Stanza {
		return nil, b.errorf("set: %q is in stanza %s, the probe reads stanza %s", o.Set, stanza, o.Stanza)
	}
	if o.Config != "" && !filepath.IsAbs(o.Config) {
		return nil, b.errorf("config: %q must be an absolute path (pgBackRest resolves it from its own working directory)", o.Config)
	}
	if o.Verify == nil {
		v := true
		o.Verify = &v
	}
	if !*o.Verify && !o.Restore {
		return nil, b.errorf("nothing to do: set verify or restore")
	}
	if o.WorkDir != "" {
		o.WorkDir = resolveDir(b, o.WorkDir)
	}
	return p, nil
}

// stanzaFromCatalog reports whether the probe's stanza can be decided at
// run time without the stanza option: from a set that names it
// ("STANZA/LABEL"), or from the catalog of a pgbackrest source.
func (p *pgbackrestProbe) stanzaFromCatalog(b *builder) bool {
	if stanza, _ := splitSetID(p.opts.Set); stanza != "" {
		return true
	}
	s := b.source()
	return s != nil && s.Type == "pgbackrest"
}

// validStanza reports whether s can be passed as --stanza.
func validStanza(s string) bool {
	return s != "" && !strings.HasPrefix(s, "-") && !strings.ContainsAny(s, " \t\n/")
}

// splitSetID splits a backup id of a pgbackrest catalog into its stanza and
// its label: the collector writes "STANZA/LABEL" when its source can read
// several stanzas and "LABEL" when it lists exactly one. A label never
// holds a slash.
func splitSetID(id string) (stanza, label string) {
	if s, l, ok := strings.Cut(id, "/"); ok {
		return s, l
	}
	return "", id
}

// DefaultRunAs is the OS user pgBackRest and the restored cluster run as
// when the exporter runs as root and run_as is not set: PostgreSQL refuses
// to start as root, and "postgres" is the user that Debian, Red Hat and the
// official images create for it and that owns the repository by default.
const DefaultRunAs = "postgres"

// target decides the stanza and the backup label of one run: the
// configured ones, else those of the latest good backup in the source's
// catalog. The label is empty when pgBackRest's own latest set is wanted.
func (p *pgbackrestProbe) target(r *run) (stanza, label string, err error) {
	o := &p.opts
	stanza, label = splitSetID(o.Set)
	stanza = cmp.Or(stanza, o.Stanza)
	needLabel := label == "" && o.Restore
	if r.probe.Source != "" && (needLabel || stanza == "") {
		// With a stanza known, only that stanza's backups qualify: a
		// source reading several stanzas qualifies every id with its
		// stanza.
		b, err := r.pickBackup(func(b *model.Backup) bool {
			s, _ := splitSetID(b.ID)
			return b.Type != model.BackupWAL && (stanza == "" || s == "" || s == stanza)
		})
		if err != nil {
			return "", "", runx.Errorf(runx.KindConfig, "choose a backup set: %w", err)
		}
		s, l := splitSetID(b.ID)
		if s == "" && stanza == "" {
			return "", "", runx.Errorf(runx.KindConfig, "backup %s of source %s names no stanza: set stanza", b.ID, r.probe.Source)
		}
		stanza = cmp.Or(stanza, s)
		if needLabel {
			label = l
		} else {
			// The backup only named the stanza: a verify checks the
			// whole repository, not this one backup.
			r.result.BackupID, r.result.Release, r.result.RestoredPoint = "", "", time.Time{}
		}
	}
	if !validStanza(stanza) {
		return "", "", runx.Errorf(runx.KindConfig, "stanza %q is not a stanza name", stanza)
	}
	return stanza, label, nil
}

// invocation is how one run calls pgBackRest: the stanza decided for the
// run and the OS user to run as.
type invocation struct {
	p      *pgbackrestProbe
	stanza string
	runAs  string
}

func (in *invocation) cmd(args ...string) runx.Cmd {
	base := []string{"--stanza=" + in.stanza, "--log-level-console=warn", "--log-level-file=off"}
	if in.p.opts.Config != "" {
		base = append([]string{"--config=" + in.p.opts.Config}, base...)
	}
	return runx.Cmd{Path: in.p.opts.Binary, Args: append(base, args...), RunAs: in.runAs, StderrTail: 2048}
}

// runAs returns the OS user of the run: run_as, or DefaultRunAs when the
// exporter runs as root (which PostgreSQL refuses).
func (p *pgbackrestProbe) runAs(r *run) (string, error) {
	if p.opts.RunAs != "" || os.Geteuid() != 0 {
		return p.opts.RunAs, nil
	}
	if _, err := user.Lookup(DefaultRunAs); err != nil {
		return "", runx.Errorf(runx.KindConfig, "the exporter runs as root and run_as is not set, but there is no %s user to run pgBackRest and PostgreSQL as (%v): set run_as", DefaultRunAs, err)
	}
	r.log.Info("running pgbackrest as "+DefaultRunAs+": the exporter runs as root and run_as is not set", "run_as", DefaultRunAs)
	return DefaultRunAs, nil
}

func (p *pgbackrestProbe) Run(ctx context.Context, r *run) error {
	o := &p.opts
	stanza, label, err := p.target(r)
	if err != nil {
		return err
	}
	runAs, err := p.runAs(r)
	if err != nil {
		return err
	}
	in := &invocation{p: p, stanza: stanza, runAs: runAs}
	var details []string
	if *o.Verify {
		r.log.Info("verifying the repository", "stanza", stanza)
		res, err := runx.Run(ctx, in.cmd("verify", "--output=text", "--verbose"))
		if res != nil {
			r.log.Info("pgbackrest verify", "output", runx.Tail(string(res.Stdout)+string(res.Stderr), 4096))
		}
		if err != nil {
			return fmt.Errorf("pgbackrest verify of stanza %s: %w", stanza, err)
		}
		// verify exits 0 whatever it finds (2.45): its report says.
		problems, err := parsePgbrVerify(res.Stdout)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			r.result.Details = strings.Join(problems, "\n")
			return fmt.Errorf("pgbackrest verify found problems in stanza %s: %s", stanza, strings.Join(problems, "; "))
		}
		details = append(details, "pgbackrest verify: ok")
	}
	if !o.Restore {
		r.result.Details = strings.Join(details, "\n")
		return nil
	}
	res, err := runx.Run(ctx, in.cmd("info", "--output=json"))
	if err != nil {
		return fmt.Errorf("read backup sets of stanza %s: %w", stanza, err)
	}
	sets, err := parsePgbrInfo(res.Stdout, stanza)
	if err != nil {
		return err
	}
	set, err := chooseSet(r, sets, stanza, label)
	if err != nil {
		return err
	}
	binDir := cmp.Or(o.BinDir, "/usr/lib/postgresql/"+set.version+"/bin")
	pgctl := filepath.Join(binDir, "pg_ctl")
	if _, err := os.Stat(pgctl); err != nil {
		return runx.Errorf(runx.KindNotFound, "pg_ctl of PostgreSQL %s: %w (set bin_dir)", set.version, err)
	}
	dir, err := r.makeSandboxDir(ctx, o.WorkDir, "-pgdata", sandboxCluster, runAs, pgctl)
	if err != nil {
		return err
	}
	data := filepath.Join(dir, clusterDataDir)
	r.log.Info("restoring backup set", "set", set.label, "into", data)
	began := time.Now()
	if _, err := runx.Run(ctx, in.cmd("restore", "--pg1-path="+data, "--set="+set.label, "--type=immediate", "--target-action=promote",
		"--archive-mode=off", "--tablespace-map-all="+filepath.Join(dir, "tablespaces"), "--lock-path="+filepath.Join(dir, "lock"))); err != nil {
		return fmt.Errorf("restore backup set %s: %w", set.label, err)
	}
	if err := startCluster(ctx, r, dir, pgctl, runAs); err != nil {
		return err
	}
	out, size, err := p.prove(ctx, dir)
	if err != nil {
		return err
	}
	r.result.BytesVerified = size
	details = append(details, fmt.Sprintf("restored backup set %s (PostgreSQL %s) and recovered it to its end in %s; %q returned %s; %d bytes in its databases",
		set.label, set.version, time.Since(began).Round(time.Millisecond), o.Query, out, size))
	r.result.Details = strings.Join(details, "\n")
	return nil
}

// pgbrSet is what the probe needs of one backup set.
type pgbrSet struct {
	label   string
	stop    time.Time
	version string
	failed  bool
}

// parsePgbrInfo reads the backup sets of stanza from pgbackrest info
// --output=json, oldest first.
func parsePgbrInfo(data []byte, stanza string) ([]pgbrSet, error) {
	var info []struct {
		Name   string `json:"name"`
		Backup []struct {
			Label     string           `json:"label"`
			Error     bool             `json:"error"`
			Database  struct{ ID int } `json:"database"`
			Timestamp struct {
				Stop int64 `json:"stop"`
			} `json:"timestamp"`
		} `json:"backup"`
		DB []struct {
			ID      int    `json:"id"`
			Version string `json:"version"`
		} `json:"db"`
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, runx.ParseError(fmt.Errorf("parse pgbackrest info: %w", err))
	}
	for _, s := range info {
		if s.Name != stanza {
			continue
		}
		versions := map[int]string{}
		for _, d := range s.DB {
			versions[d.ID] = d.Version
		}
		out := make([]pgbrSet, 0, len(s.Backup))
		for _, b := range s.Backup {
			out = append(out, pgbrSet{label: b.Label, stop: time.Unix(b.Timestamp.Stop, 0).UTC(), version: versions[b.Database.ID], failed: b.Error})
		}
		return out, nil
	}
	return nil, runx.Errorf(runx.KindConfig, "stanza %s is not in the repository", stanza)
}

// chooseSet picks the set to restore: the one named by label (the
// configured set, or the latest good one the catalog names), or else the
// latest good one in the repository. It records on the result the catalog
// id of the set when the catalog named it, so that a probe result names the
// same backup as the catalog and the history.
func chooseSet(r *run, sets []pgbrSet, stanza, label string) (pgbrSet, error) {
	for i := len(sets) - 1; i >= 0; i-- {
		s := sets[i]
		if s.failed || (label != "" && s.label != label) {
			continue
		}
		if r.result.BackupID == "" || splitLabel(r.result.BackupID) != s.label {
			r.result.BackupID = s.label
		}
		if r.result.RestoredPoint.IsZero() {
			r.result.RestoredPoint = s.stop
		}
		return s, nil
	}
	if label != "" {
		return pgbrSet{}, fmt.Errorf("backup set %s is not in stanza %s", label, stanza)
	}
	return pgbrSet{}, fmt.Errorf("stanza %s has no good backup set", stanza)
}

func splitLabel(id string) string {
	_, l := splitSetID(id)
	return l
}

// startCluster starts the restored cluster on a Unix socket in its sandbox
// and a free port, with archiving off so that the restored cluster can
// never push WAL into the repository it came from, and with a
// configuration of its own so that the source's settings (its memory, its
// preload libraries, its authentication) do not apply.
func startCluster(ctx context.Context, r *run, dir, pgctl, runAs string) error {
	conf := filepath.Join(dir, "postgresql.conf")
	hba := filepath.Join(dir, "pg_hba.conf")
	if err := os.WriteFile(conf, []byte("# written by the restorable probe\n"), 0o644); err != nil {
		return runx.Errorf(runx.KindIO, "write sandbox configuration: %w", err)
	}
	if err := os.WriteFile(hba, []byte("local all all trust\n"), 0o644); err != nil {
		return runx.Errorf(runx.KindIO, "write sandbox configuration: %w", err)
	}
	for _, f := range []string{conf, hba} {
		if runAs != "" {
			if err := chownTo(f, runAs); err != nil {
				return err
			}
		}
	}
	// The server listens on a Unix socket in its own sandbox only, so
	// the standard port cannot collide with anything.
	port := sandboxPort
	settings := []string{
		"-p " + strconv.Itoa(port),
		"-c listen_addresses=''",
		"-c unix_socket_directories='" + dir + "'",
		"-c config_file='" + conf + "'",
		"-c hba_file='" + hba + "'",
		"-c archive_mode=off",
		"-c hot_standby=off",
		"-c shared_preload_libraries=''",
		"-c max_connections=20",
		"-c shared_buffers=32MB",
	}
	wait := 3600
	if dl, ok := ctx.Deadline(); ok {
		wait = max(1, int(time.Until(dl).Seconds()))
	}
	r.log.Info("starting the restored cluster", "port", port)
	_, err := runx.Run(ctx, runx.Cmd{Path: pgctl, Args: []string{"-D", filepath.Join(dir, clusterDataDir), "-l", filepath.Join(dir, "postgres.log"), "-o", strings.Join(settings, " "), "-w", "-t", strconv.Itoa(wait), "start"}, RunAs: runAs, StderrTail: 2048})
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "postgres.log"))
		r.log.Error("restored cluster did not start", "server_log", runx.Tail(string(log), 4096))
		return fmt.Errorf("start the restored cluster: %w: %s", err, runx.Tail(string(log), 512))
	}
	return nil
}

// prove waits for the end of recovery and runs the probe's query; it
// returns the query's first value and the size of all databases.
func (p *pgbackrestProbe) prove(ctx context.Context, dir string) (string, int64, error) {
	params := map[string]string{"host": dir, "port": strconv.Itoa(sandboxPort), "user": p.opts.User, "dbname": p.opts.Database}
	// pg_ctl -w returns once the server runs; with hot_standby off it
	// refuses connections until recovery ends and it is promoted.
	var conn *pgx.Conn
	for {
		var err error
		conn, err = pgConnect(ctx, params, "")
		var pe *pgconn.PgError
		if err == nil {
			break
		}
		if !errors.As(err, &pe) || pe.Code != "57P03" {
			return "", 0, fmt.Errorf("restored cluster: %w", err)
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("wait for the end of recovery: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer conn.Close(context.WithoutCancel(ctx)) //nolint:errcheck // sandbox session
	for {
		var recovering bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovering); err != nil {
			return "", 0, fmt.Errorf("ask the restored cluster whether it recovered: %w", err)
		}
		if !recovering {
			break
		}
		select {
		case <-ctx.Done():
			return "", 0, fmt.Errorf("wait for the end of recovery: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	rows, err := conn.Query(ctx, p.opts.Query)
	if err != nil {
		return "", 0, fmt.Errorf("query the restored cluster: %w", err)
	}
	vals, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (string, error) {
		v, err := row.Values()
		if err != nil || len(v) == 0 {
			return "", err
		}
		return fmt.Sprint(v[0]), nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("query the restored cluster: %w", err)
	}
	if len(vals) == 0 {
		return "", 0, errors.New("the probe's query returned no row on the restored cluster")
	}
	var size int64
	if err := conn.QueryRow(ctx, "SELECT sum(pg_database_size(oid))::bigint FROM pg_database WHERE datallowconn").Scan(&size); err != nil {
		return "", 0, fmt.Errorf("measure the restored cluster: %w", err)
	}
	return vals[0], size, nil
}

// stopCluster stops a restored cluster that may be running in dir. It is
// best effort: the directory is removed next either way, and a server
// whose data directory is gone exits on its own.
func stopCluster(ctx context.Context, dir, owner, pgctl string) {
	data := filepath.Join(dir, clusterDataDir)
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err != nil || pgctl == "" {
		return
	}
	_, _ = runx.Run(ctx, runx.Cmd{Path: pgctl, Args: []string{"-D", data, "-m", "immediate", "-w", "-t", "60", "stop"}, RunAs: owner})
}

// chownTo gives path to an OS user.
func chownTo(path, owner string) error {
	u, err := user.Lookup(owner)
	if err != nil {
		return runx.Errorf(runx.KindConfig, "run_as user %s: %w", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(path, uid, gid); err != nil {
		return runx.Errorf(runx.KindIO, "give %s to %s: %w", path, owner, err)
	}
	return nil
}

// parsePgbrVerify reads the text report of pgbackrest verify --verbose
// and returns what it found wrong: each invalid backup or archive with its
// counts. A report without a status line is a parse error, not a pass.
func parsePgbrVerify(out []byte) ([]string, error) {
	var problems []string
	status := ""
	var last string
	for _, line := range strings.Split(string(out), "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "status: "):
			status = strings.TrimPrefix(l, "status: ")
		case strings.HasPrefix(l, "backup: ") || strings.HasPrefix(l, "archiveId: "):
			last = l
		case strings.HasPrefix(l, "missing: ") && l != "missing: 0, checksum invalid: 0, size invalid: 0, other: 0":
			problems = append(problems, last+": "+l)
		}
	}
	switch status {
	case "":
		return nil, runx.ParseError(errors.New("pgbackrest verify printed no status"))
	case "ok":
		return problems, nil
	}
	if len(problems) == 0 {
		problems = append(problems, "status "+status)
	}
	return problems, nil
}
