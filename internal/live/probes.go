package live

import (
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// collected are the restore tests that sources report (the Probes of
// their catalogs): the newest run and newest success of each, by probe
// name, as the probe manager keeps those of the configured probes. A
// source reports a test in every collection while its catalog lists it
// and stops once its listing window has passed; the state remembers it
// after that, and the history brings it back after a restart.
type collected struct {
	states map[string]*policy.ProbeState
	// runs are the run ids taken, so that a test reported again is taken
	// once, in its first version, as the history keeps it.
	runs map[string]struct{}
}

// take remembers the runs whose ids are new. Callers hold probeMu.
func (c *collected) take(runs []model.ProbeResult) {
	for i := range runs {
		r := runs[i]
		if _, ok := c.runs[r.RunID]; ok {
			continue
		}
		c.runs[r.RunID] = struct{}{}
		st := c.states[r.Probe]
		if st == nil {
			st = &policy.ProbeState{}
			c.states[r.Probe] = st
		}
		if policy.NewerRun(&r, st.Newest) {
			st.Newest = &r
		}
		if r.Success && policy.NewerRun(&r, st.NewestSuccess) {
			st.NewestSuccess = &r
		}
	}
}

// CollectedProbes returns the newest run and newest success of every
// restore test that sources reported, ordered by probe name, as the
// policy and the probe metrics read them.
func (s *State) CollectedProbes() []policy.ProbeState {
	s.probeMu.Lock()
	defer s.probeMu.Unlock()
	out := make([]policy.ProbeState, 0, len(s.probes.states))
	for _, st := range s.probes.states {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b policy.ProbeState) int { return strings.Compare(a.Newest.Probe, b.Newest.Probe) })
	return out
}
