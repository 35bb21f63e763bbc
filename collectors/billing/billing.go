// Package billing collects bill files (FOCUS, AWS CUR, CUR 2.0) from a
// file or a directory into cost lines. The parsing is internal/billing's;
// this package finds the files, reads them with a deadline, and keeps the
// lines of files it has read so that an unchanged file is not read again.
package billing

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bill "github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// MaxFileSize bounds one bill file. A month of a large account's CUR is a
// few hundred megabytes compressed; larger exports are split into parts.
const MaxFileSize = 2 << 30

// Collector reads the bills of one billing source.
type Collector struct {
	src    *config.Source
	logger *slog.Logger
	now    func() time.Time

	mu sync.Mutex
	// files are the bills read so far, by path, with what identified
	// their content (size and modification time) when they were read.
	files map[string]fileState
}

type fileState struct {
	size    int64
	modTime time.Time
	lines   []model.CostLine
	stats   bill.Stats
}

// New returns a collector for a billing source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	if src.Billing == nil || src.Billing.Path == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: billing.path is required", src.Name)
	}
	return &Collector{src: src, logger: logger, now: now, files: map[string]fileState{}}, nil
}

// isBill reports whether a file name is one a billing source reads.
func isBill(name string) bool {
	if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
		return false
	}
	n := strings.ToLower(name)
	return strings.HasSuffix(n, ".csv") || strings.HasSuffix(n, ".csv.gz") || strings.HasSuffix(n, ".parquet")
}

// Collect reads every bill under the source's path. A file whose size
// and modification time are those of the last read is not read again:
// its lines and counts are taken from that read. Files that disappeared
// leave the catalog; the history keeps their lines. A line whose id an
// earlier file (in path order) holds is left out, so that a report
// delivered twice is not billed twice. The catalog's BillRows sums the
// counts of every file under the path.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	// The lock guards the map only, never a read: a collection works on
	// what the last one left.
	c.mu.Lock()
	prev := c.files
	c.mu.Unlock()
	root := c.src.Billing.Path
	var paths []string
	st, err := os.Stat(root)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read bills at %s: %w", root, err)
	}
	if st.Mode().IsRegular() {
		paths = []string{root}
	} else {
		err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() && isBill(d.Name()) {
				paths = append(paths, path)
			}
			return nil
		})
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "list bills in %s: %w", root, err)
		}
	}
	slices.Sort(paths)
	next := make(map[string]fileState, len(paths))
	cat := &model.Catalog{Backups: []model.Backup{}, Repositories: []model.Repository{}}
	var total bill.Stats
	seen := map[string]struct{}{}
	repeated := 0
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "read bill %s: %w", path, err)
		}
		fs, ok := prev[path]
		if !ok || fs.size != fi.Size() || !fs.modTime.Equal(fi.ModTime()) {
			if fs, err = c.read(ctx, path, fi); err != nil {
				return nil, err
			}
		}
		next[path] = fs
		for _, l := range fs.lines {
			// A line in two files (a report delivered again beside the
			// old one) is billed once: the first file's, in path order,
			// as the history keeps the first line of an id.
			if _, dup := seen[l.LineID]; dup {
				repeated++
				continue
			}
			seen[l.LineID] = struct{}{}
			cat.CostLines = append(cat.CostLines, l)
		}
		total.Add(fs.stats)
		if n := fs.stats.RejectedTotal(); n > 0 {
			c.logger.Warn("bill has rejected lines", "file", path, "rejected", fs.stats.Rejected)
		}
	}
	c.mu.Lock()
	c.files = next
	c.mu.Unlock()
	cat.BillRows = &total
	if repeated > 0 {
		c.logger.Warn("bills repeat lines of other bills; each line is counted once", "path", root, "repeated", repeated)
	}
	c.logger.Debug("collected bills", "files", len(paths), "rows", total.Rows, "kept", total.Kept, "out_of_scope", total.OutOfScope, "rejected", total.RejectedTotal())
	return cat, nil
}

// read parses one bill.
func (c *Collector) read(ctx context.Context, path string, fi fs.FileInfo) (fileState, error) {
	if fi.Size() > MaxFileSize {
		return fileState{}, runx.Errorf(runx.KindLimit, "read bill %s: %d bytes, more than the limit of %s per file", path, fi.Size(), runx.FormatBytes(MaxFileSize))
	}
	f, err := os.Open(path)
	if err != nil {
		return fileState{}, runx.Errorf(runx.KindIO, "read bill %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read-only
	// A read that blocks past the collection's deadline is cut by closing
	// the file.
	stop := context.AfterFunc(ctx, func() { _ = f.Close() })
	defer stop()
	opts := bill.Options{Format: c.src.Billing.Format, Source: c.src.Name, Attribution: c.src.Billing.Attribution}
	b, err := bill.ReadFile(ctx, f, opts)
	if err != nil {
		if ctx.Err() != nil {
			return fileState{}, fmt.Errorf("read bill %s: %w", path, ctx.Err())
		}
		return fileState{}, runx.ParseError(fmt.Errorf("read bill %s: %w", path, err))
	}
	return fileState{size: fi.Size(), modTime: fi.ModTime(), lines: b.Lines, stats: b.Stats}, nil
}

// Stats returns what the last collection counted per file: rows read,
// kept, out of scope and rejected by reason.
func (c *Collector) Stats() map[string]bill.Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bill.Stats, len(c.files))
	for p, f := range c.files {
		out[p] = f.stats
	}
	return out
}
