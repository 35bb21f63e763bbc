package duck

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// dropColumns rewrites every Parquet file of the tables under dir without
// the named columns, as a version before they existed wrote them.
func dropColumns(t *testing.T, dir string, columns map[string][]string) {
	t.Helper()
	db := memDB(t)
	for table, cols := range columns {
		files, err := filepath.Glob(filepath.Join(dir, table, "dt=*", "*.parquet"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no files of %s (%v)", table, err)
		}
		for _, f := range files {
			tmp := f + ".old"
			q := "COPY (SELECT * EXCLUDE (" + strings.Join(cols, ", ") + ") FROM read_parquet('" + f + "')) TO '" + tmp + "' (FORMAT parquet)"
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, f); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A history written before expected_interval_seconds and collected
// existed (in backups, checkpoints and probes alike, and one written
// before checkpoints, which the analyzer reads in full) is evaluated as
// one without intervals and with runs of configured probes only; once new
// files sit beside the old ones, the intervals and restore tests in them
// count.
func TestHistoryWithoutTheNewerColumns(t *testing.T) {
	for _, checkpoints := range []bool{true, false} {
		t.Run(map[bool]string{true: "with checkpoints", false: "without checkpoints"}[checkpoints], func(t *testing.T) {
			testHistoryWithoutTheNewerColumns(t, checkpoints)
		})
	}
}

func testHistoryWithoutTheNewerColumns(t *testing.T, checkpoints bool) {
	rec, dir := newRecorder(t)
	cfg, err := config.Parse("c.yml", []byte(`environments:
  prod: {rpo: 1d, restore_test_every: 7d}
sources:
  - {name: k8s, type: velero, env: prod, velero: {file: backups.json}}
probes:
  - {name: p, kind: command, source: k8s, options: {command: ["true"]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	hourly := backup("hourly-1", t0().Add(-3*time.Hour), model.StatusSucceeded)
	hourly.Dataset = "hourly"
	rec.collect(t0(), "k8s", []model.Backup{hourly})
	if err := rec.w.AppendProbes(model.ProbeResult{RunID: "r1", Probe: "p", Kind: "command", Env: "prod", Dataset: "hourly", Source: "k8s",
		Start: t0().Add(-time.Hour), Duration: time.Minute, Success: true}); err != nil {
		t.Fatal(err)
	}
	dropColumns(t, dir, map[string][]string{
		"backups":            {"expected_interval_seconds"},
		"backup_checkpoints": {"expected_interval_seconds"},
		"probes":             {"collected"},
	})
	if !checkpoints {
		if err := os.RemoveAll(filepath.Join(dir, "backup_checkpoints")); err != nil {
			t.Fatal(err)
		}
	}
	evaluate := func(at time.Time) map[string]bool {
		t.Helper()
		db := openDB(t, dir)
		res, _, err := db.Evaluate(context.Background(), cfg, at, at.Add(-24*time.Hour), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatalf("evaluate at %s: %v", at, err)
		}
		got := map[string]bool{}
		for _, f := range res.Findings {
			got[f.Check+" "+f.Subject.String()] = true
		}
		return got
	}
	if got := evaluate(t0()); len(got) != 0 {
		t.Errorf("findings of the old history: %v", got)
	}

	// New files beside the old ones: the series now carries its
	// schedule's interval, and a source reports a failed restore test.
	later := t0().Add(time.Hour)
	d := hourly.Details()
	d.ExpectedInterval = time.Hour
	hourly.SetDetails(d)
	rec.collect(later, "k8s", []model.Backup{hourly})
	if !checkpoints {
		// The writer keeps a checkpoint a day: this history stays one
		// to read in full.
		if err := os.RemoveAll(filepath.Join(dir, "backup_checkpoints")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := rec.w.AppendNewProbes(model.ProbeResult{RunID: "j1", Probe: "aws-backup:k8s/plan/prod/hourly", Kind: "aws-backup", Env: "prod",
		Dataset: "hourly", Source: "k8s", Collected: true, Start: later.Add(-time.Minute), Duration: time.Minute, Error: "validation FAILED"}); err != nil {
		t.Fatal(err)
	}
	got := evaluate(later)
	for _, want := range []string{policy.CheckLate + " k8s/hourly", policy.CheckRestoreFailed + " k8s/hourly/aws-backup:k8s/plan/prod/hourly"} {
		if !got[want] {
			t.Errorf("no %s among %v", want, got)
		}
	}
}
