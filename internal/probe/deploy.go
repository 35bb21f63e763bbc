package probe

import (
	"cmp"

	"github.com/restorable/restorable/internal/model"
)

// TriggerDeploy is the trigger of a run that a deploy event started.
const TriggerDeploy = "deploy"

// Deployed queues a run of every probe whose on_deploy matches a
// successful deploy event: its environment (on_deploy.env, else the
// probe's, else its source's) and its dataset (on_deploy.dataset, else the
// probe's; any dataset when neither names one). It returns the ids of the
// runs queued. A probe that is already queued or running, or whose
// environment is in a quiet window, is not queued again; that is logged,
// not an error: the run in progress validates the deploy too.
func (m *Manager) Deployed(ev model.Event) []string {
	if ev.Kind != model.EventDeploy || ev.Result != model.ResultSucceeded {
		return nil
	}
	var ids []string
	for _, name := range m.names {
		e := m.entries[name]
		p := e.probe
		if p.OnDeploy == nil {
			continue
		}
		env := cmp.Or(p.OnDeploy.Env, m.probeEnv(p))
		dataset := cmp.Or(p.OnDeploy.Dataset, p.Dataset)
		if ev.Env != env || (dataset != "" && ev.Dataset != dataset) {
			continue
		}
		id, err := m.trigger(e, TriggerDeploy)
		if err != nil {
			m.log.Info("deploy did not queue probe", "probe", name, "event", ev.ID, "env", ev.Env, "dataset", ev.Dataset, "reason", err.Error())
			continue
		}
		m.log.Info("deploy queued probe", "probe", name, "run_id", id, "event", ev.ID, "release", ev.Release)
		ids = append(ids, id)
	}
	return ids
}
