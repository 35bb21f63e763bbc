package main

import (
	"net/http"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// eventsCommitted takes release events the events journal committed, in
// commit order; at every start the whole journal is replayed through it.
// It records them (history first, then the live state, once per event
// id, so a replay changes nothing), renews the one evaluation, so that the
// gate, its gauge, the finding and release metrics change at once, and
// queues the probes configured to validate a deploy (on_deploy). Deploys
// acknowledged before this process started trigger no probe: the replay
// at start would otherwise run every probe for every deploy ever made.
func (a *app) eventsCommitted(evs []model.Event) {
	fresh, err := a.live.RecordEvents(evs)
	if err != nil {
		a.self.HistoryFailed()
		a.opts.Logger.Error("append events to history failed; retried with the next events", "err", err)
	} else if a.history != nil && len(fresh) > 0 {
		a.self.HistoryWritten("events", len(fresh))
	}
	if len(fresh) == 0 {
		return
	}
	a.current(evaluateEvery)
	m := a.probeManager()
	if m == nil {
		return
	}
	for _, ev := range fresh {
		if ev.Kind == model.EventDeploy && !policy.EventKnownAt(&ev).Before(a.started) {
			m.Deployed(ev)
		}
	}
}

// releasesAnswer is the answer of GET /api/v1/releases/{env}/{dataset}.
type releasesAnswer struct {
	Env         string                `json:"env"`
	Dataset     string                `json:"dataset"`
	EvaluatedAt time.Time             `json:"evaluated_at"`
	Releases    []policy.ReleaseEntry `json:"releases"`
}

// handleReleases serves GET /api/v1/releases/{env}/{dataset}: the
// releases of the dataset, newest first, each with the backup that
// precedes it, from the newest evaluation's reading of the events and the
// catalogs of the configured sources.
func (a *app) handleReleases(w http.ResponseWriter, r *http.Request) {
	env, dataset := r.PathValue("env"), r.PathValue("dataset")
	ev := a.current(gateAPIMaxAge)
	if _, ok := ev.cfg.Environments[env]; !ok {
		server.WriteJSON(w, http.StatusNotFound, map[string]string{"error": "unknown environment " + env})
		return
	}
	var track *policy.Track
	for i := range ev.result.Tracks {
		if t := &ev.result.Tracks[i]; t.Key == (policy.TrackKey{Env: env, Dataset: dataset}) {
			track = t
		}
	}
	var backups []model.Backup
	for _, src := range a.store.View().Sources {
		if src.Catalog == nil || ev.cfg.Source(src.Source) == nil {
			continue
		}
		for i := range src.Catalog.Backups {
			if b := &src.Catalog.Backups[i]; b.Env == env && b.Dataset == dataset {
				backups = append(backups, *b)
			}
		}
	}
	list := policy.ReleaseList(track, backups)
	if list == nil {
		list = []policy.ReleaseEntry{}
	}
	server.WriteJSON(w, http.StatusOK, releasesAnswer{Env: env, Dataset: dataset, EvaluatedAt: ev.result.At.UTC(), Releases: list})
}
