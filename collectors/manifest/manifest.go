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
}

// New returns a collector for a manifest source.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	if src.Manifest == nil || src.Manifest.Dir == "" {
		return nil, runx.Errorf(runx.KindConfig, "source %s: manifest.dir is required", src.Name)
	}
	return &Collector{src: src, dir: src.Manifest.Dir, logger: logger, now: now}, nil
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
	// and joining would hold a large catalog twice.
	lines := 0
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := countLines(f)
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "read manifest: %w", err)
		}
		lines += n
	}
	cat := &model.Catalog{Backups: make([]model.Backup, 0, lines), Repositories: []model.Repository{}}
	seen := make(map[string]string, lines)
	seenRepo := map[string]string{}
	for _, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, runx.Errorf(runx.KindIO, "read manifest: %w", err)
		}
		rel, _ := filepath.Rel(c.dir, f)
		first, firstRepo := len(cat.Backups), len(cat.Repositories)
		if err := parseFile(rel, data, p, cat); err != nil {
			return nil, runx.ParseError(fmt.Errorf("parse manifest %w", err))
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

// countLines counts the newlines of a file without holding it in memory.
func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close() //nolint:errcheck // read-only
	buf := make([]byte, 64<<10)
	n := 1
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte("\n"))
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
	}
}
