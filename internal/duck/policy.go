package duck

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// Evaluate fills the one policy input from the history at at, with the
// release check looking back to since, and evaluates it with
// internal/policy, as the exporter does with its live state. It reads:
// the backups retained at at (BuildState, which it leaves in the state
// table), what the whole history knows of each series (release sightings,
// when each series last changed), the failed attempts within the failures
// window, the repositories observed within the period (or the longest
// restore-test interval when that is longer), each probe's newest run
// and newest success (and those of each restore test a configured source
// reported), and the release events received by at.
func (d *DB) Evaluate(ctx context.Context, cfg *config.Config, at, since time.Time, logger *slog.Logger) (*policy.Result, *SeriesHistory, error) {
	if err := d.Require(TableBackups); err != nil {
		return nil, nil, err
	}
	started := time.Now()
	step := func(name string) {
		logger.Debug("evaluated", "step", name, "took", time.Since(started))
		started = time.Now()
	}
	if err := d.BuildState(ctx, at); err != nil {
		return nil, nil, err
	}
	step("state")
	hist, err := d.SeriesHistory(ctx, at)
	if err != nil {
		return nil, nil, err
	}
	step("series history")
	in := policy.Input{At: at, Since: since, Sightings: hist.Sightings, Seen: hist.LastSeen}
	if in.Sightings == nil {
		in.Sightings = []policy.ReleaseSighting{}
	}
	in.Attempts, err = d.Attempts(ctx, at.Add(-cfg.Checks.Failures.Window.D()), at)
	if err != nil {
		return nil, nil, err
	}
	if in.Attempts == nil {
		in.Attempts = []model.Backup{}
	}
	step("failures")
	// Repositories are read from the period, or from the longest restore
	// test interval when that is longer: a repository the writer has not
	// observed for that long is no longer collected.
	recent := since
	for _, env := range cfg.Environments {
		if t := at.Add(-env.RestoreTestEvery.D()); t.Before(recent) {
			recent = t
		}
	}
	repos, err := d.RepositoriesSince(ctx, recent, at)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range repos {
		in.Repositories = append(in.Repositories, policy.RepositoryState{Repository: r.Repository, WALSince: r.WALSince})
	}
	step("repositories")
	// Each configured probe's newest run and newest success, from the
	// whole history: read from the window first, and only for the probes
	// without a success in it from every partition. The restore tests
	// that configured sources reported are read from the whole history:
	// the exporter remembers every one, and their names are not in the
	// configuration.
	runs, err := d.ProbesSince(ctx, recent, at)
	if err != nil {
		return nil, nil, err
	}
	succeeded := map[string]bool{}
	for _, st := range policy.ProbeStates(runs) {
		succeeded[st.Newest.Probe] = st.NewestSuccess != nil
	}
	var older []string
	for _, p := range cfg.Probes {
		if !succeeded[p.Name] {
			older = append(older, p.Name)
		}
	}
	if len(older) > 0 {
		more, err := d.probesSince(ctx, time.Time{}, at, probeFilter{names: older})
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, more...)
	}
	sources := make([]string, 0, len(cfg.Sources))
	for _, s := range cfg.Sources {
		sources = append(sources, s.Name)
	}
	if len(sources) > 0 {
		reported, err := d.probesSince(ctx, time.Time{}, at, probeFilter{reportedBy: sources})
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, reported...)
	}
	in.Probes = policy.ProbeStates(runs)
	step("probes")
	if in.Events, err = d.Events(ctx, at); err != nil {
		return nil, nil, err
	}
	step("events")
	var readErr error
	in.Backups = func(yield func([]model.Backup) bool) {
		stop := fmt.Errorf("stopped")
		err := d.EachSeriesForPolicy(ctx, func(bs []model.Backup) error {
			if !yield(bs) {
				return stop
			}
			return nil
		})
		if err != nil && err != stop {
			readErr = err
		}
	}
	res := policy.Evaluate(cfg, in)
	if readErr != nil {
		return nil, nil, readErr
	}
	step("policy")
	return res, hist, nil
}

// Checksum returns the checksum of a backup of the state table (BuildState),
// empty when it has none.
func (d *DB) Checksum(ctx context.Context, source, dataset, id string) (string, error) {
	var sum string
	err := d.QueryRow(ctx, `SELECT coalesce(checksum, '') FROM state WHERE source = $1 AND dataset = $2 AND id = $3 LIMIT 1`, source, dataset, id).Scan(&sum)
	if err != nil {
		return "", fmt.Errorf("read the checksum of backup %s of %s: %w", id, source, err)
	}
	return sum, nil
}
