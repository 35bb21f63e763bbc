// Package manifest collects backup metadata that CI pipelines and backup
// scripts write as JSON or NDJSON files into a directory.
//
// It is the simplest way to bring any backup tool under Restorable: write
// one record per backup (docs/manifest.md). Files whose names start with a
// dot or end in .tmp are ignored, so writers can create a file under a
// temporary name and rename it into place.
package manifest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// Collector reads a manifest directory.
type Collector struct {
	src    *config.Source
	dir    string
	logger *slog.Logger
	now    func() time.Time
	// anchor is the "now" of relative times: fixed at the first collection,
	// so that an unchanged demo catalog stays unchanged between
	// collections and adds no history rows.
	anchor time.Time
	// maxFile bounds the size of one manifest file (MaxFileSize; tests
	// lower it).
	maxFile int64
}

// MaxFileSize is the largest manifest file read. A file holds a record per
// backup of roughly half a kilobyte, so this is a few hundred thousand
// backups; larger catalogs are split into several files.
const MaxFileSize = 128 << 20

// New returns a collector for a manifest source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	if src.Manifest == nil || src.Manifest.Dir == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: manifest.dir is required", src.Name)
	}
	return &Collector{src: src, dir: src.Manifest.Dir, logger: logger, now: now, maxFile: MaxFileSize}, nil
}

// Collect reads every manifest file below the directory.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	p := &parser{src: c.src, observedAt: c.now().UTC()}
	if c.src.Manifest.RelativeTo == "now" {
		if c.anchor.IsZero() {
			c.anchor = c.now().UTC().Truncate(time.Second)
		}
		p.now = c.anchor
	}
	var files []string
	err := filepath.WalkDir(c.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != c.dir && strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".tmp") {
			return nil
		}
		switch filepath.Ext(name) {
		case ".json", ".ndjson", ".jsonl":
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "list manifests in %s: %w", c.dir, err)
	}
	sort.Strings(files)
	// Count the records first (newlines, read in small pieces), so that the
	// catalog is allocated once at its final size: building it per file
	// and joining would hold a large catalog twice. This pass also refuses
	// files that are not regular or too large before memory is spent.
	lines := 0
	for _, path := range files {
		n, err := c.withFile(path, func(f *os.File, rel string) (int, error) { return countLines(ctx, f, rel, c.maxFile) })
		if err != nil {
			return nil, err
		}
		lines += n
	}
	cat := &model.Catalog{Backups: make([]model.Backup, 0, lines), Repositories: []model.Repository{}}
	seen := make(map[string]string, lines)
	seenRepo := map[string]string{}
	for _, path := range files {
		var data []byte
		_, err := c.withFile(path, func(f *os.File, rel string) (n int, err error) {
			data, err = readManifest(ctx, f, rel, c.maxFile)
			return 0, err
		})
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(c.dir, path)
		first, firstRepo := len(cat.Backups), len(cat.Repositories)
		if err := parseFile(rel, data, p, cat); err != nil {
			err = fmt.Errorf("parse manifest %w", err)
			if runx.KindOf(err) == runx.KindLimit {
				return nil, err
			}
			return nil, runx.ParseError(err)
		}
		for _, r := range cat.Repositories[firstRepo:] {
			if prev, dup := seenRepo[r.Name]; dup {
				return nil, runx.ParseError(fmt.Errorf("parse manifest %s: repository %q already appears in %s", rel, r.Name, prev))
			}
			seenRepo[r.Name] = rel
		}
		for _, b := range cat.Backups[first:] {
			if prev, dup := seen[b.Key()]; dup {
				return nil, runx.ParseError(fmt.Errorf("parse manifest %s: backup id %q of dataset %s already appears in %s", rel, b.ID, b.Dataset, prev))
			}
			seen[b.Key()] = rel
		}
	}
	return cat, nil
}

// withFile opens the manifest at path, hands it to fn with its name
// relative to the directory, and closes it.
func (c *Collector) withFile(path string, fn func(f *os.File, rel string) (int, error)) (int, error) {
	rel, _ := filepath.Rel(c.dir, path)
	f, err := openManifest(path, rel, c.maxFile)
	if err != nil {
		return 0, err
	}
	defer f.Close() //nolint:errcheck // read-only
	return fn(f, rel)
}

// openManifest opens a manifest file for reading, refusing anything but a
// regular file of at most max bytes. A named pipe would block the open or
// the read until a writer comes, and a device (a link to /dev/zero) would
// never end: either would hold the collection past its timeout. The file
// is opened without blocking and checked again once open, so that a file
// swapped for a pipe after the directory was listed is refused too.
func openManifest(path, rel string, max int64) (*os.File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read manifest %s: %w", rel, err)
	}
	if err := checkManifestFile(fi, rel, max); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, runx.Errorf(runx.KindIO, "read manifest %s: %w", rel, err)
	}
	if fi, err = f.Stat(); err == nil {
		err = checkManifestFile(fi, rel, max)
	}
	if err != nil {
		_ = f.Close() // read-only
		return nil, err
	}
	return f, nil
}

func checkManifestFile(fi fs.FileInfo, rel string, max int64) error {
	if !fi.Mode().IsRegular() {
		return runx.Errorf(runx.KindIO, "read manifest %s: it is a %s, not a regular file; only regular files are read", rel, fileKind(fi.Mode()))
	}
	if fi.Size() > max {
		return runx.Errorf(runx.KindLimit, "read manifest %s: %d bytes, more than the limit of %s per file; split it into several files", rel, fi.Size(), runx.FormatBytes(max))
	}
	return nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m.IsDir():
		return "directory"
	}
	return "special file (" + m.Type().String() + ")"
}

// readChunk is how much of a manifest is read between checks of the
// collection's context.
const readChunk = 1 << 20

// countLines counts the newlines of an open manifest without holding it in
// memory, checking ctx between pieces.
func countLines(ctx context.Context, f *os.File, rel string, max int64) (int, error) {
	buf := make([]byte, 64<<10)
	n := 1
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("read manifest %s: %w", rel, err)
		}
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte("\n"))
		if total += int64(k); total > max {
			return 0, runx.Errorf(runx.KindLimit, "read manifest %s: more than the limit of %s per file (it grew while being read); split it into several files", rel, runx.FormatBytes(max))
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, runx.Errorf(runx.KindIO, "read manifest %s: %w", rel, err)
		}
	}
}

// readManifest reads an open manifest whole, at most max bytes (a file can
// grow after it was checked), checking ctx between pieces.
func readManifest(ctx context.Context, f *os.File, rel string, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if fi, err := f.Stat(); err == nil && fi.Size() <= max {
		buf.Grow(int(fi.Size()) + 1)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", rel, err)
		}
		k, err := buf.ReadFrom(io.LimitReader(f, readChunk))
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "read manifest %s: %w", rel, err)
		}
		if int64(buf.Len()) > max {
			return nil, runx.Errorf(runx.KindLimit, "read manifest %s: more than the limit of %s per file (it grew while being read); split it into several files", rel, runx.FormatBytes(max))
		}
		if k == 0 {
			return buf.Bytes(), nil
		}
	}
}
