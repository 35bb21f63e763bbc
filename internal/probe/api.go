package probe

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/server"
)

// probeStatus is one configured probe as GET /api/v1/probes shows it.
type probeStatus struct {
	Name        string             `json:"name"`
	Kind        string             `json:"kind"`
	Env         string             `json:"env,omitempty"`
	Source      string             `json:"source,omitempty"`
	Schedule    string             `json:"schedule,omitempty"`
	NextRun     time.Time          `json:"next_run,omitzero"`
	Timeout     string             `json:"timeout"`
	ActiveRun   string             `json:"active_run,omitempty"`
	Last        *model.ProbeResult `json:"last,omitempty"`
	LastSuccess time.Time          `json:"last_success,omitzero"`
}

// listResponse is the body of GET /api/v1/probes.
type listResponse struct {
	Probes []probeStatus `json:"probes"`
	// Runs are the recent runs, newest first: queued and running ones and
	// the last probing.keep_results that finished or were skipped.
	Runs []runInfo `json:"runs"`
}

// HandleList serves GET /api/v1/probes: every configured probe with its
// latest result, and the recent runs, newest first.
func (m *Manager) HandleList(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	resp := listResponse{Probes: make([]probeStatus, 0, len(m.names)), Runs: make([]runInfo, 0, len(m.runs))}
	for _, name := range m.names {
		e := m.entries[name]
		ps := probeStatus{Name: name, Kind: e.probe.Kind, Env: m.probeEnv(e.probe), Source: e.probe.Source, Schedule: e.probe.Schedule, NextRun: e.next, Timeout: e.probe.Timeout.String(), LastSuccess: m.lastOK[name].Start}
		if e.active != nil {
			ps.ActiveRun = e.active.ID
		}
		if last, ok := m.latest[name]; ok {
			ps.Last = &last
		}
		resp.Probes = append(resp.Probes, ps)
	}
	for _, ri := range slices.Backward(m.runs) {
		resp.Runs = append(resp.Runs, *ri)
	}
	m.mu.Unlock()
	server.WriteJSON(w, http.StatusOK, resp)
}

// HandleRun serves POST /api/v1/probes/{name}/run: it queues a run of the
// probe and answers 202 with its id. It answers 404 for an unknown probe,
// 409 when a run of the probe is already queued or running or its
// environment is in a quiet window, and 503 while the exporter starts or
// stops.
func (m *Manager) HandleRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	id, err := m.RunNow(name)
	if err != nil {
		var re *refusedError
		status := http.StatusInternalServerError
		body := map[string]string{"error": err.Error()}
		if errors.As(err, &re) {
			status = re.status
			if re.runID != "" {
				body["run_id"] = re.runID
			}
		}
		server.WriteJSON(w, status, body)
		return
	}
	m.log.Info("probe run requested", "probe", name, "run_id", id)
	server.WriteJSON(w, http.StatusAccepted, map[string]string{"run_id": id, "log": "/api/v1/probes/runs/" + id + "/log"})
}

// HandleLog serves GET /api/v1/probes/runs/{id}/log: the text log of a run,
// while it runs and after it finished (also after a restart, for the last
// probing.keep_results runs).
func (m *Manager) HandleLog(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validRunID(id) {
		server.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no such run"})
		return
	}
	var data []byte
	m.mu.Lock()
	for _, ri := range m.runs {
		if ri.ID == id && ri.log != nil {
			data = ri.log.Bytes()
		}
	}
	m.mu.Unlock()
	if data == nil {
		var err error
		data, err = os.ReadFile(filepath.Join(m.opts.StateDir, logsSubdir, id+logSuffix))
		if err != nil {
			server.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "no log of run " + id})
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}
