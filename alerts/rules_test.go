package alerts

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/testutil"
)

const (
	// runbookBase is where runbook_url annotations point; the runbooks are
	// in runbookDir of this repository.
	runbookBase = "https://github.com/restorable/restorable/blob/main/docs/runbooks/"
	runbookDir  = "../docs/runbooks"
	testsGlob   = "tests/*.test.yml"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// alertRules returns the alerting rules of the rule file, in file order.
func alertRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(RulesFile)
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}
	var f ruleFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("decode %s: %v", RulesFile, err)
	}
	var out []rule
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no alerting rules", RulesFile)
	}
	return out
}

func testFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(testsGlob)
	if err != nil || len(files) == 0 {
		t.Fatalf("find promtool tests %s: %v (found %d)", testsGlob, err, len(files))
	}
	return files
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool := testutil.Program(t, "promtool")
	out, err := exec.Command(promtool, "check", "rules", RulesFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules %s: %v\n%s", RulesFile, err, out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	promtool := testutil.Program(t, "promtool")
	args := append([]string{"test", "rules"}, testFiles(t)...)
	out, err := exec.Command(promtool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func TestAlertsHaveLabelsAnnotationsAndRunbooks(t *testing.T) {
	sections := []string{"## What it means", "## How to check", "## How to fix", "## When to escalate"}
	seen := map[string]bool{}
	for _, r := range alertRules(t) {
		name := r.Alert
		if seen[name] {
			t.Errorf("%s: defined twice", name)
		}
		seen[name] = true
		if !strings.HasPrefix(name, "Restorable") {
			t.Errorf("%s: name does not start with Restorable", name)
		}
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", name, s)
		}
		if g, ok := r.Labels[GateLabel]; ok && g != GateValue {
			t.Errorf("%s: %s=%q, want %q or no label", name, GateLabel, g, GateValue)
		}
		// Thresholds and scopes come from the policy gauges and the series;
		// a literal env in a rule would silently skip every other env.
		if strings.Contains(r.Expr, "env=") || strings.Contains(r.Expr, "env!") {
			t.Errorf("%s: expression selects envs literally: %s", name, r.Expr)
		}
		for _, a := range []string{"summary", "description"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s: no %s annotation", name, a)
			}
		}
		if got, want := r.Annotations["runbook_url"], runbookBase+name+".md"; got != want {
			t.Errorf("%s: runbook_url %q, want %q", name, got, want)
		}
		runbook, err := os.ReadFile(filepath.Join(runbookDir, name+".md"))
		if err != nil {
			t.Errorf("%s: runbook: %v", name, err)
			continue
		}
		if !strings.HasPrefix(string(runbook), "# "+name+"\n") {
			t.Errorf("%s: runbook does not start with the title %q", name, "# "+name)
		}
		for _, s := range sections {
			if !strings.Contains(string(runbook), "\n"+s+"\n") {
				t.Errorf("%s: runbook has no %q section", name, s)
			}
		}
	}

	// A runbook without an alert is left over from a renamed or removed
	// alert and misleads whoever finds it.
	runbooks, err := filepath.Glob(filepath.Join(runbookDir, "*.md"))
	if err != nil {
		t.Fatalf("list runbooks: %v", err)
	}
	for _, path := range runbooks {
		name := strings.TrimSuffix(filepath.Base(path), ".md")
		if name != "README" && !seen[name] {
			t.Errorf("runbook %s belongs to no alert", path)
		}
	}
}

// TestDeployGateAlerts pins which alerts block releases: adding or removing
// one changes what pipelines do, so it must be a deliberate change here too.
func TestDeployGateAlerts(t *testing.T) {
	want := []string{
		"RestorableBackupFailed",
		"RestorableBackupMutable",
		"RestorableBackupRPOBreached",
		"RestorableBackupReleasesBelowPolicy",
		"RestorableBackupUnencrypted",
		"RestorableDeployFrozen",
		"RestorableExporterDown",
		"RestorablePITRGap",
		"RestorableRestoreProbeFailing",
	}
	var got []string
	for _, r := range alertRules(t) {
		if r.Labels[GateLabel] == GateValue {
			got = append(got, r.Alert)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("alerts labelled %s=%s = %v, want %v", GateLabel, GateValue, got, want)
	}
}

type promtoolTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestEveryAlertFiresAndStaysQuietInTests checks the promtool tests cover
// every alert both ways. promtool passes `exp_alerts: []` for an alert that
// does not exist, so a quiet case alone proves nothing.
func TestEveryAlertFiresAndStaysQuietInTests(t *testing.T) {
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, path := range testFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
		var f promtoolTests
		if err := yaml.Unmarshal(data, &f); err != nil {
			t.Fatalf("decode %s: %v", path, err)
		}
		if !slices.Equal(f.RuleFiles, []string{"../" + RulesFile}) {
			t.Errorf("%s: rule_files %v, want [../%s]", path, f.RuleFiles, RulesFile)
		}
		for _, tc := range f.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	known := map[string]bool{}
	for _, r := range alertRules(t) {
		known[r.Alert] = true
		if !fires[r.Alert] {
			t.Errorf("%s: no promtool test makes it fire", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("%s: no promtool test keeps it quiet", r.Alert)
		}
	}
	for name := range quiet {
		if !known[name] {
			t.Errorf("promtool tests expect %s to stay quiet, but no such alert exists", name)
		}
	}
}
