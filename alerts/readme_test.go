package alerts

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeTablesMatchRules checks the alert tables of alerts/README.md
// and docs/runbooks/README.md against the rule file: every alert is listed
// once with its severity, whether it gates deploys and its `for`, and no
// removed alert is left.
func TestReadmeTablesMatchRules(t *testing.T) {
	type row struct{ severity, gates, forDur string }
	want := map[string]row{}
	for _, r := range alertRules(t) {
		g := "no"
		if r.Labels[GateLabel] == GateValue {
			g = "yes"
			if _, hasEnv := r.Labels["env"]; !hasEnv && !strings.Contains(r.Expr, "restorable_") {
				g = "yes, every env"
			}
		}
		f := r.For
		if f == "" {
			f = "0"
		}
		want[r.Alert] = row{r.Labels["severity"], g, f}
	}
	cells := func(line string) []string {
		var out []string
		for _, c := range strings.Split(strings.Trim(line, "| "), "|") {
			out = append(out, strings.Trim(strings.TrimSpace(c), "[]"))
		}
		return out
	}
	alertRow := regexp.MustCompile(`^\| \[?(Restorable[A-Za-z]+)`)
	for _, tc := range []struct {
		file                    string
		severity, gates, forCol int
	}{
		{"README.md", 2, 3, 4},
		{"../docs/runbooks/README.md", 2, 3, -1},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			m := alertRow.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			name := m[1]
			c := cells(line)
			if len(c) <= max(tc.severity, tc.gates, tc.forCol) {
				t.Errorf("%s: row of %s has %d columns: %s", tc.file, name, len(c), line)
				continue
			}
			w, ok := want[name]
			if !ok {
				t.Errorf("%s lists %s, which the rule file does not define", tc.file, name)
				continue
			}
			if seen[name] {
				t.Errorf("%s lists %s twice", tc.file, name)
			}
			seen[name] = true
			gates := strings.ReplaceAll(strings.ReplaceAll(c[tc.gates], "(", ""), ")", "")
			gates = strings.Replace(gates, "yes every env", "yes, every env", 1)
			if c[tc.severity] != w.severity || gates != w.gates {
				t.Errorf("%s: %s is %s/%s, the rule file says %s/%s", tc.file, name, c[tc.severity], gates, w.severity, w.gates)
			}
			if tc.forCol >= 0 && c[tc.forCol] != w.forDur {
				t.Errorf("%s: %s has for %s, the rule file says %s", tc.file, name, c[tc.forCol], w.forDur)
			}
		}
		for name := range want {
			if !seen[name] {
				t.Errorf("%s does not list %s", tc.file, name)
			}
		}
	}
}
