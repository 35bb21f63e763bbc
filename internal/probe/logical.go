package probe

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// What the logical probes (postgres-logical, mysql-logical) share: where
// the dump comes from, the checksums it is compared with, and the scratch
// database's name. Each kind keeps its own connection handling and its own
// way of dumping the source on the fly.

// dbDSN is how a kind reads its connection strings.
type dbDSN interface {
	// hasPassword reports whether an inline DSN holds a password; it
	// errors when the DSN is not valid.
	hasPassword(dsn string) (bool, error)
	// endpoint is where a DSN that hasPassword accepted points.
	endpoint(dsn string) endpoint
}

// checkDumpOptions validates the sandbox and dump_from references, that
// exactly one place names the dump (a fixed dump, a database dumped on the
// fly, or the catalog of the probe's source), and a fixed scratch name. It
// makes baseDir and a relative dump absolute.
func checkDumpOptions(b *builder, k dbDSN, sandbox, dumpFrom *dsnRef, dump, baseDir *string, database string) error {
	if err := sandbox.check(b, "sandbox", k.hasPassword); err != nil {
		return err
	}
	modes := 0
	if *dump != "" {
		modes++
	}
	if dumpFrom.isSet() {
		modes++
		if err := dumpFrom.check(b, "dump_from", k.hasPassword); err != nil {
			return err
		}
	}
	if b.probe.Source != "" && modes == 0 {
		modes++
	}
	if modes != 1 {
		return b.errorf("set exactly one of dump, dump_from, or the probe's source (whose catalog names the dump)")
	}
	if err := checkScratchName(b, database); err != nil {
		return err
	}
	*baseDir = resolveDir(b, *baseDir)
	if *dump != "" && !filepath.IsAbs(*dump) {
		*dump = filepath.Join(*baseDir, *dump)
	}
	return nil
}

// checkSandboxNotSource refuses, at start, a sandbox whose inline DSN
// points at the same server and database as dump_from's. DSNs read from
// files or the environment are checked when the probe runs.
func checkSandboxNotSource(b *builder, k dbDSN, sandbox, dumpFrom *dsnRef, database string) error {
	if sandbox.DSN == "" || !dumpFrom.isSet() || dumpFrom.DSN == "" {
		return nil
	}
	if err := refuseSameAsSource(context.Background(), k.endpoint(sandbox.DSN), k.endpoint(dumpFrom.DSN), database); err != nil {
		return b.errorf("%v", err)
	}
	return nil
}

// checkScratchName validates a fixed scratch database name.
func checkScratchName(b *builder, name string) error {
	if name == "" {
		return nil
	}
	if !strings.HasPrefix(name, SandboxPrefix) || len(name) > 63 || strings.Trim(strings.ToLower(name), "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return b.errorf("database: %q must start with %s and hold only lower-case letters, digits and _ (at most 63)", name, SandboxPrefix)
	}
	return nil
}

// dumpChoice is where a run of a logical probe takes its dump from.
type dumpChoice struct {
	// onTheFly, when set, dumps the source now and returns the dump with
	// the checksums taken in the dump's snapshot.
	onTheFly func() (string, *Checksums, error)
	// fixed is the dump option; empty takes the location of the latest
	// good backup in the catalog of the probe's source.
	fixed string
	// baseDir resolves a relative catalog location.
	baseDir string
	// allowMissingChecksums accepts a dump without a checksums file.
	allowMissingChecksums bool
}

// chooseDump returns the dump to restore and the source's checksums to
// compare the restore with (nil when they are missing and that is
// allowed). It refuses a scratch database named like the source database:
// on the source's own server the restore would overwrite it.
func (r *run) chooseDump(c dumpChoice, scratch string) (string, *Checksums, error) {
	var dump string
	var want *Checksums
	var err error
	switch {
	case c.onTheFly != nil:
		if dump, want, err = c.onTheFly(); err != nil {
			return "", nil, err
		}
	case c.fixed != "":
		dump = c.fixed
		r.result.BackupID = filepath.Base(dump)
	default:
		b, err := r.pickBackup(func(b *model.Backup) bool { return b.Location != "" })
		if err != nil {
			return "", nil, runx.Errorf(runx.KindConfig, "choose a dump: %w", err)
		}
		if dump, err = localPath(b.Location, c.baseDir); err != nil {
			return "", nil, runx.Errorf(runx.KindConfig, "backup %s: %w", b.ID, err)
		}
	}
	if want == nil {
		if want, err = readChecksums(dump); err != nil {
			if !c.allowMissingChecksums || !errors.Is(err, os.ErrNotExist) {
				return "", nil, fmt.Errorf("%w (write them with the dump, see docs/probes.md, or set allow_missing_checksums)", err)
			}
			r.log.Warn("no checksums next to the dump: only the restore itself is verified", "dump", dump)
		}
	}
	if want != nil && want.Database == scratch {
		return "", nil, runx.Errorf(runx.KindConfig, "refusing to run: the scratch database %s has the source database's name", scratch)
	}
	return dump, want, nil
}

// compareRestore compares the restore's checksums with the source's and
// records the outcome; without source checksums it records only what was
// restored.
func (r *run) compareRestore(want, got *Checksums) error {
	if want == nil {
		r.result.TablesCompared = len(got.Tables)
		r.result.Details = fmt.Sprintf("restored %d tables; no source checksums to compare with", len(got.Tables))
		return nil
	}
	if want.Algorithm != got.Algorithm {
		return runx.Errorf(runx.KindConfig, "source checksums use algorithm %s, this probe computes %s", want.Algorithm, got.Algorithm)
	}
	return compareChecksums(want, got).apply(r, want)
}
