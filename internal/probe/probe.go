// Package probe runs restore-verification probes: it restores a backup that
// a catalog names into a sandbox it creates, verifies what came back, times
// it, and removes the sandbox again.
//
// Each kind of probe lives in a file of its own (artifact.go, postgres.go,
// ...) and is listed once in kinds. The Manager schedules the configured
// probes, bounds how many run at once, keeps their recent results and logs,
// and serves them over HTTP.
//
// Safety comes first: a probe only ever drops databases or removes
// directories that it created itself. Before it creates one it records it
// in the state directory, it gives it a name with a recognisable prefix
// (SandboxPrefix), and it refuses to reuse a database that already exists.
// Sandboxes left behind by a crash are removed at the next Start.
package probe

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// The probe kinds.
const (
	KindArtifact        = "artifact"
	KindPostgresLogical = "postgres-logical"
	KindMySQLLogical    = "mysql-logical"
	KindRestic          = "restic"
	KindPgBackRest      = "pgbackrest"
	KindCommand         = "command"
)

// SandboxPrefix starts the name of every database a probe creates; the
// directories it creates start with DirPrefix. Nothing without the prefix is
// ever dropped or removed.
const (
	SandboxPrefix = "restorable_probe_"
	DirPrefix     = "restorable-probe-"
)

// Prober runs one kind of probe. A kind's constructor builds it once per
// configured probe, after decoding and validating the probe's options, so
// that a bad option stops the exporter at start instead of failing at 3 am.
type Prober interface {
	// Run restores and verifies once. It fills in what it restored and
	// verified on r.result and returns an error when the restore or the
	// verification failed. It must return promptly once ctx is done;
	// whatever it created is removed by the cleanups it registered with
	// r.onCleanup, which run even when ctx is done.
	Run(ctx context.Context, r *run) error
}

// builder hands a kind's constructor what it needs to validate a probe.
type builder struct {
	cfg   *config.Config
	probe *config.Probe
	where string
}

// decode reads the probe's options strictly into out.
func (b *builder) decode(out any) error {
	return config.DecodeOptions(b.cfg.File, &b.probe.Options, out, b.where+".options")
}

// errorf returns a configuration error naming the probe and its line.
func (b *builder) errorf(format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s.options: %s", b.cfg.File, b.probe.Line(), b.where, fmt.Sprintf(format, args...))
}

// source returns the probe's source, or nil.
func (b *builder) source() *config.Source {
	if b.probe.Source == "" {
		return nil
	}
	return b.cfg.Source(b.probe.Source)
}

type newProber func(b *builder) (Prober, error)

// kinds lists every probe kind with its constructor.
func kinds() map[string]newProber {
	return map[string]newProber{
		KindArtifact:        newArtifact,
		KindPostgresLogical: newPostgresLogical,
		KindMySQLLogical:    newMySQLLogical,
		KindRestic:          newRestic,
		KindPgBackRest:      newPgBackRest,
		KindCommand:         newCommand,
	}
}

// Kinds returns the probe kinds in a stable order.
func Kinds() []string {
	ks := make([]string, 0, 6)
	for k := range kinds() {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// run is one run of one probe: what a prober needs, and what it leaves.
type run struct {
	id      string
	probe   *config.Probe
	cfg     *config.Config
	cats    Catalogs
	now     func() time.Time
	log     *slog.Logger
	state   *stateStore
	result  *model.ProbeResult
	cleanup []cleanupFunc
}

type cleanupFunc struct {
	what string
	fn   func(ctx context.Context) error
}

// onCleanup registers fn to run after the prober returned, last registered
// first, with a context that is not cancelled by the run's timeout.
func (r *run) onCleanup(what string, fn func(ctx context.Context) error) {
	r.cleanup = append(r.cleanup, cleanupFunc{what: what, fn: fn})
}

// sandboxName is the name of the scratch database of this run.
func (r *run) sandboxName() string { return SandboxPrefix + r.id }

// newRunID returns a run id that sorts by start time and is safe in
// database names and file names: "20260501t030000_3f9a1c".
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(now.UTC().Format("20060102t150405")) + "_" + hex.EncodeToString(b[:])
}

// validRunID reports whether id has the shape newRunID produces, so that an
// id from an HTTP request can name a file.
func validRunID(id string) bool {
	if len(id) != 22 || id[8] != 't' || id[15] != '_' {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 15:
		case i < 15 && c >= '0' && c <= '9':
		case i > 15 && (c >= '0' && c <= '9' || c >= 'a' && c <= 'f'):
		default:
			return false
		}
	}
	return true
}

// pickBackup returns the latest good backup of the probe's source that
// matches the probe's dataset, env and release and that accept allows, and
// records what it picked on the result.
func (r *run) pickBackup(accept func(*model.Backup) bool) (*model.Backup, error) {
	p := r.probe
	if p.Source == "" {
		return nil, errors.New("the probe has no source: set source to restore what its catalog names")
	}
	cat, ok := r.cats.Catalog(p.Source)
	if !ok || cat == nil {
		return nil, fmt.Errorf("source %s has not been collected yet", p.Source)
	}
	var best *model.Backup
	for i := range cat.Backups {
		b := &cat.Backups[i]
		if !b.Good() || (p.Dataset != "" && b.Dataset != p.Dataset) || (p.Release != "" && b.Release != p.Release) ||
			(p.Env != "" && b.Env != p.Env) || (accept != nil && !accept(b)) {
			continue
		}
		if model.Newer(b, best) {
			best = b
		}
	}
	if best == nil {
		what := "any dataset"
		if p.Dataset != "" {
			what = "dataset " + p.Dataset
		}
		if p.Release != "" {
			what += " at release " + p.Release
		}
		return nil, fmt.Errorf("no good backup of %s in the catalog of source %s", what, p.Source)
	}
	r.useBackup(best)
	return best, nil
}

// useBackup records on the result which backup is restored.
func (r *run) useBackup(b *model.Backup) {
	res := r.result
	res.BackupID, res.Release, res.RestoredPoint = b.ID, b.Release, b.End
	res.Dataset = cmp.Or(res.Dataset, b.Dataset)
	res.Env = cmp.Or(res.Env, b.Env)
	res.Source = cmp.Or(res.Source, b.Source)
}
