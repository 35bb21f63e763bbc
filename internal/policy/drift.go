package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/config"
)

// VersionAt cuts a version to the level compared: "2.54.1" is "2" at
// major, "2.54" at minor and "2.54.1" at patch. A leading "v" is dropped.
func VersionAt(version, level string) string {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	n := 3
	switch level {
	case config.DriftMajor:
		n = 1
	case config.DriftMinor:
		n = 2
	}
	parts := strings.SplitN(v, ".", n+1)
	if len(parts) > n {
		parts = parts[:n]
	}
	return strings.Join(parts, ".")
}

// checkAgentDrift compares, per backup agent, the versions that the newest
// good backup of each series shows in each environment. Environments that
// run different sets of versions (at the configured level) drift.
func (e *evaluator) checkAgentDrift() []Finding {
	level := e.cfg.Checks.AgentDrift.Level
	// versions[agent][env][version] lists the series that run it.
	versions := map[string]map[string]map[string][]string{}
	evidence := map[string][]Evidence{}
	for _, k := range e.order {
		g := e.series[k].lastGood
		if g == nil {
			continue
		}
		d := g.Details()
		if d.Agent == "" || d.AgentVersion == "" {
			continue
		}
		v := VersionAt(d.AgentVersion, level)
		if versions[d.Agent] == nil {
			versions[d.Agent] = map[string]map[string][]string{}
		}
		if versions[d.Agent][k.Env] == nil {
			versions[d.Agent][k.Env] = map[string][]string{}
		}
		// One record per environment and version is evidence enough.
		if len(versions[d.Agent][k.Env][v]) == 0 {
			evidence[d.Agent] = append(evidence[d.Agent], backupEvidence(g, d.Agent+" "+d.AgentVersion+" in "+k.Env))
		}
		versions[d.Agent][k.Env][v] = append(versions[d.Agent][k.Env][v], k.Source+"/"+k.Dataset)
	}
	var out []Finding
	for _, agent := range sortedKeys(versions) {
		byEnv := versions[agent]
		if len(byEnv) < 2 {
			continue
		}
		envs := sortedKeys(byEnv)
		same := true
		for _, env := range envs[1:] {
			if !slices.Equal(sortedKeys(byEnv[env]), sortedKeys(byEnv[envs[0]])) {
				same = false
			}
		}
		if same {
			continue
		}
		var parts []string
		for _, env := range envs {
			parts = append(parts, fmt.Sprintf("%s in %s", strings.Join(sortedKeys(byEnv[env]), " and "), env))
		}
		f := e.newFinding(CheckAgentDrift, strings.Join(envs, ","), Subject{Agent: agent})
		f.Expected = fmt.Sprintf("the same %s version (to the %s) in every environment", agent, level)
		f.Observed = agent + " " + strings.Join(parts, ", ")
		ev := evidence[agent]
		slices.SortFunc(ev, func(a, b Evidence) int { return strings.Compare(a.Note+a.ID, b.Note+b.ID) })
		if len(ev) > maxEvidence {
			ev = ev[:maxEvidence]
		}
		f.Evidence = ev
		out = append(out, f)
	}
	return out
}
