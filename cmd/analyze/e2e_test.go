package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/policy"
)

// buildAnalyze builds the analyze binary into a temporary directory.
func buildAnalyze(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "analyze")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build analyze: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the built binary and returns its exit code and output.
func runBin(t *testing.T, bin string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "NO_COLOR=")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String(), errb.String()
	case err != nil:
		t.Fatalf("run analyze: %v", err)
	}
	return 0, out.String(), errb.String()
}

func TestBinary(t *testing.T) {
	bin := buildAnalyze(t)
	dir := t.TempDir()
	cfg := writeEstate(t, dir)
	at := "--at=" + estateEnd().Format(time.RFC3339)

	t.Run("help lists the subcommands", func(t *testing.T) {
		code, _, stderr := runBin(t, bin, "--help")
		for _, cmd := range []string{"findings", "forecast", "tiering", "sql", "schema"} {
			if !strings.Contains(stderr, cmd) {
				t.Errorf("help does not mention %s", cmd)
			}
		}
		if code != exitOK {
			t.Errorf("--help exit %d", code)
		}
	})

	t.Run("version leaves no field blank in a plain go build", func(t *testing.T) {
		code, out, stderr := runBin(t, bin, "--version")
		if code != exitOK || !versionComplete(out+stderr) {
			t.Errorf("--version: exit %d:\n%s%s", code, out, stderr)
		}
	})

	t.Run("help lists every value of every enum flag", func(t *testing.T) {
		app := kingpin.New("analyze", "")
		for _, newCmd := range subcommands() {
			newCmd(app, &globals{})
		}
		for _, cmd := range app.Model().Commands {
			code, _, help := runBin(t, bin, cmd.Name, "--help")
			if code != exitOK {
				t.Fatalf("%s --help: exit %d", cmd.Name, code)
			}
			for _, f := range cmd.Flags {
				values := enumValues(f.Value)
				if values == nil {
					continue
				}
				text := flagHelp(help, f.Name)
				for _, v := range values {
					if !strings.Contains(text, " "+v+",") && !strings.Contains(text, " "+v+".") {
						t.Errorf("%s --help does not list %q for --%s:\n%s", cmd.Name, v, f.Name, text)
					}
				}
			}
		}
	})

	t.Run("exit codes follow --fail-on", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			code int
		}{
			{[]string{"findings", at}, exitFindings},
			{[]string{"findings", at, "--fail-on", "critical"}, exitFindings},
			{[]string{"findings", at, "--fail-on", "never"}, exitOK},
			{[]string{"findings", at, "--env", "staging", "--fail-on", "critical"}, exitOK},
			{[]string{"findings", at, "--env", "staging", "--fail-on", "warning"}, exitFindings},
			{[]string{"findings", at, "--fail-on", "sometimes"}, exitError},
			{[]string{"findings", "--at", "yesterday"}, exitError},
			{[]string{"frobnicate"}, exitError},
		} {
			code, _, stderr := runBin(t, bin, append([]string{"--config.file", cfg}, tc.args...)...)
			if code != tc.code {
				t.Errorf("%v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
			}
		}
	})

	t.Run("table output is plain off a terminal and coloured on request", func(t *testing.T) {
		_, out, _ := runBin(t, bin, "--config.file", cfg, "findings", at)
		lines := strings.Split(out, "\n")
		if !strings.HasPrefix(lines[0], "SEVERITY  CHECK") || strings.Contains(out, "\x1b[") {
			t.Errorf("table:\n%s", out)
		}
		if !strings.Contains(out, "12 findings: 4 critical, 4 warning, 4 info at 2026-05-01T00:00:00Z") {
			t.Errorf("summary line missing:\n%s", out)
		}
		// Columns line up: every finding's row starts its CHECK column
		// where the header does, and the observed and expected lines
		// beneath it start in that column too.
		col := strings.Index(lines[0], "CHECK")
		rows := 0
		for _, l := range lines[1:] {
			if l == "" {
				break
			}
			if strings.HasPrefix(l, " ") {
				rest := l[col:]
				label := strings.HasPrefix(rest, "observed  ") || strings.HasPrefix(rest, "expected  ")
				wrapped := strings.HasPrefix(rest, strings.Repeat(" ", 10)) && len(rest) > 10 && rest[10] != ' '
				if strings.TrimSpace(l[:col]) != "" || !label && !wrapped {
					t.Errorf("misaligned detail %q", l)
				}
				continue
			}
			rows++
			if l[col-2:col] != "  " || l[col] == ' ' {
				t.Errorf("misaligned row %q", l)
			}
		}
		if rows != 12 {
			t.Errorf("%d rows for 12 findings:\n%s", rows, out)
		}
		_, out, _ = runBin(t, bin, "--config.file", cfg, "--color", "always", "findings", at)
		if !strings.Contains(out, ansiRed+"critical"+ansiReset) {
			t.Errorf("no colour with --color always:\n%s", out)
		}
	})

	t.Run("machine formats", func(t *testing.T) {
		_, out, _ := runBin(t, bin, "--config.file", cfg, "findings", at, "--format", "json")
		var rep report
		if err := json.Unmarshal([]byte(out), &rep); err != nil || len(rep.Findings) != 12 {
			t.Fatalf("json: %v, %d findings", err, len(rep.Findings))
		}
		for _, f := range rep.Findings {
			if len(f.Controls) == 0 && f.Check != policy.CheckArchive {
				t.Errorf("%s has no controls", f.Check)
			}
		}

		_, out, _ = runBin(t, bin, "--config.file", cfg, "findings", at, "--format", "csv")
		records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
		if err != nil || len(records) != 13 || records[0][0] != "severity" || records[0][14] != "controls" {
			t.Errorf("csv: %v, %d records, header %v", err, len(records), records[0])
		}

		_, out, _ = runBin(t, bin, "--config.file", cfg, "findings", at, "--format", "markdown")
		if !strings.HasPrefix(out, "# Restorable findings\n") || strings.Count(out, "\n| ") != 13 {
			t.Errorf("markdown:\n%s", out)
		}

		_, out, _ = runBin(t, bin, "--config.file", cfg, "findings", at, "--format", "sarif")
		var sarif struct {
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Rules []struct {
							ID string `json:"id"`
						} `json:"rules"`
					} `json:"driver"`
				} `json:"tool"`
				Results []struct {
					RuleID    string `json:"ruleId"`
					RuleIndex int    `json:"ruleIndex"`
					Level     string `json:"level"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(out), &sarif); err != nil || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 {
			t.Fatalf("sarif: %v\n%.500s", err, out)
		}
		run := sarif.Runs[0]
		if len(run.Tool.Driver.Rules) != len(policy.Checks()) || len(run.Results) != 12 {
			t.Errorf("sarif: %d rules, %d results", len(run.Tool.Driver.Rules), len(run.Results))
		}
		for _, r := range run.Results {
			if run.Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || r.Level == "" {
				t.Errorf("result %+v does not point at its rule", r)
			}
		}
	})

	t.Run("forecast draws a chart", func(t *testing.T) {
		svg := filepath.Join(t.TempDir(), "forecast.svg")
		code, out, stderr := runBin(t, bin, "--config.file", cfg, "forecast", at, "--svg", svg)
		if code != exitOK || !strings.Contains(out, "prod     STANDARD  repositories") {
			t.Fatalf("forecast: exit %d: %s\n%s", code, stderr, out)
		}
		data, err := os.ReadFile(svg)
		if err != nil || !strings.HasPrefix(string(data), "<svg ") || strings.Count(string(data), "<polyline") != 2 {
			t.Errorf("chart: %v\n%.300s", err, data)
		}
	})

	t.Run("sql cannot write into the history", func(t *testing.T) {
		target := filepath.Join(dir, "history", "backups", "dt=2026-01-01", "injected.parquet")
		for _, q := range []string{"COPY (SELECT 1) TO '" + target + "'", "EXPLAIN ANALYZE COPY (SELECT 1) TO '" + target + "'"} {
			code, _, stderr := runBin(t, bin, "--config.file", cfg, "sql", q)
			if code != exitError || !strings.Contains(stderr, "only one statement that reads is allowed") {
				t.Errorf("%s: exit %d: %s", q, code, stderr)
			}
		}
		if _, err := os.Stat(target); err == nil {
			t.Error("COPY wrote into the history")
		}
	})

	t.Run("an empty history says what to do", func(t *testing.T) {
		empty := t.TempDir()
		code, _, stderr := runBin(t, bin, "--config.file", cfg, "--history", empty, "findings")
		if code != exitError || !strings.Contains(stderr, "has no backups yet: run the exporter first") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("findings on an empty history: exit %d: %s", code, stderr)
		}
		code, out, _ := runBin(t, bin, "--history", empty, "schema")
		if code != exitOK || !strings.Contains(out, "backups 0 rows, repositories 0 rows, probes 0 rows") {
			t.Errorf("schema on an empty history: exit %d:\n%s", code, out)
		}
	})
}

// enumValues returns the values an enum flag accepts, read from the error
// kingpin gives for one it does not, or nil for a flag of another kind.
func enumValues(v kingpin.Value) []string {
	if fmt.Sprintf("%T", v) != "*kingpin.enumValue" {
		return nil
	}
	err := v.Set("\x00")
	list, ok := strings.CutPrefix(fmt.Sprint(err), "enum value must be one of ")
	if !ok {
		return []string{"(kingpin changed its enum error: " + fmt.Sprint(err) + ")"}
	}
	list, _, _ = strings.Cut(list, ", got")
	return strings.Split(list, ",")
}

// flagHelp returns the help --help prints for flag name, joined into one
// line.
func flagHelp(help, name string) string {
	_, rest, ok := strings.Cut(help, "--"+name+"=")
	if !ok {
		return ""
	}
	var lines []string
	for i, line := range strings.Split(rest, "\n") {
		if i > 0 && strings.HasPrefix(strings.TrimSpace(line), "-") {
			break
		}
		lines = append(lines, line)
	}
	return strings.Join(strings.Fields(strings.Join(lines, " ")), " ")
}

// versionComplete reports whether --version output names the program and
// has a value in every field: no "build user:" with nothing after it.
func versionComplete(out string) bool {
	if !strings.Contains(out, ", version ") || strings.Contains(out, "branch: ,") || strings.Contains(out, "version  (") {
		return false
	}
	for _, field := range []string{"build user:", "build date:", "go version:", "platform:"} {
		_, rest, ok := strings.Cut(out, field)
		if !ok {
			return false
		}
		if value, _, _ := strings.Cut(rest, "\n"); strings.TrimSpace(value) == "" {
			return false
		}
	}
	return true
}
