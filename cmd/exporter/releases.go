package main

import (
	"context"
	"net/http"
	"time"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// eventsCommitted takes release events the events journal committed, in
// commit order; at every start the whole journal is replayed through it.
// It remembers them in the live state (once per event id, so a replay
// changes nothing), so the next evaluation, which every reader of the
// gate, its gauge and the finding and release metrics asks for, judges
// them, and queues the probes configured to validate a deploy (on_deploy).
// It does no I/O: the journal calls it before it answers the deliveries,
// and the events are durable in the journal already; flushEventsLoop
// appends them to the history in batches. Deploys acknowledged before
// this process started trigger no probe: the replay at start would
// otherwise run every probe for every deploy ever made.
func (a *app) eventsCommitted(evs []model.Event) {
	fresh := a.live.RememberEvents(evs)
	if len(fresh) == 0 {
		return
	}
	select {
	case a.eventsDirty <- struct{}{}:
	default: // a flush is pending already and takes these along
	}
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

// flushEventsLoop appends the remembered events to the history's events
// table whenever new ones arrive, one write for all that arrived during
// the previous one, and retries a failed write every evaluateEvery.
func (a *app) flushEventsLoop(ctx context.Context) {
	t := time.NewTicker(evaluateEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.eventsDirty:
		case <-t.C:
		}
		a.flushEvents()
	}
}

// flushEvents writes the events not yet in the history.
func (a *app) flushEvents() {
	n, err := a.live.FlushEvents()
	if err != nil {
		a.self.HistoryFailed()
		a.opts.Logger.Error("append events to history failed; retried, and the journal keeps them meanwhile", "err", err)
	} else if n > 0 && a.history != nil {
		a.self.HistoryWritten("events", n)
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
