package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// GateChecks are the checks whose open findings deny a deploy: while one
// of them is breached, a rollback could not bring the data back to a known
// release, or (release.freeze) the releases of a dataset keep being rolled
// back and someone must review them first. The alert rules labelled gate="deploy" are tested against this
// list, so Alertmanager blocks on exactly these checks too.
func GateChecks() []string {
	return []string{CheckRPO, CheckLastFailed, CheckReleases, CheckEncryption, CheckImmutable, CheckRestoreFailed, CheckPITR, CheckFreeze}
}

// Gating reports whether a finding denies deploys to its environment.
func Gating(f *Finding) bool {
	return f.Severity >= SeverityWarning && f.End.IsZero() && slices.Contains(GateChecks(), f.Check)
}

// GateRequest asks whether a release may be deployed to an environment.
type GateRequest struct {
	Env string `json:"env"`
	// Dataset limits the answer to one dataset; empty means every dataset
	// of the environment.
	Dataset string `json:"dataset,omitempty"`
	// Release is the release about to be deployed; it is echoed so that a
	// pipeline can record the answer with it.
	Release string `json:"release,omitempty"`
	// Purpose is what the pipeline is about to do: "deploy" (empty means
	// deploy) or "migration", which is also denied while a backup holds a
	// lock guarding the environment (or dataset).
	Purpose string `json:"purpose,omitempty"`
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
	// Override is the break-glass override that made the answer allow
	// although Reasons would deny; nil when none is in force
	// (ApplyOverrides sets it).
	Override *GateOverride `json:"override,omitempty"`
}

// Gate answers req from one evaluation: it denies for every gating finding
// of the environment (and dataset), and when no successful backup of it is
// retained at all; a migration is also denied while a backup holds a lock
// guarding it, or while the locks cannot be read. It decides nothing
// else, so the exporter's
// /api/v1/gate, its restorable_deploy_gate_open gauge, its finding metrics
// and `analyze gate` give one answer from the same Result.
func Gate(cfg *config.Config, res *Result, req GateRequest) (GateAnswer, error) {
	if _, ok := cfg.Environments[req.Env]; !ok {
		return GateAnswer{}, fmt.Errorf("unknown environment %q", req.Env)
	}
	if req.Purpose != "" && req.Purpose != PurposeDeploy && req.Purpose != PurposeMigration {
		return GateAnswer{}, fmt.Errorf("unknown purpose %q: deploy or migration", req.Purpose)
	}
	a := GateAnswer{GateRequest: req, EvaluatedAt: res.At.UTC(), Reasons: []GateReason{}}
	for i := range res.Findings {
		f := &res.Findings[i]
		if f.Env != req.Env || !Gating(f) {
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
	var latest *model.Backup
	for i := range res.LatestGood {
		b := &res.LatestGood[i]
		if b.Env == req.Env && (req.Dataset == "" || b.Dataset == req.Dataset) && model.Newer(b, latest) {
			latest = b
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
			Release: latest.Release, Time: latest.End.UTC(), Checksum: latest.Details().Checksum,
		}
	}
	if req.Purpose == PurposeMigration {
		a.Reasons = append(a.Reasons, lockReasons(cfg, res.Locks, req)...)
	}
	a.Allow = len(a.Reasons) == 0
	return a, nil
}

// GateOpen answers the gate of every environment, for the
// restorable_deploy_gate_open gauge.
func GateOpen(cfg *config.Config, res *Result) map[string]bool {
	out := make(map[string]bool, len(cfg.Environments))
	for env := range cfg.Environments {
		a, err := Gate(cfg, res, GateRequest{Env: env})
		out[env] = err == nil && a.Allow
	}
	return out
}
