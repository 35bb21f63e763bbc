package events

import (
	"encoding/json"

	"github.com/restorable/restorable/internal/model"
)

// argoNotification is what the notification template we ship
// (examples/argocd/argocd-notifications-cm.yaml) posts: the generic event's
// names where they apply, plus the application's deployment history, from
// which the adapter tells a rollback from a deploy.
type argoNotification struct {
	ID       string `json:"id"`
	App      string `json:"app"`
	Env      string `json:"env"`
	Dataset  string `json:"dataset"`
	Release  string `json:"release"`
	Revision string `json:"revision"`
	Phase    string `json:"phase"`
	Actor    string `json:"actor"`
	Time     string `json:"time"`
	URL      string `json:"url"`
	History  []struct {
		ID       int64  `json:"id"`
		Revision string `json:"revision"`
	} `json:"history"`
}

// argoResult maps an operation phase; Running and Terminating are not
// outcomes (the template's trigger does not send them).
func argoResult(phase string) (model.EventResult, bool) {
	switch phase {
	case "Succeeded":
		return model.ResultSucceeded, true
	case "Failed", "Error":
		return model.ResultFailed, true
	}
	return "", false
}

// argoRollback says whether a sync to revision is a rollback: a sync to a
// revision of an earlier deployment in the application's history, other
// than the one deployed just before (which would be a plain re-sync).
// After a successful sync the last history entry is the sync itself.
func argoRollback(revision string, history []string) bool {
	if n := len(history); n > 0 && history[n-1] == revision {
		history = history[:n-1]
	}
	n := len(history)
	if n < 2 || history[n-1] == revision {
		return false
	}
	for _, r := range history[:n-1] {
		if r == revision {
			return true
		}
	}
	return false
}

// parseArgoCD reads the body of our Argo CD notification template.
func parseArgoCD(d *Delivery, m *Mapping) (Parsed, error) {
	var p argoNotification
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return Parsed{}, jsonFieldError(err)
	}
	if p.App == "" {
		return Parsed{}, fieldErr("app", "required")
	}
	if p.Revision == "" {
		return Parsed{}, fieldErr("revision", "required")
	}
	res, ok := argoResult(p.Phase)
	if !ok {
		return ignored("operation phase %q is not an outcome", p.Phase)
	}
	t := d.Received.UTC()
	if p.Time != "" {
		var err error
		if t, err = parseTime("time", p.Time); err != nil {
			return Parsed{}, err
		}
	}
	revs := make([]string, len(p.History))
	for i, h := range p.History {
		revs[i] = h.Revision
	}
	kind := model.EventDeploy
	if argoRollback(p.Revision, revs) {
		kind = model.EventRollback
	}
	id := deliveryID(d.Header, "")
	if id == "" {
		id = p.ID
	}
	dataset := p.Dataset
	if dataset == "" {
		dataset = m.dataset(p.App)
	}
	release := p.Release
	if release == "" {
		release = p.Revision
	}
	return Parsed{Events: []model.Event{{
		ID: id, Sender: "argocd", Kind: kind, Env: m.env(p.Env), Dataset: dataset, Release: release,
		Revision: p.Revision, Actor: p.Actor, Result: res, Time: t, URL: p.URL,
	}}}, nil
}
