// Package history appends what the exporter learns to a long-term history of
// Parquet files that DuckDB, Athena, Trino or Spark read as they are:
//
//	<root>/<table>/dt=YYYY-MM-DD/part-<time>-<random>.parquet
//
// There are four tables: backups (one row per version of a backup, and one
// when it leaves its catalog), repositories (one row per changed observation,
// and at least one per day), probes (one row per restore-probe run) and
// events (one row per release event). Two
// checkpoint tables hold, once a day per source, the backups retained then
// and a summary of each release, so that readers need not replay the whole
// history to know the state at a moment.
//
// The writer is pure Go, so the exporter needs no CGO. Every file is
// published atomically, re-collecting an unchanged catalog appends nothing,
// also across restarts, and Compact keeps the number of files per partition
// bounded. A request_counts table holds the request counts of the
// collections (requests.go). docs/history.md describes the tables for their
// readers.
package history

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unique"

	"github.com/parquet-go/parquet-go"

	"github.com/restorable/restorable/internal/model"
)

// The tables of the history, each a directory under the root.
const (
	TableBackups      = "backups"
	TableRepositories = "repositories"
	TableProbes       = "probes"
)

// tables lists every table the writer writes.
func tables() []string {
	return []string{TableBackups, TableRepositories, TableProbes, TableAudit, TableEvents, TableBackupCheckpoints, TableSeriesCheckpoints, TableRequestCounts, TableCostLines}
}

// stateDir is the directory of the writer's own files under the root. Its
// name matches no table glob, so readers never see it.
const stateDir = "_state"

// DefaultMaxFilesPerPartition is how many files a partition may hold before
// Compact merges them.
const DefaultMaxFilesPerPartition = 8

// Options tune a Writer. The zero value is usable.
type Options struct {
	// Now is the clock that stamps collected_at; time.Now when nil.
	Now func() time.Time
	// Logger receives warnings about odd catalogs and notes on what Open
	// cleaned up after a killed writer; discarded when nil.
	Logger *slog.Logger
	// MaxFilesPerPartition is the compaction threshold;
	// DefaultMaxFilesPerPartition when zero or less.
	MaxFilesPerPartition int
}

// Stats counts the rows one AppendCatalog call appended.
type Stats struct {
	// Backups are new or changed backups.
	Backups int
	// Removed are backups that left the catalog since the last call.
	Removed int
	// Repositories are changed repositories, or the first observation of
	// the day.
	Repositories int
	// Requests are request counts of periods that are new or whose count
	// or cost changed.
	Requests int
	// CostLines are cost lines whose line id the history did not hold.
	CostLines int
	// Probes are the restore tests of the catalog (model.Catalog.Probes)
	// that the probes table did not hold. AppendCatalog leaves it 0: the
	// caller that appends them with AppendNewProbes (live.State.Record)
	// counts them here.
	Probes int
	// CollectedAt is the collected_at the rows carry (microseconds).
	CollectedAt time.Time
}

// Writer appends to the history under one root. It must be the only writer
// of that root. Its methods are safe for concurrent use.
type Writer struct {
	root     string
	now      func() time.Time
	logger   *slog.Logger
	maxFiles int
	lock     *os.File

	// life is held shared by every operation and exclusively by Close, so
	// that Close waits for them and releases the root only when no write
	// is in flight.
	life   sync.RWMutex
	closed bool

	mu      sync.Mutex // guards sources
	sources map[string]*sourceState

	// probeMu guards the probe run ids and the event ids, the duplicate
	// filters of the probes and events tables.
	probeMu   sync.Mutex
	probeRuns map[string]struct{}
	eventIDs  map[string]struct{}

	// requestMu guards requests, the newest version of every counted
	// period of the request_counts table.
	requestMu sync.Mutex
	requests  map[requestKey]requestState

	// costMu guards costLines, the hashes of the line ids the cost_lines
	// table holds.
	costMu    sync.Mutex
	costLines map[uint64]struct{}

	// compactMu keeps Compact, recovery and Latest from running at once.
	// Appends never take it: they only add files, and compaction only
	// removes the files it merged.
	compactMu sync.Mutex
}

// sourceState is what the writer remembers of one source to keep its rows
// free of duplicates: the last version of each backup still in the catalog
// and the last row of each repository.
type sourceState struct {
	mu      sync.Mutex
	backups map[backupID]*backupState
	repos   map[string]repoState
	// gen counts AppendCatalog calls; each marks the backups its catalog
	// lists with its number, so that those it does not list are found
	// without building a set of its ids.
	gen uint64
	// sums summarise every backups row of the source, for its checkpoints.
	sums summaries
	// checkpointDay is the partition of the source's newest checkpoint:
	// the first catalog of a new UTC day writes one.
	checkpointDay string
}

// backupState is the last version of a backup: its content hash, and the
// identity columns that a removal row repeats (its dataset and id are the
// state's key, backupID). The writer holds one for every backup its
// sources list, a million for a large bucket, so it is kept small: times
// as microseconds, the few distinct values of the other columns as
// interned handles; 80 bytes, which is also what the allocator gives it
// (TestBackupStateSize).
type backupState struct {
	hash                    int64
	collectedAt, start, end stamp
	env, typ                unique.Handle[string]
	status, release         unique.Handle[string]
	// removed is only set while the state is rebuilt from the files.
	removed bool
	// gen is the AppendCatalog call that last saw the backup in its catalog.
	gen uint64
}

// stamp is a time of the tables (micros) in microseconds since 1970;
// noStamp is the zero time.
type stamp int64

const noStamp stamp = math.MinInt64

func stampOf(t time.Time) stamp {
	if t.IsZero() {
		return noStamp
	}
	return stamp(micros(t).UnixMicro())
}

func (s stamp) time() time.Time {
	if s == noStamp {
		return time.Time{}
	}
	return time.UnixMicro(int64(s)).UTC()
}

func handle(s string) unique.Handle[string] { return unique.Make(s) }

type repoState struct {
	hash       int64
	observedAt time.Time
}

// Open opens the history under root, creating it when needed. It removes
// files that a killed writer left half-written, finishes an interrupted
// compaction, and rebuilds the duplicate filter from the files, so that a
// restarted exporter appends nothing for a catalog it already recorded.
func Open(root string, opts Options) (*Writer, error) { return open(root, opts, false) }

// open is Open; with full set it rebuilds the duplicate filter from every
// backups row, ignoring the checkpoints.
func open(root string, opts Options, full bool) (*Writer, error) {
	if root == "" {
		return nil, errors.New("open history: empty root")
	}
	w := &Writer{
		root:      filepath.Clean(root),
		now:       opts.Now,
		logger:    opts.Logger,
		maxFiles:  opts.MaxFilesPerPartition,
		sources:   map[string]*sourceState{},
		probeRuns: map[string]struct{}{},
		eventIDs:  map[string]struct{}{},
		requests:  map[requestKey]requestState{},
		costLines: map[uint64]struct{}{},
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if w.maxFiles <= 0 {
		w.maxFiles = DefaultMaxFilesPerPartition
	}
	for _, dir := range []string{TableBackups, TableRepositories, TableProbes, TableAudit, TableEvents, TableRequestCounts, stateDir} {
		if err := os.MkdirAll(filepath.Join(w.root, dir), 0o755); err != nil {
			return nil, fmt.Errorf("open history: create %s: %w", filepath.Join(w.root, dir), err)
		}
	}
	lock, err := lockRoot(filepath.Join(w.root, stateDir, "writer.lock"))
	if err != nil {
		return nil, fmt.Errorf("open history %s: %w", w.root, err)
	}
	w.lock = lock
	if err := w.load(full); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("open history %s: %w", w.root, err)
	}
	return w, nil
}

// load cleans up after a killed writer and rebuilds the duplicate filter.
func (w *Writer) load(full bool) error {
	w.compactMu.Lock()
	defer w.compactMu.Unlock()
	for _, t := range tables() {
		if err := w.recover(t); err != nil {
			return err
		}
	}
	return w.rebuild(full)
}

// Close stops the writer and lets another one open the root. Every append
// has already published its files, so there is nothing left to flush.
func (w *Writer) Close() error {
	w.life.Lock()
	defer w.life.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if err := w.lock.Close(); err != nil {
		return fmt.Errorf("close history %s: release lock: %w", w.root, err)
	}
	return nil
}

// Root is the directory the history lives in.
func (w *Writer) Root() string { return w.root }

func (w *Writer) tableDir(table string) string { return filepath.Join(w.root, table) }

// begin starts an operation; the caller calls w.life.RUnlock when it is
// done, unless begin fails.
func (w *Writer) begin() error {
	w.life.RLock()
	if w.closed {
		w.life.RUnlock()
		return errors.New("history writer is closed")
	}
	return nil
}

func (w *Writer) source(name string) *sourceState {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.sources[name]
	if !ok {
		st = newSourceState()
		w.sources[name] = st
	}
	return st
}

func newSourceState() *sourceState {
	return &sourceState{backups: map[backupID]*backupState{}, repos: map[string]repoState{}, sums: summaries{}}
}

// AppendCatalog records one collection of a source: a row for each backup
// that is new or whose content changed since the last call, a removal row
// for each backup that was in the last catalog and is not in this one, and
// a row for each repository whose content changed or that has no row yet
// on the day it was observed. A catalog identical to the last one appends
// nothing. The restore tests a catalog reports are probe runs, which
// AppendNewProbes writes.
//
// Calls for different sources run in parallel; calls for one source are
// serialised. When writing fails, the state is left as it was, so the next
// call appends the same rows again.
func (w *Writer) AppendCatalog(source string, cat *model.Catalog) (Stats, error) {
	if source == "" {
		return Stats{}, errors.New("append catalog: empty source name")
	}
	if cat == nil {
		return Stats{}, fmt.Errorf("append catalog of %s: no catalog", source)
	}
	if err := w.begin(); err != nil {
		return Stats{}, fmt.Errorf("append catalog of %s: %w", source, err)
	}
	defer w.life.RUnlock()
	st := w.source(source)
	st.mu.Lock()
	defer st.mu.Unlock()

	now := micros(w.now())
	ch, err := st.diffBackups(source, cat.Backups, w.logger)
	if err != nil {
		return Stats{}, fmt.Errorf("append catalog of %s: %w", source, err)
	}
	repoRows, err := st.diffRepositories(source, cat.Repositories, now)
	if err != nil {
		return Stats{}, fmt.Errorf("append catalog of %s: %w", source, err)
	}

	stats := Stats{CollectedAt: now}
	if len(ch.changed)+len(ch.removed) > 0 {
		dir := filepath.Join(w.tableDir(TableBackups), partitionOf(now))
		_, err := publish(dir, now, nil, func(pw *parquet.GenericWriter[BackupRow]) error {
			return st.writeBackups(pw, source, cat.Backups, ch, now)
		})
		if err != nil {
			return stats, fmt.Errorf("append backups of %s: %w", source, err)
		}
	}
	st.applyBackups(source, cat.Backups, ch, now)
	stats.Backups, stats.Removed = len(ch.changed), len(ch.removed)
	if day := partitionOf(now); st.checkpointDay != day {
		// A checkpoint only spares readers work: when it cannot be
		// written, the rows are still complete, and the next catalog
		// tries again.
		if err := writeCheckpoint(w.root, source, now, st.retained(source, cat.Backups), st.sums); err != nil {
			w.logger.Warn("cannot write history checkpoint", "backup_source", source, "err", err)
		} else {
			st.checkpointDay = day
		}
	}

	for _, rows := range byDay(repoRows, func(r *RepositoryRow) time.Time { return r.ObservedAt }) {
		dir := filepath.Join(w.tableDir(TableRepositories), partitionOf(rows[0].ObservedAt))
		if _, err := writeFile(dir, now, rows, nil); err != nil {
			return stats, fmt.Errorf("append repositories of %s: %w", source, err)
		}
		for i := range rows {
			st.repos[rows[i].Name] = repoState{hash: rows[i].ContentHash, observedAt: rows[i].ObservedAt}
		}
		stats.Repositories += len(rows)
	}
	n, err := w.appendRequests(source, cat.Requests, now)
	if err != nil {
		return stats, err
	}
	stats.Requests = n
	if stats.CostLines, err = w.appendCostLines(source, cat.CostLines, now); err != nil {
		return stats, err
	}
	return stats, nil
}

// backupChanges is what one catalog changes: the backups that are new or
// changed, by index in the catalog, with their hashes, and the ids of the
// backups it no longer lists.
type backupChanges struct {
	gen     uint64
	changed []int
	hashes  []int64
	removed []backupID
}

// diffBackups compares a catalog with the state. It changes nothing but the
// marks of what it saw, so that a failed write leaves the state as it was.
func (st *sourceState) diffBackups(source string, backups []model.Backup, logger *slog.Logger) (backupChanges, error) {
	st.gen++
	ch := backupChanges{gen: st.gen}
	var fresh map[backupID]struct{}
	for i := range backups {
		b := &backups[i]
		if b.ID == "" {
			return ch, fmt.Errorf("backup %d of the catalog has no id", i)
		}
		if b.Source != "" && b.Source != source {
			return ch, fmt.Errorf("backup %s belongs to source %q", b.ID, b.Source)
		}
		k := backupKey(b.Dataset, b.ID)
		prev, known := st.backups[k]
		if known && prev.gen == ch.gen {
			logger.Warn("catalog lists a backup twice, keeping the first", "backup_source", source, "id", b.ID)
			continue
		}
		if !known {
			if _, dup := fresh[k]; dup {
				logger.Warn("catalog lists a backup twice, keeping the first", "backup_source", source, "id", b.ID)
				continue
			}
			if fresh == nil {
				fresh = map[backupID]struct{}{}
			}
			fresh[k] = struct{}{}
		}
		hash := backupHash(source, b)
		if known {
			prev.gen = ch.gen
			if prev.hash == hash {
				continue
			}
		}
		ch.changed = append(ch.changed, i)
		ch.hashes = append(ch.hashes, hash)
	}
	for id, s := range st.backups {
		if s.gen != ch.gen {
			ch.removed = append(ch.removed, id)
		}
	}
	slices.SortFunc(ch.removed, func(a, b backupID) int { return cmp.Or(cmp.Compare(a.dataset, b.dataset), cmp.Compare(a.id, b.id)) })
	if len(backups) == 0 && len(ch.removed) > 0 {
		logger.Warn("empty catalog removes every known backup", "backup_source", source, "removed", len(ch.removed))
	}
	return ch, nil
}

// writeBackups writes the rows of a catalog's changes in batches, so that
// a large first catalog is never held as rows all at once.
func (st *sourceState) writeBackups(pw *parquet.GenericWriter[BackupRow], source string, backups []model.Backup, ch backupChanges, now time.Time) error {
	batch := make([]BackupRow, 0, min(readBatch, len(ch.changed)+len(ch.removed)))
	flush := func() error {
		_, err := pw.Write(batch)
		batch = batch[:0]
		return err
	}
	for k, i := range ch.changed {
		row := BackupRowOf(&backups[i], now)
		row.Source, row.ContentHash = source, ch.hashes[k]
		batch = append(batch, row)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	for _, k := range ch.removed {
		batch = append(batch, st.backups[k].removalRow(k, source, now))
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if len(batch) > 0 {
		return flush()
	}
	return nil
}

// backupID identifies a backup within its source: ids are unique per
// dataset (pgBackRest labels repeat across stanzas), as model.Backup.Key.
// A struct, not a joined string, so that looking a backup up allocates
// nothing.
type backupID struct{ dataset, id string }

func backupKey(dataset, id string) backupID { return backupID{dataset, id} }

// applyBackups makes the state reflect changes that were written.
func (st *sourceState) applyBackups(source string, backups []model.Backup, ch backupChanges, now time.Time) {
	for k, i := range ch.changed {
		b := &backups[i]
		st.sums.add(b.Env, b.Dataset, b.Release, string(b.Status), micros(b.Start), micros(b.End), now, false)
		// The state outlives the catalog, so it keeps copies: a catalog's
		// strings may be parts of a larger buffer (the s3 collector's
		// locations), which one kept id would keep whole for as long as
		// the backup lives (TestStateKeepsNoPartOfTheCatalog).
		st.backups[backupKey(intern(b.Dataset), strings.Clone(b.ID))] = &backupState{
			hash:        ch.hashes[k],
			collectedAt: stampOf(now),
			env:         handle(b.Env),
			typ:         handle(string(b.Type)),
			status:      handle(string(b.Status)),
			release:     handle(b.Release),
			start:       stampOf(b.Start),
			end:         stampOf(b.End),
			gen:         ch.gen,
		}
	}
	for _, id := range ch.removed {
		s := st.backups[id]
		st.sums.add(s.env.Value(), id.dataset, s.release.Value(), s.status.Value(), s.start.time(), s.end.time(), now, true)
		delete(st.backups, id)
	}
}

// retained returns the rows of a backup checkpoint of the state just
// applied from a catalog: each backup the catalog lists, once, in its
// latest version with the time that version was collected, in the order
// compareRetained gives. Rows are made as the writer asks for them.
func (st *sourceState) retained(source string, backups []model.Backup) rowSource {
	idx := make([]int, 0, len(st.backups))
	seen := make(map[backupID]struct{}, len(st.backups))
	for i := range backups {
		b := &backups[i]
		k := backupKey(b.Dataset, b.ID)
		if _, dup := seen[k]; dup {
			continue
		}
		if _, ok := st.backups[k]; !ok {
			continue
		}
		seen[k] = struct{}{}
		idx = append(idx, i)
	}
	slices.SortFunc(idx, func(i, j int) int {
		a, b := &backups[i], &backups[j]
		return cmp.Or(cmp.Compare(a.Dataset, b.Dataset), micros(a.End).Compare(micros(b.End)), cmp.Compare(a.ID, b.ID))
	})
	return rowSource{n: len(idx), row: func(k int) BackupRow {
		b := &backups[idx[k]]
		s := st.backups[backupKey(b.Dataset, b.ID)]
		row := BackupRowOf(b, s.collectedAt.time())
		row.Source, row.ContentHash = source, s.hash
		return row
	}}
}

// intern shares the storage of the few distinct values a column like env
// or dataset has across all backups.
func intern(s string) string { return unique.Make(s).Value() }

// removalRow is the row that records the backup leaving its catalog. It
// repeats the identity of the last version; the other columns are empty.
func (s *backupState) removalRow(k backupID, source string, at time.Time) BackupRow {
	identity := model.Backup{
		Source:  source,
		Env:     s.env.Value(),
		Dataset: k.dataset,
		ID:      k.id,
		Type:    model.BackupType(s.typ.Value()),
		Release: s.release.Value(),
		Start:   s.start.time(),
		End:     s.end.time(),
		Status:  model.Status(s.status.Value()),
	}
	r := BackupRowOf(&identity, at)
	r.Removed = true
	return r
}

// diffRepositories returns the repository rows to append.
func (st *sourceState) diffRepositories(source string, repos []model.Repository, now time.Time) ([]RepositoryRow, error) {
	var rows []RepositoryRow
	seen := make(map[string]struct{}, len(repos))
	for i := range repos {
		r := &repos[i]
		if r.Name == "" {
			return nil, fmt.Errorf("repository %d of the catalog has no name", i)
		}
		if r.Source != "" && r.Source != source {
			return nil, fmt.Errorf("repository %s belongs to source %q", r.Name, r.Source)
		}
		if _, dup := seen[r.Name]; dup {
			continue
		}
		seen[r.Name] = struct{}{}
		row := RepositoryRowOf(r)
		row.Source = source
		if row.ObservedAt.IsZero() {
			row.ObservedAt = now
		}
		row.ContentHash = row.contentHash()
		prev, ok := st.repos[r.Name]
		if ok && prev.hash == row.ContentHash && sameDay(prev.observedAt, row.ObservedAt) {
			continue
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func sameDay(a, b time.Time) bool {
	return a.UTC().Format(dayLayout) == b.UTC().Format(dayLayout)
}

// byDay groups rows by the UTC day of their time, days in order.
func byDay[T any](rows []T, at func(*T) time.Time) [][]T {
	if len(rows) == 0 {
		return nil
	}
	groups := map[string][]T{}
	for i := range rows {
		d := at(&rows[i]).UTC().Format(dayLayout)
		groups[d] = append(groups[d], rows[i])
	}
	days := make([]string, 0, len(groups))
	for d := range groups {
		days = append(days, d)
	}
	slices.Sort(days)
	out := make([][]T, 0, len(days))
	for _, d := range days {
		out = append(out, groups[d])
	}
	return out
}

// AppendProbes records probe runs. A run whose id is already in the history
// is skipped, so recording the same run twice is harmless.
func (w *Writer) AppendProbes(results ...model.ProbeResult) error {
	_, err := w.AppendNewProbes(results...)
	return err
}

// AppendNewProbes is AppendProbes, and returns the runs it wrote: those
// whose id the history did not hold, each id once, in the version given
// first. A source that reports the same restore tests in every collection
// learns from it which ones are new. On error it returns the runs it
// wrote before the error (runs are written a day at a time).
func (w *Writer) AppendNewProbes(results ...model.ProbeResult) ([]model.ProbeResult, error) {
	if err := w.begin(); err != nil {
		return nil, fmt.Errorf("append probe results: %w", err)
	}
	defer w.life.RUnlock()
	w.probeMu.Lock()
	defer w.probeMu.Unlock()
	var rows []ProbeRow
	given := map[string]*model.ProbeResult{}
	for i := range results {
		p := &results[i]
		if p.RunID == "" {
			return nil, fmt.Errorf("append probe result of %s: no run id", p.Probe)
		}
		if p.Start.IsZero() {
			return nil, fmt.Errorf("append probe run %s: no start time", p.RunID)
		}
		if _, ok := w.probeRuns[p.RunID]; ok {
			continue
		}
		if _, ok := given[p.RunID]; ok {
			continue
		}
		rows = append(rows, ProbeRowOf(p))
		given[p.RunID] = p
	}
	var written []model.ProbeResult
	now := micros(w.now())
	for _, day := range byDay(rows, func(r *ProbeRow) time.Time { return r.StartTime }) {
		dir := filepath.Join(w.tableDir(TableProbes), partitionOf(day[0].StartTime))
		if _, err := writeFile(dir, now, day, nil); err != nil {
			return written, fmt.Errorf("append probe results: %w", err)
		}
		for i := range day {
			w.probeRuns[day[i].RunID] = struct{}{}
			written = append(written, *given[day[i].RunID])
		}
	}
	return written, nil
}

// The columns the duplicate filter is rebuilt from, in the order the
// rebuild reads them.
const (
	bkSource = iota
	bkEnv
	bkDataset
	bkID
	bkType
	bkRelease
	bkStart
	bkEnd
	bkStatus
	bkRemoved
	bkCollectedAt
	bkHash
)

func backupKeyColumns() []string {
	return []string{
		"source", "env", "dataset", "id", "type", "release", "start_time", "end_time",
		"status", "removed", "collected_at", "content_hash",
	}
}

// rebuild reads the duplicate filter back from the files: the latest
// version of every backup (dropping those whose latest row is a removal),
// the latest row of every repository, and every probe run id. It reads only
// the columns it needs, and for each source with a recent checkpoint only
// that checkpoint and the backups rows collected since (see restart); with
// full set it reads every backups row, as for a source without one.
func (w *Writer) rebuild(full bool) error {
	r, err := findRestart(w.root)
	if err != nil {
		return fmt.Errorf("rebuild backup state: %w", err)
	}
	for source, day := range r.day {
		w.source(source).checkpointDay = day
	}
	if full {
		r.at = nil
	}
	if err := w.rebuildFromCheckpoints(r); err != nil {
		return fmt.Errorf("rebuild backup state: %w", err)
	}
	err = eachFile(w.tableDir(TableBackups), func(path string) error {
		return readColumnGroups(path, backupKeyColumns(), r.skipBackups, func(v []parquet.Value) error {
			if !r.wants(valueString(v[bkSource]), valueMicros(v[bkCollectedAt])) {
				return nil
			}
			w.rebuildRow(v, true)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("rebuild backup state: %w", err)
	}
	for _, st := range w.sources {
		for id, s := range st.backups {
			if s.removed {
				delete(st.backups, id)
			}
		}
	}
	err = scanColumns(w.tableDir(TableRepositories), []string{"source", "name", "observed_at", "content_hash"}, func(v []parquet.Value) error {
		st := w.source(valueString(v[0]))
		name, observed := valueString(v[1]), valueMicros(v[2])
		if prev, ok := st.repos[name]; ok && prev.observedAt.After(observed) {
			return nil
		}
		st.repos[name] = repoState{hash: v[3].Int64(), observedAt: observed}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild repository state: %w", err)
	}
	err = scanColumns(w.tableDir(TableProbes), []string{"run_id"}, func(v []parquet.Value) error {
		w.probeRuns[valueString(v[0])] = struct{}{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild probe state: %w", err)
	}
	err = scanColumns(w.tableDir(TableEvents), []string{"id"}, func(v []parquet.Value) error {
		w.eventIDs[valueString(v[0])] = struct{}{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild event state: %w", err)
	}
	if err := w.rebuildCostLines(); err != nil {
		return fmt.Errorf("rebuild cost line state: %w", err)
	}
	return w.rebuildRequests()
}

// rebuildRow folds the key columns of one backups row into its source's
// state, unless the state holds a later version; sum adds it to the
// source's series summaries too.
func (w *Writer) rebuildRow(v []parquet.Value, sum bool) {
	source, id, collected := valueString(v[bkSource]), valueString(v[bkID]), valueMicros(v[bkCollectedAt])
	st := w.source(source)
	if sum {
		st.sums.add(valueString(v[bkEnv]), valueString(v[bkDataset]), valueString(v[bkRelease]), valueString(v[bkStatus]),
			valueMicros(v[bkStart]), valueMicros(v[bkEnd]), collected, v[bkRemoved].Boolean())
	}
	k := backupKey(intern(valueString(v[bkDataset])), id)
	if prev, ok := st.backups[k]; ok && prev.collectedAt.time().After(collected) {
		return
	}
	st.backups[k] = &backupState{
		hash:        v[bkHash].Int64(),
		collectedAt: stampOf(collected),
		env:         handle(valueString(v[bkEnv])),
		typ:         handle(valueString(v[bkType])),
		status:      handle(valueString(v[bkStatus])),
		release:     handle(valueString(v[bkRelease])),
		start:       stampOf(valueMicros(v[bkStart])),
		end:         stampOf(valueMicros(v[bkEnd])),
		removed:     v[bkRemoved].Boolean(),
	}
}

// rebuildFromCheckpoints starts the state of each source with a checkpoint
// from it: the backups it retained and its series summaries.
func (w *Writer) rebuildFromCheckpoints(r restart) error {
	if len(r.at) == 0 {
		return nil
	}
	names := append(backupKeyColumns(), "checkpoint_at")
	at := len(names) - 1
	err := eachFileIn(r.checkpointPartitions(w.tableDir(TableBackupCheckpoints)), func(path string) error {
		return readColumnGroups(path, names, r.skipCheckpoints, func(v []parquet.Value) error {
			if r.wantsCheckpoint(valueString(v[bkSource]), valueMicros(v[at]), valueMicros(v[bkCollectedAt])) {
				w.rebuildRow(v, false)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read backup checkpoints: %w", err)
	}
	names = []string{"source", "env", "dataset", "release", "first_seen", "first_good", "last_collected_at", "checkpoint_at"}
	err = eachFileIn(r.checkpointPartitions(w.tableDir(TableSeriesCheckpoints)), func(path string) error {
		return readColumnGroups(path, names, r.skipCheckpoints, func(v []parquet.Value) error {
			source := valueString(v[0])
			if at, ok := r.at[source]; !ok || !at.Equal(valueMicros(v[7])) {
				return nil
			}
			k := seriesRelease{intern(valueString(v[1])), intern(valueString(v[2])), intern(valueString(v[3]))}
			w.source(source).sums[k] = &seriesSummary{firstSeen: valueMicros(v[4]), firstGood: valueMicros(v[5]), last: valueMicros(v[6])}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("read series checkpoints: %w", err)
	}
	return nil
}

// seriesSummaries returns the series summaries of every source the writer
// knows, as of its last append.
func (w *Writer) seriesSummaries() []SeriesCheckpointRow {
	w.mu.Lock()
	names := make([]string, 0, len(w.sources))
	for n := range w.sources {
		names = append(names, n)
	}
	w.mu.Unlock()
	slices.Sort(names)
	var out []SeriesCheckpointRow
	for _, n := range names {
		st := w.source(n)
		st.mu.Lock()
		out = append(out, st.sums.rows(n, time.Time{})...)
		st.mu.Unlock()
	}
	return out
}

// Snapshot is the current state the history records, as a restarted
// exporter needs it.
type Snapshot struct {
	// Backups holds, per source, the backups whose latest row is not a
	// removal, in their latest version, ordered by start time and id.
	Backups map[string][]model.Backup
	// Repositories holds, per source, the latest row of each repository,
	// ordered by name.
	Repositories map[string][]model.Repository
	// Probes holds the latest run of each probe, by probe name.
	Probes map[string]model.ProbeResult
	// ProbeSuccesses holds the latest successful run of each probe that
	// ever succeeded, by probe name: after a restart the time of the last
	// good restore is not forgotten because the latest run failed.
	ProbeSuccesses map[string]model.ProbeResult
	// Series summarises every backups row of every series and release, as
	// the series checkpoints do: when each release was first seen, when its
	// first good backup ended, and when a row of it was last written.
	Series []SeriesCheckpointRow
	// WALSince holds, per source and repository name, the first
	// observation with the repository's current newest WAL segment; absent
	// for repositories that keep no WAL.
	WALSince map[string]map[string]time.Time
}

// Latest reads the current state back from the files. For each source
// with a recent checkpoint it reads that checkpoint and the backups rows
// collected since, not the whole history.
func (w *Writer) Latest() (*Snapshot, error) { return w.latest(false) }

// latest is Latest; with full set it reads every backups row, as for a
// source without a checkpoint.
func (w *Writer) latest(full bool) (*Snapshot, error) {
	if err := w.begin(); err != nil {
		return nil, fmt.Errorf("read latest state: %w", err)
	}
	defer w.life.RUnlock()
	w.compactMu.Lock()
	defer w.compactMu.Unlock()

	var start restart
	if !full {
		var err error
		if start, err = findRestart(w.root); err != nil {
			return nil, fmt.Errorf("read latest backups: %w", err)
		}
	}
	type key struct {
		source string
		id     backupID
	}
	backups := map[key]BackupRow{}
	keep := func(r *BackupRow) {
		k := key{r.Source, backupKey(r.Dataset, r.ID)}
		if prev, ok := backups[k]; ok && prev.CollectedAt.After(r.CollectedAt) {
			return
		}
		row := *r
		row.Paths = slices.Clone(r.Paths)
		backups[k] = row
	}
	err := eachFileIn(start.checkpointPartitions(w.tableDir(TableBackupCheckpoints)), func(path string) error {
		return scanFile(path, start.skipCheckpoints, func(r *BackupCheckpointRow) error {
			if start.wantsCheckpoint(r.Source, r.CheckpointAt, r.CollectedAt) {
				keep(&r.BackupRow)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read latest backups: %w", err)
	}
	err = eachFile(w.tableDir(TableBackups), func(path string) error {
		return scanFile(path, start.skipBackups, func(r *BackupRow) error {
			if start.wants(r.Source, r.CollectedAt) {
				keep(r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read latest backups: %w", err)
	}
	type repoKey struct{ source, name string }
	type walSeen struct {
		at  time.Time
		wal string
	}
	repos := map[repoKey]RepositoryRow{}
	walRows := map[repoKey][]walSeen{}
	err = scanTable(w.tableDir(TableRepositories), func(r *RepositoryRow) error {
		k := repoKey{r.Source, r.Name}
		walRows[k] = append(walRows[k], walSeen{r.ObservedAt, r.WALMax})
		if prev, ok := repos[k]; ok && prev.ObservedAt.After(r.ObservedAt) {
			return nil
		}
		repos[k] = *r
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read latest repositories: %w", err)
	}
	probes, successes := map[string]ProbeRow{}, map[string]ProbeRow{}
	newer := func(m map[string]ProbeRow, r *ProbeRow) bool {
		prev, ok := m[r.Probe]
		return !ok || r.StartTime.After(prev.StartTime) || r.StartTime.Equal(prev.StartTime) && r.RunID > prev.RunID
	}
	err = scanTable(w.tableDir(TableProbes), func(r *ProbeRow) error {
		latest, success := newer(probes, r), r.Success && newer(successes, r)
		if !latest && !success {
			return nil
		}
		row := *r
		row.TablesMismatched = slices.Clone(r.TablesMismatched)
		if r.AchievedRPOSeconds != nil {
			v := *r.AchievedRPOSeconds
			row.AchievedRPOSeconds = &v
		}
		if latest {
			probes[r.Probe] = row
		}
		if success {
			successes[r.Probe] = row
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read latest probe results: %w", err)
	}

	snap := &Snapshot{
		Backups:      map[string][]model.Backup{},
		Repositories: map[string][]model.Repository{},
		Probes:       map[string]model.ProbeResult{},

		ProbeSuccesses: map[string]model.ProbeResult{},
	}
	for _, r := range backups {
		if r.Removed {
			continue
		}
		b, err := r.Backup()
		if err != nil {
			return nil, fmt.Errorf("read latest backups: %w", err)
		}
		snap.Backups[r.Source] = append(snap.Backups[r.Source], b)
	}
	for _, bs := range snap.Backups {
		slices.SortFunc(bs, func(a, b model.Backup) int {
			return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID))
		})
	}
	snap.WALSince = map[string]map[string]time.Time{}
	for k, r := range repos {
		snap.Repositories[r.Source] = append(snap.Repositories[r.Source], r.Repository())
		if r.WALMax == "" {
			continue
		}
		// The current WAL segment has been the newest since the first row
		// of the run of rows that name it, as the analyzer reads it.
		rows := walRows[k]
		slices.SortFunc(rows, func(a, b walSeen) int { return a.at.Compare(b.at) })
		since := time.Time{}
		for i := len(rows) - 1; i >= 0 && rows[i].wal == r.WALMax; i-- {
			since = rows[i].at
		}
		if snap.WALSince[k.source] == nil {
			snap.WALSince[k.source] = map[string]time.Time{}
		}
		snap.WALSince[k.source][k.name] = since
	}
	snap.Series = w.seriesSummaries()
	for _, rs := range snap.Repositories {
		slices.SortFunc(rs, func(a, b model.Repository) int { return cmp.Compare(a.Name, b.Name) })
	}
	for name, r := range probes {
		snap.Probes[name] = r.ProbeResult()
	}
	for name, r := range successes {
		snap.ProbeSuccesses[name] = r.ProbeResult()
	}
	return snap, nil
}

// FailedSince returns the backup attempts made after from that failed or
// half-failed, each in its newest version that is not a removal row,
// including those no catalog retains any more: what the failures check
// reads, read the way the analyzer reads it (the partitions from from's
// day on; a version of an attempt made after from was collected after
// from too).
func (w *Writer) FailedSince(from time.Time) ([]model.Backup, error) {
	if err := w.begin(); err != nil {
		return nil, fmt.Errorf("read failed backups: %w", err)
	}
	defer w.life.RUnlock()
	w.compactMu.Lock()
	defer w.compactMu.Unlock()
	parts, err := partitions(w.tableDir(TableBackups))
	if err != nil {
		return nil, fmt.Errorf("read failed backups: %w", err)
	}
	first := partitionOf(from)
	parts = slices.DeleteFunc(parts, func(dir string) bool { return filepath.Base(dir) < first })
	type key struct {
		source string
		id     backupID
	}
	newest := map[key]BackupRow{}
	err = eachFileIn(parts, func(path string) error {
		return scanFile(path, nil, func(r *BackupRow) error {
			if r.Removed || !cmp.Or(r.EndTime, r.StartTime).After(from) {
				return nil
			}
			k := key{r.Source, backupKey(r.Dataset, r.ID)}
			if prev, ok := newest[k]; ok && !r.CollectedAt.After(prev.CollectedAt) {
				return nil
			}
			row := *r
			row.Paths = slices.Clone(r.Paths)
			newest[k] = row
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read failed backups: %w", err)
	}
	var out []model.Backup
	for _, r := range newest {
		if r.Status != string(model.StatusFailed) && r.Status != string(model.StatusPartial) {
			continue
		}
		b, err := r.Backup()
		if err != nil {
			return nil, fmt.Errorf("read failed backups: %w", err)
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b model.Backup) int { return model.CompareRecency(&a, &b) })
	return out, nil
}
