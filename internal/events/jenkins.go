package events

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// jenkinsNotification is the JSON the Jenkins Notification plugin posts at
// each build phase.
type jenkinsNotification struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	URL         string `json:"url"`
	Build       struct {
		FullURL    string            `json:"full_url"`
		Number     int64             `json:"number"`
		Timestamp  int64             `json:"timestamp"`
		Phase      string            `json:"phase"`
		Status     string            `json:"status"`
		Parameters map[string]string `json:"parameters"`
		SCM        struct {
			Branch string `json:"branch"`
			Commit string `json:"commit"`
		} `json:"scm"`
	} `json:"build"`
}

// Build parameters of a Jenkins deploy job that Restorable reads.
const (
	JenkinsParamEnv     = "RESTORABLE_ENV"
	JenkinsParamDataset = "RESTORABLE_DATASET"
	JenkinsParamRelease = "RESTORABLE_RELEASE"
	JenkinsParamKind    = "RESTORABLE_KIND"
	JenkinsParamActor   = "RESTORABLE_ACTOR"
)

// jenkinsResult maps a FINALIZED build's status.
func jenkinsResult(status string) model.EventResult {
	switch status {
	case "SUCCESS":
		return model.ResultSucceeded
	case "ABORTED", "NOT_BUILT":
		return model.ResultCanceled
	default: // FAILURE, UNSTABLE
		return model.ResultFailed
	}
}

// parseJenkins reads a Notification plugin delivery. STARTED is a running
// event, FINALIZED (after every post-build step) the outcome; QUEUED and
// COMPLETED are ignored so that a build counts once. A build without the
// RESTORABLE_ENV parameter is not a deployment and is ignored.
func parseJenkins(d *Delivery, m *Mapping) (Parsed, error) {
	var p jenkinsNotification
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return Parsed{}, jsonFieldError(err)
	}
	b := p.Build
	if p.Name == "" {
		return Parsed{}, fieldErr("name", "required")
	}
	var res model.EventResult
	switch b.Phase {
	case "STARTED":
		res = model.ResultRunning
	case "FINALIZED":
		if b.Status == "" {
			return Parsed{}, fieldErr("build.status", "required in the FINALIZED phase")
		}
		res = jenkinsResult(b.Status)
	case "QUEUED", "COMPLETED":
		return ignored("build phase %s: the FINALIZED phase carries the outcome", b.Phase)
	case "":
		return Parsed{}, fieldErr("build.phase", "required")
	default:
		return Parsed{}, fieldErr("build.phase", "%q is not QUEUED, STARTED, COMPLETED or FINALIZED", b.Phase)
	}
	env := b.Parameters[JenkinsParamEnv]
	if env == "" {
		return ignored("job %s build %d has no %s parameter, so it deploys nothing Restorable watches", p.Name, b.Number, JenkinsParamEnv)
	}
	kind := model.EventDeploy
	if m.isRollbackJob(p.Name) {
		kind = model.EventRollback
	}
	if k := b.Parameters[JenkinsParamKind]; k != "" {
		kind = model.EventKind(k)
	}
	dataset := b.Parameters[JenkinsParamDataset]
	if dataset == "" {
		dataset = m.dataset(p.Name)
	}
	release := b.Parameters[JenkinsParamRelease]
	if release == "" {
		release = b.SCM.Commit
	}
	// The plugin's timestamp is the build's start; the FINALIZED phase
	// happens when it reaches the exporter.
	t := d.Received.UTC()
	if res == model.ResultRunning && b.Timestamp > 0 {
		t = time.UnixMilli(b.Timestamp).UTC()
	}
	id := deliveryID(d.Header, "")
	if id == "" {
		id = fmt.Sprintf("jenkins/%s/%d/%s", p.Name, b.Number, b.Phase)
	}
	return Parsed{Events: []model.Event{{
		ID: id, Sender: "jenkins", Kind: kind, Env: m.env(env), Dataset: dataset, Release: release,
		Revision: b.SCM.Commit, Actor: b.Parameters[JenkinsParamActor], Result: res, Time: t, URL: b.FullURL,
	}}}, nil
}
