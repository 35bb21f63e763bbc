package dashboards

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/restorable/restorable/internal/testutil"
)

// findingMetrics are the exporter's policy decisions; every other
// restorable_policy_* metric is a policy target from the configuration.
func findingMetrics() []string {
	return []string{"restorable_policy_finding", "restorable_policy_findings"}
}

// panelByTitle returns the panel of a generated dashboard with the given
// title, failing the test when there is not exactly one.
func panelByTitle(t *testing.T, uid, title string) panelJSON {
	t.Helper()
	var found []panelJSON
	for _, d := range decode(t, render(t)) {
		if d.UID != uid {
			continue
		}
		for _, p := range allPanels(d.Panels) {
			if p.Title == title {
				found = append(found, p)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d panels titled %q, want 1", uid, len(found), title)
	}
	return found[0]
}

// TestOverviewShowsFindings checks that the Backup overview shows the
// policy's findings: a table of the open findings with the columns a
// reader needs to act on one, their count by severity per environment and
// the gate of each environment.
func TestOverviewShowsFindings(t *testing.T) {
	const uid = "restorable-backup-overview"
	files := render(t)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr    string `json:"expr"`
				Format  string `json:"format"`
				Instant bool   `json:"instant"`
			} `json:"targets"`
			Transformations []struct {
				ID      string `json:"id"`
				Options struct {
					Exclude map[string]bool `json:"excludeByName"`
					Index   map[string]int  `json:"indexByName"`
				} `json:"options"`
			} `json:"transformations"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(files[uid+".json"], &d); err != nil {
		t.Fatalf("decode %s: %v", uid, err)
	}
	byTitle := map[string]int{}
	for i, p := range d.Panels {
		byTitle[p.Title] = i
	}

	i, ok := byTitle["Policy findings"]
	if p := d.Panels[i]; !ok || p.Type != "table" {
		t.Fatalf("no table panel titled %q", "Policy findings")
	}
	table := d.Panels[i]
	if len(table.Targets) != 1 {
		t.Fatalf("findings table has %d queries, want 1", len(table.Targets))
	}
	q := table.Targets[0]
	if !strings.HasPrefix(q.Expr, "restorable_policy_finding{") || !q.Instant || q.Format != "table" {
		t.Errorf("findings table query = %q (instant %v, format %q), want an instant table query of restorable_policy_finding", q.Expr, q.Instant, q.Format)
	}
	if !strings.Contains(q.Expr, findingEnvMatcher) {
		t.Errorf("findings table query %q does not filter on $env", q.Expr)
	}
	var columns []string
	for _, tr := range table.Transformations {
		if tr.ID != "organize" {
			continue
		}
		for name, pos := range tr.Options.Index {
			if !tr.Options.Exclude[name] {
				columns = append(columns, fmt.Sprintf("%d:%s", pos, name))
			}
		}
	}
	slices.Sort(columns)
	if want := []string{"0:env", "1:source", "2:dataset", "3:check", "4:severity", "5:Value"}; !slices.Equal(columns, want) {
		t.Errorf("findings table columns = %v, want %v", columns, want)
	}

	i, ok = byTitle["Open findings by severity"]
	if !ok {
		t.Fatal("no panel of the findings by severity")
	}
	var severities []string
	for _, q := range d.Panels[i].Targets {
		if !strings.Contains(q.Expr, "restorable_policy_findings{") || !strings.Contains(q.Expr, findingEnvMatcher) || !q.Instant {
			t.Errorf("findings by severity query %q: want an instant query of restorable_policy_findings filtered on $env", q.Expr)
		}
		for _, s := range severityColors() {
			if strings.Contains(q.Expr, `severity="`+s.severity+`"`) {
				severities = append(severities, s.severity)
			}
		}
	}
	if want := []string{"critical", "warning", "info"}; !slices.Equal(severities, want) {
		t.Errorf("findings by severity shows %v, want %v", severities, want)
	}

	i, ok = byTitle["Deploy gate"]
	if !ok || len(d.Panels[i].Targets) != 1 || d.Panels[i].Targets[0].Expr != `restorable_deploy_gate_open{env=~"$env"}` {
		t.Errorf("no deploy gate panel of restorable_deploy_gate_open per env")
	}
}

// rederivations returns the binary operations of expr that combine a
// policy target (restorable_policy_* other than the findings) with a
// measurement: a check decided again in PromQL, which can disagree with
// the exporter's evaluation. Targets may be drawn as their own queries.
func rederivations(expr string) ([]string, error) {
	for _, v := range []string{"$__rate_interval", "$__interval", "$__range"} {
		expr = strings.ReplaceAll(expr, v, "5m")
	}
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	kinds := func(n parser.Node) (target, measurement bool) {
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok || !strings.HasPrefix(vs.Name, "restorable_") {
				return nil
			}
			switch {
			case slices.Contains(findingMetrics(), vs.Name):
			case strings.HasPrefix(vs.Name, "restorable_policy_"):
				target = true
			default:
				measurement = true
			}
			return nil
		})
		return target, measurement
	}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		b, ok := n.(*parser.BinaryExpr)
		if !ok {
			return nil
		}
		lt, lm := kinds(b.LHS)
		rt, rm := kinds(b.RHS)
		if (lt && rm) || (lm && rt) {
			out = append(out, b.String())
		}
		return nil
	})
	return out, nil
}

func TestRederivationsFindsPolicyDecidedInPromQL(t *testing.T) {
	tests := []struct {
		expr string
		want bool
	}{
		{`(time() - max by (env, source, dataset) (restorable_backup_last_success_timestamp_seconds{env=~"$env"})) / on (env) group_left min by (env) (restorable_policy_rpo_seconds)`, true},
		{`sum by (env) ((1 - restorable_backup_last_encrypted{env=~"$env"}) * on (env) group_left max by (env) (restorable_policy_encryption_required))`, true},
		{`restorable_restore_probe_duration_seconds > on (env) group_left restorable_policy_rto_seconds`, true},
		{`min by (env) (restorable_policy_rpo_seconds{env=~"$env"})`, false},
		{`time() - restorable_backup_oldest_timestamp_seconds{env=~"$env"}`, false},
		{`count by (env) (restorable_policy_finding{check="rpo", env=~"$env"}) or on (env) 0 * max by (env) (restorable_deploy_gate_open{env=~"$env"})`, false},
	}
	for _, tc := range tests {
		got, err := rederivations(tc.expr)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		if (len(got) > 0) != tc.want {
			t.Errorf("rederivations(%s) = %v, want a re-derivation: %v", tc.expr, got, tc.want)
		}
	}
}

// TestNoPanelRederivesAPolicyCheck keeps the dashboards on the exporter's
// findings: a panel that divides or compares a measurement by a policy
// target decides the check a second time.
func TestNoPanelRederivesAPolicyCheck(t *testing.T) {
	for _, d := range decode(t, render(t)) {
		for _, p := range allPanels(d.Panels) {
			for _, tg := range p.Targets {
				got, err := rederivations(tg.Expr)
				if err != nil {
					t.Errorf("%s: panel %q query %s does not parse: %v", d.UID, p.Title, tg.RefID, err)
				}
				for _, op := range got {
					t.Errorf("%s: panel %q query %s re-derives a policy check in PromQL (%s); show restorable_policy_finding instead", d.UID, p.Title, tg.RefID, op)
				}
			}
		}
	}
}

// TestFindingQueriesOnPrometheus evaluates the finding panels' queries
// with the real promtool over series shaped like the exporter's, with $env
// expanded as Grafana expands it: one value as is, several (or All) as a
// group of alternatives.
func TestFindingQueriesOnPrometheus(t *testing.T) {
	promtool := testutil.Program(t, "promtool")
	const overview = "restorable-backup-overview"
	query := func(title string, ref int) string {
		p := panelByTitle(t, overview, title)
		if ref >= len(p.Targets) {
			t.Fatalf("panel %q has no query %d", title, ref)
		}
		return p.Targets[ref].Expr
	}
	withEnv := func(expr, env string) string { return strings.ReplaceAll(expr, "$env", env) }
	scrape := `job="restorable", instance="exporter:10060"`
	series := []string{
		`restorable_policy_finding{check="rpo", severity="critical", env="prod", source="db", dataset="payments", ` + scrape + `}`,
		`restorable_policy_finding{check="rpo", severity="critical", env="prod", source="files", dataset="uploads", ` + scrape + `}`,
		`restorable_policy_finding{check="immutability", severity="warning", env="staging", source="db", dataset="payments", ` + scrape + `}`,
		`restorable_policy_finding{check="agent_drift", severity="warning", env="prod,staging", source="", dataset="", ` + scrape + `}`,
		`restorable_policy_findings{env="prod", severity="critical", ` + scrape + `}`,
		`restorable_policy_findings{env="staging", severity="critical", ` + scrape + `}`,
		`restorable_policy_findings{env="prod,staging", severity="warning", ` + scrape + `}`,
		`restorable_deploy_gate_open{env="prod", ` + scrape + `}`,
		`restorable_deploy_gate_open{env="staging", ` + scrape + `}`,
		`restorable_deploy_gate_open{env="dev", ` + scrape + `}`,
	}
	values := []string{"1x10", "1x10", "1x10", "1x10", "2x10", "0x10", "1x10", "0x10", "0x10", "1x10"}
	finding := func(check, severity, env, source, dataset string) string {
		return `restorable_policy_finding{check="` + check + `", severity="` + severity + `", env="` + env + `", source="` + source + `", dataset="` + dataset + `", ` + scrape + `}`
	}
	tests := []promExprTest{
		{
			// Every environment is selected: environments without a finding
			// show 0, not "no data".
			Expr: withEnv(query("Datasets breaching the RPO", 0), "(prod|staging|dev)"),
			ExpSamples: []promSample{
				{Labels: `{env="prod"}`, Value: 2},
				{Labels: `{env="staging"}`, Value: 0},
				{Labels: `{env="dev"}`, Value: 0},
			},
		},
		{
			// One environment is selected: the table lists its findings and
			// the agent_drift finding that compares it with another, not the
			// other environment's own findings.
			Expr: withEnv(query("Policy findings", 0), "staging"),
			ExpSamples: []promSample{
				{Labels: finding("immutability", "warning", "staging", "db", "payments"), Value: 1},
				{Labels: finding("agent_drift", "warning", "prod,staging", "", ""), Value: 1},
			},
		},
		{
			Expr:       withEnv(query("Policy findings", 0), "dev"),
			ExpSamples: []promSample{},
		},
		{
			Expr: withEnv(query("Open findings by severity", 0), "(prod|staging)"),
			ExpSamples: []promSample{
				{Labels: `{env="prod"}`, Value: 2},
				{Labels: `{env="staging"}`, Value: 0},
			},
		},
		{
			Expr: withEnv(query("Open findings by severity", 1), "prod"),
			ExpSamples: []promSample{
				{Labels: `{env="prod,staging"}`, Value: 1},
			},
		},
	}
	var input []map[string]string
	for i, s := range series {
		input = append(input, map[string]string{"series": s, "values": values[i]})
	}
	for i := range tests {
		tests[i].EvalTime = "5m"
	}
	file, out, err := promtoolTestRules(t, promtool, "findings.test.yml", promtoolGroup{Input: input, Tests: tests})
	if err != nil {
		t.Errorf("promtool test rules over the finding panels' queries: %v\n%s\n%s", err, out, file)
	}
}
