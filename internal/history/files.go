package history

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

const (
	partitionPrefix = "dt="
	dayLayout       = "2006-01-02"
	nameTimeLayout  = "20060102T150405.000000Z"
	// The shapes of the parts of a name, for matchTemplate.
	nameTimeTemplate = "00000000T000000.000000Z"
	randomTemplate   = "ffffffffffffffff"
	dayTemplate      = "0000-00-00"
	// replacesKey is the Parquet key-value metadata of a compacted file that
	// lists the files it replaces, so that Open can finish a compaction that
	// was cut short between publishing its output and removing its inputs.
	replacesKey = "restorable.replaces"
	// readBatch is how many rows a scan decodes at a time.
	readBatch = 1024
)

// isDataName reports whether name is a file this package wrote:
// part-<time>-<16 hex digits>.parquet. Compaction and recovery never touch a
// file whose name does not match.
func isDataName(name string) bool {
	rest, ok := strings.CutPrefix(name, "part-")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, ".parquet")
	if !ok {
		return false
	}
	ts, random, ok := strings.Cut(rest, "-")
	return ok && matchTemplate(ts, nameTimeTemplate) && matchTemplate(random, randomTemplate)
}

// isTempName reports whether name is a file this package was writing: the
// data name behind a dot and before .tmp. It does not end in .parquet, so
// readers globbing *.parquet never see it.
func isTempName(name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	rest, ok = strings.CutSuffix(rest, ".tmp")
	return ok && isDataName(rest)
}

// isPartitionName reports whether name is a Hive partition directory.
func isPartitionName(name string) bool {
	day, ok := strings.CutPrefix(name, partitionPrefix)
	return ok && matchTemplate(day, dayTemplate)
}

// matchTemplate reports whether s has the shape of template, where '0'
// stands for a decimal digit, 'f' for a lower-case hex digit and any other
// byte for itself.
func matchTemplate(s, template string) bool {
	if len(s) != len(template) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch template[i] {
		case '0':
			if c < '0' || c > '9' {
				return false
			}
		case 'f':
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		default:
			if c != template[i] {
				return false
			}
		}
	}
	return true
}

// newFileName returns a name no other file of the history has: the time
// orders the files, the random part keeps writers that share a clock apart.
func newFileName(t time.Time) string {
	return fmt.Sprintf("part-%s-%016x.parquet", t.UTC().Format(nameTimeLayout), rand.Uint64())
}

func tempFileName(name string) string { return "." + name + ".tmp" }

func partitionOf(t time.Time) string { return partitionPrefix + t.UTC().Format(dayLayout) }

// writerOptions are the options of every file the package writes.
func writerOptions(meta map[string]string) []parquet.WriterOption {
	opts := []parquet.WriterOption{
		parquet.Compression(&parquet.Zstd),
		// Row groups of bounded size keep the writer's buffers small when a
		// large catalog is written at once (the first collection of a big
		// estate), which bounds the exporter's peak memory.
		parquet.MaxRowsPerRowGroup(8192),
		parquet.CreatedBy("restorable", "", ""),
	}
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	return opts
}

// writeFile publishes rows as a new file of dir, atomically: the rows go to
// a temporary name that readers ignore, are synced, and only then renamed
// into place, and the directory is synced so the rename survives a crash.
// A reader sees either no file or the whole file.
func writeFile[T any](dir string, t time.Time, rows []T, meta map[string]string) (string, error) {
	return publish(dir, t, meta, func(w *parquet.GenericWriter[T]) error {
		_, err := w.Write(rows)
		return err
	})
}

// publish creates dir when needed and writes one file through fill, as
// writeFile describes.
func publish[T any](dir string, t time.Time, meta map[string]string, fill func(*parquet.GenericWriter[T]) error) (string, error) {
	if err := mkdirSynced(dir); err != nil {
		return "", err
	}
	name := newFileName(t)
	tmp := filepath.Join(dir, tempFileName(name))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", tmp, err)
	}
	published := false
	defer func() {
		if !published {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	pw := parquet.NewGenericWriter[T](f, writerOptions(meta)...)
	if err := fill(pw); err != nil {
		return "", fmt.Errorf("write rows to %s: %w", tmp, err)
	}
	if err := pw.Close(); err != nil {
		return "", fmt.Errorf("finish %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("close %s: %w", tmp, err)
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("publish %s: %w", final, err)
	}
	published = true
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return name, nil
}

// mkdirSynced creates dir and syncs its parent, so that a file published
// in a new partition is not lost with the partition's directory entry.
func mkdirSynced(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return syncDir(filepath.Dir(dir))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s: %w", dir, err)
	}
	if err := d.Sync(); err != nil {
		_ = d.Close()
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	if err := d.Close(); err != nil {
		return fmt.Errorf("close directory %s: %w", dir, err)
	}
	return nil
}

// partitions lists the partition directories of a table, oldest first.
func partitions(tableDir string) ([]string, error) {
	entries, err := os.ReadDir(tableDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", tableDir, err)
	}
	var dirs []string
	for _, e := range entries {
		if e.IsDir() && isPartitionName(e.Name()) {
			dirs = append(dirs, filepath.Join(tableDir, e.Name()))
		}
	}
	return dirs, nil
}

// listing is what a partition directory holds, by kind, each sorted by name.
type listing struct {
	// parquet are all *.parquet files, the ones readers see.
	parquet []string
	// ours are the *.parquet files this package wrote.
	ours []string
	// temps are leftovers of writes that never finished.
	temps []string
}

func listPartition(dir string) (listing, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return listing{}, fmt.Errorf("list %s: %w", dir, err)
	}
	var l listing
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		switch {
		case isTempName(name):
			l.temps = append(l.temps, name)
		case strings.HasSuffix(name, ".parquet"):
			l.parquet = append(l.parquet, name)
			if isDataName(name) {
				l.ours = append(l.ours, name)
			}
		}
	}
	return l, nil
}

// openParquet opens a Parquet file for reading. The caller closes the
// returned os.File.
func openParquet(path string) (*os.File, *parquet.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("read parquet footer of %s: %w", path, err)
	}
	return f, pf, nil
}

// readFile calls fn for each batch of rows of one file whose schema is T's.
// The batch is reused, so fn must copy what it keeps.
func readFile[T any](path string, fn func([]T) error) error {
	return readFileGroups(path, nil, fn)
}

// skipGroup reports, from a row group's metadata alone, that none of its
// rows is wanted, so that reading them can be skipped. A nil skipGroup
// skips nothing.
type skipGroup func(rg parquet.RowGroup) (bool, error)

// readFileGroups is readFile for the row groups that skip does not skip.
func readFileGroups[T any](path string, skip skipGroup, fn func([]T) error) (err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	// A GenericReader converts a file whose schema differs from T's, and
	// that conversion turns every boolean to false in parquet-go v0.27
	// (issue 468): read an earlier schema with its own struct, and refuse
	// any other rather than merge or report wrong rows.
	if !parquet.EqualNodes(parquet.SchemaOf(new(T)), pf.Schema()) {
		ok, err := readLegacy(pf, path, skip, fn)
		if !ok && err == nil {
			err = fmt.Errorf("read %s: its schema is not the one this version writes", path)
		}
		return err
	}
	return readGroups(pf, path, skip, fn)
}

// readGroups reads the row groups of pf that skip does not skip as rows of
// T, whose schema must be the file's.
func readGroups[T any](pf *parquet.File, path string, skip skipGroup, fn func([]T) error) error {
	if skip == nil {
		return readBatches(parquet.NewGenericReader[T](pf), path, fn)
	}
	for _, rg := range pf.RowGroups() {
		skipped, err := skip(rg)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if skipped {
			continue
		}
		if err := readBatches(parquet.NewGenericRowGroupReader[T](rg), path, fn); err != nil {
			return err
		}
	}
	return nil
}

// readBatches calls fn for each batch of rows r reads, and closes r.
func readBatches[T any](r *parquet.GenericReader[T], path string, fn func([]T) error) error {
	defer r.Close() //nolint:errcheck // closing a reader over a file that is closed right after
	batch := make([]T, readBatch)
	for {
		n, rerr := r.Read(batch)
		if n > 0 {
			if err := fn(batch[:n]); err != nil {
				return err
			}
		}
		if errors.Is(rerr, io.EOF) {
			return nil
		}
		if rerr != nil {
			return fmt.Errorf("read rows of %s: %w", path, rerr)
		}
	}
}

// eachFile calls fn with the path of every file this package wrote to a
// table, in partition and name order. Other files, which readers of the
// table would see too, are not the writer's to interpret.
func eachFile(tableDir string, fn func(path string) error) error {
	parts, err := partitions(tableDir)
	if err != nil {
		return err
	}
	return eachFileIn(parts, fn)
}

// eachFileIn is eachFile for the given partition directories.
func eachFileIn(parts []string, fn func(path string) error) error {
	for _, dir := range parts {
		l, err := listPartition(dir)
		if err != nil {
			return err
		}
		for _, name := range l.ours {
			if err := fn(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// scanTable calls fn for every row of every file of a table.
func scanTable[T any](tableDir string, fn func(*T) error) error {
	return eachFile(tableDir, func(path string) error { return scanFile(path, nil, fn) })
}

// scanFile calls fn for every row of the row groups of a file that skip
// does not skip.
func scanFile[T any](path string, skip skipGroup, fn func(*T) error) error {
	return readFileGroups(path, skip, func(rows []T) error {
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanColumns calls fn with the named columns of every row of every file
// of a table.
func scanColumns(tableDir string, names []string, fn func([]parquet.Value) error) error {
	return eachFile(tableDir, func(path string) error { return readColumns(path, names, fn) })
}

// replacedBy returns the files a compacted file says it replaces.
func replacedBy(pf *parquet.File) []string {
	v, ok := pf.Lookup(replacesKey)
	if !ok || v == "" {
		return nil
	}
	return slices.DeleteFunc(strings.Split(v, ","), func(s string) bool { return !isDataName(s) })
}
