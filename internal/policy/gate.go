package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// GateChecks are the checks whose findings deny a deploy: while one of them
// is breached, a rollback could not bring the data back to a known release.
// Failures are judged by the newest attempt of each dataset instead
// (GateLastFailed): a failure that a later backup made good holds nothing up.
func GateChecks() []string {
	return []string{CheckRPO, CheckReleases, CheckEncryption, CheckImmutable, CheckRestoreFailed, CheckPITR}
}

// GateLastFailed is the reason a deploy is denied while the newest finished
// backup attempt of a dataset failed.
const GateLastFailed = "backup.last_failed"

// GateRequest asks whether a release may be deployed to an environment.
type GateRequest struct {
	Env string `json:"env"`
	// Dataset limits the answer to one dataset; empty means every dataset
	// of the environment.
	Dataset string `json:"dataset,omitempty"`
	// Release is the release about to be deployed; it is echoed so that a
	// pipeline can record the answer with it.
	Release string `json:"release,omitempty"`
}

// GateReason is one reason a deploy is denied.
type GateReason struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Subject  string   `json:"subject"`
	Detail   string   `json:"detail"`
}

// GateBackup is the backup a pipeline records with its deployment: the
// state a rollback would restore.
type GateBackup struct {
	Env      string    `json:"env"`
	Source   string    `json:"source"`
	Dataset  string    `json:"dataset"`
	ID       string    `json:"id"`
	Release  string    `json:"release,omitempty"`
	Time     time.Time `json:"time"`
	Checksum string    `json:"checksum,omitempty"`
}

// GateAnswer is the deploy gate's answer.
type GateAnswer struct {
	GateRequest
	Allow       bool         `json:"allow"`
	Reasons     []GateReason `json:"reasons"`
	EvaluatedAt time.Time    `json:"evaluated_at"`
	// LatestGoodBackup is the newest successful backup of the environment
	// (or dataset); nil when there is none, which denies the deploy.
	LatestGoodBackup *GateBackup `json:"latest_good_backup"`
}

// GateState is what the gate decides from: the findings of the current
// state at a moment, and the backups that state retains, as slices so that
// callers holding catalogs per source need not copy them into one.
type GateState struct {
	At       time.Time
	Findings []Finding
	Backups  [][]model.Backup
	// LastFailed are the newest finished attempts of each dataset that did
	// not succeed.
	LastFailed []model.Backup
}

// GateState returns the gate's view of the state the evaluator was given:
// its findings, the failed newest attempts it saw, and the backups (as the
// caller holds them, per source or per series) for the latest good one.
func (e *Evaluator) GateState(backups [][]model.Backup) *GateState {
	return &GateState{At: e.at, Findings: e.Findings(), Backups: backups, LastFailed: e.LastFailed()}
}

// Gate answers req from the current state. The exporter's /api/v1/gate,
// its restorable_deploy_gate_open gauge and `analyze gate` all call it, so
// they give one answer.
func Gate(cfg *config.Config, st *GateState, req GateRequest) (GateAnswer, error) {
	if _, ok := cfg.Environments[req.Env]; !ok {
		return GateAnswer{}, fmt.Errorf("unknown environment %q", req.Env)
	}
	a := GateAnswer{GateRequest: req, EvaluatedAt: st.At.UTC(), Reasons: []GateReason{}}
	gating := GateChecks()
	for _, f := range st.Findings {
		if f.Env != req.Env || !slices.Contains(gating, f.Check) || f.Severity < SeverityWarning || !f.End.IsZero() {
			continue
		}
		if req.Dataset != "" && f.Subject.Dataset != "" && f.Subject.Dataset != req.Dataset {
			continue
		}
		a.Reasons = append(a.Reasons, GateReason{
			Check: f.Check, Severity: f.Severity, Subject: f.Subject.String(),
			Detail: fmt.Sprintf("expected %s, observed %s", f.Expected, f.Observed),
		})
	}
	for _, b := range st.LastFailed {
		if b.Env != req.Env || (req.Dataset != "" && b.Dataset != req.Dataset) {
			continue
		}
		detail := fmt.Sprintf("the newest backup attempt %s (%s) ended %s with status %s", b.ID, b.Type, b.End.UTC().Format(time.RFC3339), b.Status)
		if b.Error != "" {
			detail += ": " + b.Error
		}
		a.Reasons = append(a.Reasons, GateReason{Check: GateLastFailed, Severity: SeverityCritical, Subject: b.Source + "/" + b.Dataset, Detail: detail})
	}
	var latest *model.Backup
	for _, bs := range st.Backups {
		for i := range bs {
			b := &bs[i]
			if b.Env != req.Env || !b.Good() || (req.Dataset != "" && b.Dataset != req.Dataset) {
				continue
			}
			if latest == nil || b.End.After(latest.End) {
				latest = b
			}
		}
	}
	if latest == nil {
		what := "environment " + req.Env
		if req.Dataset != "" {
			what = "dataset " + req.Dataset + " in " + req.Env
		}
		a.Reasons = append(a.Reasons, GateReason{
			Check: CheckRPO, Severity: SeverityCritical, Subject: req.Dataset,
			Detail: "no successful backup of " + what + " is known: nothing to roll back to",
		})
	} else {
		a.LatestGoodBackup = &GateBackup{
			Env: latest.Env, Source: latest.Source, Dataset: latest.Dataset, ID: latest.ID,
			Release: latest.Release, Time: latest.End.UTC(), Checksum: latest.Checksum,
		}
	}
	a.Allow = len(a.Reasons) == 0
	return a, nil
}

// GateOpen answers the gate of every environment, for the
// restorable_deploy_gate_open gauge.
func GateOpen(cfg *config.Config, st *GateState) map[string]bool {
	out := make(map[string]bool, len(cfg.Environments))
	for env := range cfg.Environments {
		a, err := Gate(cfg, st, GateRequest{Env: env})
		out[env] = err == nil && a.Allow
	}
	return out
}
