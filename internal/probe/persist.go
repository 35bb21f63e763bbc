package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// stopSinkWait bounds how long a stop waits for a call of Sink that is in
// progress. A result whose call does not return in time stays in the
// pending file and is handed to Sink again after the next start.
const stopSinkWait = 30 * time.Second

// pendingState is the content of the pending file.
type pendingState struct {
	Results []*pendingResult `json:"results"`
}

// persist hands pending results to Sink, oldest first, and retries one that
// Sink refused with a growing backoff until it is taken. It returns when
// ctx is done.
func (m *Manager) persist(ctx context.Context) {
	delay := sinkRetryMin
	for {
		m.mu.Lock()
		var next *pendingResult
		if len(m.pending) > 0 {
			next = m.pending[0]
		}
		m.mu.Unlock()
		if next == nil {
			select {
			case <-m.wake:
				continue
			case <-ctx.Done():
				return
			}
		}
		err := m.opts.Sink(next.Result)
		m.mu.Lock()
		if err == nil {
			next.Written = true
			m.pending = slices.DeleteFunc(m.pending, func(p *pendingResult) bool { return p == next })
			m.sinkErr = nil
			if next.run != nil {
				next.run.History, next.run.HistoryError = HistoryWritten, ""
			}
			m.mu.Unlock()
			m.savePending()
			delay = sinkRetryMin
			continue
		}
		m.sinkErr = err
		if next.run != nil {
			next.run.HistoryError = err.Error()
		}
		waiting := len(m.pending)
		m.mu.Unlock()
		m.log.Error("probe result not written to history; retrying", "probe", next.Result.Probe, "run_id", next.Result.RunID, "pending", waiting, "retry_in", delay, "err", err)
		select {
		case <-m.retryAfter(delay):
		case <-ctx.Done():
			return
		}
		delay = min(2*delay, sinkRetryMax)
	}
}

// stopPersist stops the persisting goroutine, waiting at most stopSinkWait
// for a call of Sink in progress.
func (m *Manager) stopPersist() {
	m.persistCancel()
	t := time.NewTimer(m.stopWait)
	defer t.Stop()
	select {
	case <-m.persistStopped:
	case <-t.C:
		m.log.Error("history did not take a probe result in time; it stays pending in the state directory", "wait", m.stopWait)
	}
}

// pendingFull refuses a new run while the results waiting for Sink, with
// one for every run under way, would pass maxPending. m.mu is held.
func (m *Manager) pendingFull() error {
	active := 0
	for _, e := range m.entries {
		if e.active != nil {
			active++
		}
	}
	if len(m.pending)+active < maxPending {
		return nil
	}
	return &refusedError{status: http.StatusServiceUnavailable, msg: fmt.Sprintf("%d probe results wait to be written to history (last error: %v); no probe starts until they are written", len(m.pending), m.sinkErr)}
}

// savePending writes the results Sink has not taken and those of cancelled
// runs to the pending file, or removes the file when there are none.
// Writers are serialised so that the file always holds the latest list.
func (m *Manager) savePending() {
	m.fileMu.Lock()
	defer m.fileMu.Unlock()
	m.mu.Lock()
	var st pendingState
	for _, p := range slices.Concat(m.pending, m.handover) {
		if !slices.Contains(st.Results, p) {
			st.Results = append(st.Results, p)
		}
	}
	data, err := json.MarshalIndent(st, "", "  ")
	m.mu.Unlock()
	path := filepath.Join(m.opts.StateDir, pendingFile)
	if len(st.Results) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			m.log.Error("remove the file of pending probe results", "file", path, "err", err)
		}
		return
	}
	if err == nil {
		err = writeFileSync(path, data)
	}
	if err != nil {
		// The results are still held in memory and retried; only a crash
		// before they are written would lose them now.
		m.log.Error("keep pending probe results in the state directory", "file", path, "results", len(st.Results), "err", err)
	}
}

// readPending reads the pending file of dir; a missing file is no results.
func readPending(dir string) ([]*pendingResult, error) {
	data, err := os.ReadFile(filepath.Join(dir, pendingFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read pending probe results: %w", err)
	}
	var st pendingState
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("read pending probe results of %s: %w", filepath.Join(dir, pendingFile), err)
	}
	return st.Results, nil
}

// adopt serves results an earlier manager left in the pending file and
// queues those Sink has not taken. A run already known (seeded from
// history or from the previous manager) is not listed twice. m.mu is held.
func (m *Manager) adopt(results []*pendingResult) {
	for _, p := range results {
		if p == nil || p.Result.RunID == "" {
			continue
		}
		res := p.Result
		var ri *runInfo
		for _, r := range m.runs {
			if r.ID == res.RunID {
				ri = r
			}
		}
		if ri == nil {
			ri = &runInfo{ID: res.RunID, Probe: res.Probe, Trigger: p.Trigger, State: StateFinished, Queued: res.Start, Result: &res}
			m.runs = append(m.runs, ri)
		}
		ri.History = HistoryWritten
		m.record(res)
		if !p.Written {
			ri.History = HistoryPending
			m.pending = append(m.pending, &pendingResult{Result: res, Trigger: p.Trigger, run: ri})
		}
	}
	slices.SortStableFunc(m.runs, func(a, b *runInfo) int { return a.Queued.Compare(b.Queued) })
	m.prune()
}
