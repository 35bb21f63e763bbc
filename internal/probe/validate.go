package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// resolveTimeout bounds the name lookups of the check that a sandbox is not
// its source: a configuration check must not hang on a slow resolver.
const resolveTimeout = 5 * time.Second

// Validate checks the probes of cfg the way a start does (NewManager: kinds,
// kind-specific options, schedules) and then what a start leaves to the
// first run, because a run at 3 am is a bad time to learn it:
//
//   - the files the probes name exist: a sandbox's or dump_from's dsn_file,
//     a restic password_file, a pgBackRest config, a command's program;
//   - with the connection strings read from their files (and from the
//     environment when it is set), no sandbox resolves to the server and
//     database of its dump_from source, and no fixed scratch database has
//     the source database's name (a restore into it on the source's server
//     would overwrite the data it protects; the probe refuses that name on
//     any server).
//
// Errors name the file, the probe's line and the option, and never include
// a connection string.
func Validate(ctx context.Context, cfg *config.Config) error {
	m, err := NewManager(cfg, noCatalogs{}, Options{StateDir: os.TempDir()})
	if err != nil {
		return err
	}
	for i, name := range m.names {
		e := m.entries[name]
		where := fmt.Sprintf("%s:%d: probes[%d] (%s).options", cfg.File, e.probe.Line(), i, name)
		if err := validateProber(ctx, e.prober); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// noCatalogs is the empty set of catalogs a validation runs with.
type noCatalogs struct{}

func (noCatalogs) Catalog(string) (*model.Catalog, bool) { return nil, false }

func validateProber(ctx context.Context, p Prober) error {
	switch p := p.(type) {
	case *postgresLogical:
		o := &p.opts
		return validateLogical(ctx, pgDSN{}, &o.Sandbox, o.DumpFrom, o.Database)
	case *mysqlLogical:
		o := &p.opts
		return validateLogical(ctx, myDSN{}, &o.Sandbox, o.DumpFrom, o.Database)
	case *resticProbe:
		return fileExists("password_file", p.opts.PasswordFile)
	case *pgbackrestProbe:
		return fileExists("config", p.opts.Config)
	case *command:
		prog := p.opts.Command[0]
		if strings.Contains(prog, "/") {
			return fileExists("command", prog)
		}
		if _, err := exec.LookPath(prog); err != nil {
			return fmt.Errorf("command: %q is not on PATH", prog)
		}
	}
	return nil
}

// validateLogical reads the sandbox and dump_from connection strings and
// refuses a sandbox that is the source, or a scratch database named like
// the source database.
func validateLogical(ctx context.Context, k dbDSN, sandbox, dumpFrom *dsnRef, scratch string) error {
	sb, err := readDSN(k, "sandbox", sandbox)
	if err != nil || sb == "" {
		return err
	}
	if !dumpFrom.isSet() {
		return nil
	}
	src, err := readDSN(k, "dump_from", dumpFrom)
	if err != nil || src == "" {
		return err
	}
	source := k.endpoint(src)
	if scratch != "" && scratch == source.database {
		return fmt.Errorf("database: the scratch database %s has the source database's name", scratch)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return refuseSameAsSource(ctx, k.endpoint(sb), source, scratch)
}

// readDSN returns the connection string ref names, or "" when it comes from
// an environment variable that is not set here (the exporter's service may
// set it). A dsn_file that cannot be read is an error; what the file holds
// never appears in one.
func readDSN(k dbDSN, field string, ref *dsnRef) (string, error) {
	if ref.DSNEnv != "" {
		if _, ok := os.LookupEnv(ref.DSNEnv); !ok {
			return "", nil
		}
	}
	if ref.DSNFile != "" {
		if err := fileExists(field+".dsn_file", ref.DSNFile); err != nil {
			return "", err
		}
	}
	dsn, err := ref.resolve(field)
	if err != nil {
		return "", err
	}
	if _, err := k.hasPassword(dsn); err != nil {
		return "", fmt.Errorf("%s: the connection string read from %s is not valid: %v", field, refSource(ref), err)
	}
	return dsn, nil
}

func refSource(ref *dsnRef) string {
	switch {
	case ref.DSNFile != "":
		return "dsn_file " + ref.DSNFile
	case ref.DSNEnv != "":
		return "dsn_env " + ref.DSNEnv
	}
	return "dsn"
}

// fileExists reports a file option whose file is missing or unreadable; an
// empty path (the option is not set) is fine.
func fileExists(field, path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s: %s does not exist", field, path)
		}
		return fmt.Errorf("%s: open %s: %w", field, path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: close %s: %w", field, path, err)
	}
	return nil
}

// OptionTypes maps every probe kind to the type its options decode into,
// for the configuration's JSON Schema. A test checks that it lists exactly
// the kinds NewManager accepts.
func OptionTypes() map[string]reflect.Type {
	return map[string]reflect.Type{
		KindArtifact:        reflect.TypeFor[artifactOptions](),
		KindPostgresLogical: reflect.TypeFor[postgresOptions](),
		KindMySQLLogical:    reflect.TypeFor[mysqlOptions](),
		KindRestic:          reflect.TypeFor[resticOptions](),
		KindPgBackRest:      reflect.TypeFor[pgbackrestOptions](),
		KindCommand:         reflect.TypeFor[commandOptions](),
	}
}
