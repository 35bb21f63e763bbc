package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/runx"
)

// The kinds of sandbox a probe creates.
const (
	sandboxDatabase = "database"          // a scratch database on a sandbox server
	sandboxDir      = "directory"         // a temporary directory
	sandboxCluster  = "postgres-cluster"  // a directory holding a restored PGDATA that may be running
	sandboxesSubdir = "sandboxes"         // where records live under the state directory
	logsSubdir      = "logs"              // where run logs live under the state directory
	clusterDataDir  = "data"              // PGDATA inside a cluster sandbox
	dirPerm         = fs.FileMode(0o700)  // state is private to the exporter
	filePerm        = fs.FileMode(0o600)  // and so are its files
	sharedDirPerm   = fs.FileMode(0o755)  // sandboxes another user must reach
	recordSuffix    = ".json"             // sandbox record files
	logSuffix       = ".log"              // run log files
	orphanDeadline  = 5 * time.Minute     // longest the removal of one orphan may take
	cleanupDeadline = 10 * time.Minute    // longest the cleanup of one run may take
	markerText      = "restorable probe " // start of the comment that marks a scratch database
)

// sandboxRecord is what a probe writes to the state directory before it
// creates a sandbox, so that a crash cannot leave anything behind that the
// next start does not know about. It never holds credentials: a database
// is found again through the probe's current configuration, and only when
// the server still matches.
type sandboxRecord struct {
	RunID string `json:"run_id"`
	Probe string `json:"probe"`
	Kind  string `json:"kind"`
	// Server is host:port of the sandbox server of a database.
	Server string `json:"server,omitempty"`
	// Name is a database name or an absolute directory path.
	Name string `json:"name"`
	// RunAs and PgCtl stop a restored cluster that may still run.
	RunAs   string    `json:"run_as,omitempty"`
	PgCtl   string    `json:"pg_ctl,omitempty"`
	Created time.Time `json:"created"`

	file string
}

// stateStore keeps sandbox records and run logs in the state directory.
type stateStore struct {
	dir string
	mu  sync.Mutex
	seq int
}

func newStateStore(dir string) (*stateStore, error) {
	for _, sub := range []string{sandboxesSubdir, logsSubdir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), dirPerm); err != nil {
			return nil, runx.Errorf(runx.KindIO, "create probe state directory: %w", err)
		}
	}
	return &stateStore{dir: dir}, nil
}

// record durably writes rec before the sandbox it names is created, and
// returns the function that forgets it once the sandbox is gone.
func (s *stateStore) record(rec sandboxRecord) (forget func() error, err error) {
	s.mu.Lock()
	s.seq++
	name := fmt.Sprintf("%s-%d%s", rec.RunID, s.seq, recordSuffix)
	s.mu.Unlock()
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode sandbox record: %w", err)
	}
	path := filepath.Join(s.dir, sandboxesSubdir, name)
	if err := writeFileSync(path, data); err != nil {
		return nil, runx.Errorf(runx.KindIO, "record sandbox %s before creating it: %w", rec.Name, err)
	}
	return func() error {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("forget sandbox record %s: %w", name, err)
		}
		return nil
	}, nil
}

// records returns every sandbox record in the state directory. A file that
// cannot be read is reported, not skipped silently.
func (s *stateStore) records() ([]sandboxRecord, error) {
	dir := filepath.Join(s.dir, sandboxesSubdir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "list sandbox records: %w", err)
	}
	var out []sandboxRecord
	var errs []error
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), recordSuffix) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			errs = append(errs, fmt.Errorf("read sandbox record: %w", err))
			continue
		}
		rec, err := parseSandboxRecord(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("sandbox record %s: %w", e.Name(), err))
			continue
		}
		rec.file = filepath.Join(dir, e.Name())
		out = append(out, rec)
	}
	return out, errors.Join(errs...)
}

// parseSandboxRecord decodes a record and checks that it can only name
// something a probe creates.
func parseSandboxRecord(data []byte) (sandboxRecord, error) {
	var rec sandboxRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, runx.ParseError(err)
	}
	switch rec.Kind {
	case sandboxDatabase:
		if !strings.HasPrefix(rec.Name, SandboxPrefix) {
			return rec, fmt.Errorf("database %q does not start with %s; it is left alone", rec.Name, SandboxPrefix)
		}
	case sandboxDir, sandboxCluster:
		if !filepath.IsAbs(rec.Name) || !strings.HasPrefix(filepath.Base(rec.Name), DirPrefix) {
			return rec, fmt.Errorf("directory %q is not an absolute path whose name starts with %s; it is left alone", rec.Name, DirPrefix)
		}
	default:
		return rec, fmt.Errorf("unknown sandbox kind %q", rec.Kind)
	}
	return rec, nil
}

// makeSandboxDir records and creates a fresh directory named after the run
// below parent. owner, when not empty, is the OS user that must own it (the
// user a restored cluster runs as).
func (r *run) makeSandboxDir(ctx context.Context, parent, suffix, kind, owner, pgctl string) (string, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	parent, err := filepath.Abs(parent)
	if err != nil {
		return "", fmt.Errorf("resolve sandbox parent directory: %w", err)
	}
	dir := filepath.Join(parent, DirPrefix+r.id+suffix)
	forget, err := r.state.record(sandboxRecord{RunID: r.id, Probe: r.probe.Name, Kind: kind, Name: dir, RunAs: owner, PgCtl: pgctl, Created: r.now().UTC()})
	if err != nil {
		return "", err
	}
	// Mkdir, not MkdirAll: it fails when the directory exists, so a
	// directory the probe did not create is never adopted and removed.
	if err := os.Mkdir(dir, dirPerm); err != nil {
		_ = forget()
		return "", runx.Errorf(runx.KindIO, "create sandbox directory: %w", err)
	}
	r.onCleanup("remove "+dir, func(ctx context.Context) error {
		if kind == sandboxCluster {
			stopCluster(ctx, dir, owner, pgctl)
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("remove sandbox directory: %w", err)
		}
		return forget()
	})
	if owner != "" {
		if err := chownTo(dir, owner); err != nil {
			return "", err
		}
	}
	r.log.Info("sandbox directory created", "dir", dir)
	return dir, nil
}

// cleanOrphanDir removes a sandbox directory left by an earlier process,
// stopping the restored cluster in it first.
func cleanOrphanDir(ctx context.Context, rec sandboxRecord) error {
	if rec.Kind == sandboxCluster {
		stopCluster(ctx, rec.Name, rec.RunAs, rec.PgCtl)
	}
	if err := os.RemoveAll(rec.Name); err != nil {
		return fmt.Errorf("remove orphaned sandbox directory: %w", err)
	}
	return nil
}

// writeFileSync writes data to path through a temporary file, so that a
// crash leaves either the old state or the new one, and syncs both the file
// and its directory.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}
