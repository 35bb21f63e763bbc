package restic

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// stateVersion is the format of the state file; a file of another version
// is ignored (and rewritten), which costs one rescan.
const stateVersion = 1

// maxStateSize bounds what is read of a state file: the contents of a
// snapshot take at most maxContents paths, some 30 KiB, so this holds
// several thousand snapshots. A larger file is ignored (one rescan).
const maxStateSize = 256 << 20

// savedState is what a restic collector keeps across restarts, so that a
// restart of the exporter costs an unchanged repository no more than a
// collection of a running one: the last good whole-repository figures with
// the snapshot set they were read for, and the contents listed of each
// snapshot. Snapshots are immutable, so a snapshot id names its contents
// for good; the figures stay right while the set of ids does.
type savedState struct {
	Version int `json:"version"`
	// Scope is the repository location and the snapshot filters the
	// figures are of; a state of another scope is ignored.
	Scope string      `json:"scope"`
	Stats *savedStats `json:"stats,omitempty"`
	// Contents are the entries found below the roots of each snapshot,
	// by snapshot id: see contents.go.
	Contents map[string][]string `json:"contents,omitempty"`
}

// savedStats is a successful statsRun.
type savedStats struct {
	Key     string    `json:"key"`
	At      time.Time `json:"at"`
	Raw     stats     `json:"raw"`
	Logical int64     `json:"logical"`
}

// statePath returns the state file of the source named name in dir. A
// name made of safe characters is used as it is, so that an operator
// finds the file; any other name is hashed.
func statePath(dir, name string) string {
	safe := name != "" && strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
	}) < 0 && !strings.HasPrefix(name, ".")
	if !safe {
		sum := sha256.Sum256([]byte(name))
		name = hex.EncodeToString(sum[:8])
	}
	return filepath.Join(dir, "restic-"+name+".json")
}

// loadState reads the state file at path. A missing file is no state and
// no error.
func loadState(path string) (*savedState, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open collector state %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read-only
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err != nil {
		return nil, fmt.Errorf("read collector state %s: %w", path, err)
	}
	if len(data) > maxStateSize {
		return nil, fmt.Errorf("read collector state %s: larger than %d bytes", path, maxStateSize)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read collector state %s: %w", path, err)
	}
	return &st, nil
}

// saveState writes st to path atomically: to a temporary file in the same
// directory, synced, then renamed over the old file, and the directory
// synced, so that a crash leaves the old state or the new one, never a
// torn file. Only files named like the state file's temporary are ever
// removed.
func saveState(path string, st *savedState) (err error) {
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode collector state: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state directory %s: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create collector state in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write collector state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync collector state %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close collector state %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace collector state %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open state directory %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync state directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("close state directory %s: %w", dir, err)
	}
	return nil
}
