package main

import "github.com/restorable/restorable/internal/model"

// eventsCommitted receives the release events of each group commit of the
// event journal, in journal order, and at start every event of the
// journal. It is replaced at merge by the release work.
func (a *app) eventsCommitted(evs []model.Event) {}
