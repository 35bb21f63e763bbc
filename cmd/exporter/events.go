package main

import (
	"fmt"
	"net/http"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/events"
	"github.com/restorable/restorable/internal/server"
)

// appEvents is the release-events ingest of the exporter: the journal's
// ingester and the HTTP handler in front of it.
type appEvents struct {
	in      *events.Ingester
	handler *events.Handler
}

// openEvents opens the event journal when cfg has an events section and
// replays it through a.eventsCommitted before the exporter listens, so
// that everything derived from events is rebuilt before the first answer.
// Every later group commit goes through the same call.
func (a *app) openEvents(cfg *config.Config) error {
	if cfg.Events == nil {
		return nil
	}
	root := cfg.History.Root
	if a.opts.HistoryRoot != "" {
		root = a.opts.HistoryRoot
	}
	dir, err := cfg.Events.JournalPath(root)
	if err != nil {
		return err
	}
	in, err := events.Open(events.Options{
		Dir:        dir,
		QueueSize:  cfg.Events.QueueSize,
		OnCommit:   a.eventsCommitted,
		Now:        a.opts.Now,
		Logger:     a.opts.Logger,
		Registerer: a.opts.Registry,
	})
	if err != nil {
		return fmt.Errorf("open event journal: %w", err)
	}
	h, err := events.NewHandler(in, cfg, a.opts.Logger)
	if err != nil {
		_ = in.Close()
		return err
	}
	h.SetPrincipalOf(func(r *http.Request) (string, bool) {
		who, ok := server.PrincipalOf(r)
		return who.Name, ok
	})
	a.events = &appEvents{in: in, handler: h}
	return nil
}

// reconfigureEvents applies a reloaded events section: secrets and
// mappings at once; the journal's directory and queue only after a
// restart. It fails, changing nothing, when a secret cannot be read.
func (a *app) reconfigureEvents(cfg *config.Config) error {
	switch {
	case a.events == nil && cfg.Events != nil:
		a.opts.Logger.Warn("events: section added; the events API starts after a restart")
		return nil
	case a.events != nil && cfg.Events == nil:
		a.opts.Logger.Warn("events: section removed; the events API stays on until a restart")
		return nil
	case a.events == nil:
		return nil
	}
	return a.events.handler.Configure(cfg)
}

// eventsAPI is the events part of the HTTP API, nil when not configured.
func (a *app) eventsAPI() server.EventsAPI {
	if a.events == nil {
		return nil
	}
	return a.events.handler
}

func (a *app) closeEvents() {
	if a.events == nil {
		return
	}
	if err := a.events.in.Close(); err != nil {
		a.opts.Logger.Error("close event journal", "err", err)
	}
}
