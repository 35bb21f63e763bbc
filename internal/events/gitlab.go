package events

import (
	"encoding/json"
	"fmt"

	"github.com/restorable/restorable/internal/model"
)

// gitlabProject is the project object of GitLab's webhook payloads.
type gitlabProject struct {
	Name              string `json:"name"`
	PathWithNamespace string `json:"path_with_namespace"`
	WebURL            string `json:"web_url"`
}

type gitlabUser struct {
	Username string `json:"username"`
	Name     string `json:"name"`
}

// gitlabDeployment is the body of a GitLab "Deployment Hook".
type gitlabDeployment struct {
	ObjectKind      string        `json:"object_kind"`
	Status          string        `json:"status"`
	StatusChangedAt string        `json:"status_changed_at"`
	DeploymentID    int64         `json:"deployment_id"`
	DeployableURL   string        `json:"deployable_url"`
	Environment     string        `json:"environment"`
	Project         gitlabProject `json:"project"`
	ShortSHA        string        `json:"short_sha"`
	User            gitlabUser    `json:"user"`
	Ref             string        `json:"ref"`
}

// gitlabPipeline is the body of a GitLab "Pipeline Hook".
type gitlabPipeline struct {
	ObjectKind       string `json:"object_kind"`
	ObjectAttributes struct {
		ID         int64  `json:"id"`
		Ref        string `json:"ref"`
		Tag        bool   `json:"tag"`
		SHA        string `json:"sha"`
		Status     string `json:"status"`
		FinishedAt string `json:"finished_at"`
		URL        string `json:"url"`
	} `json:"object_attributes"`
	User    gitlabUser    `json:"user"`
	Project gitlabProject `json:"project"`
	Builds  []struct {
		ID          int64      `json:"id"`
		Name        string     `json:"name"`
		Status      string     `json:"status"`
		FinishedAt  string     `json:"finished_at"`
		User        gitlabUser `json:"user"`
		Environment *struct {
			Name   string `json:"name"`
			Action string `json:"action"`
		} `json:"environment"`
	} `json:"builds"`
}

// gitlabResult maps a GitLab deployment or job status; ok is false for a
// status that is not an outcome worth recording (created, pending, ...).
func gitlabResult(status string) (model.EventResult, bool) {
	switch status {
	case "success":
		return model.ResultSucceeded, true
	case "failed":
		return model.ResultFailed, true
	case "canceled", "cancelled":
		return model.ResultCanceled, true
	case "running":
		return model.ResultRunning, true
	}
	return "", false
}

// parseGitLab reads a Deployment Hook (one deploy event per status change
// of a deployment) or a Pipeline Hook (one event per finished job that
// deploys to an environment: a rollback when the job's name matches
// rollback_jobs, else a deploy). Other hooks are ignored.
func parseGitLab(d *Delivery, m *Mapping) (Parsed, error) {
	switch kind := d.Header.Get("X-Gitlab-Event"); kind {
	case "Deployment Hook":
		return parseGitLabDeployment(d, m)
	case "Pipeline Hook":
		return parseGitLabPipeline(d, m)
	default:
		return ignored("X-Gitlab-Event %q carries no release event", kind)
	}
}

func parseGitLabDeployment(d *Delivery, m *Mapping) (Parsed, error) {
	var p gitlabDeployment
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return Parsed{}, jsonFieldError(err)
	}
	res, ok := gitlabResult(p.Status)
	if !ok {
		return ignored("deployment status %q is not an outcome", p.Status)
	}
	if p.Environment == "" {
		return Parsed{}, fieldErr("environment", "required")
	}
	if p.Project.PathWithNamespace == "" {
		return Parsed{}, fieldErr("project.path_with_namespace", "required")
	}
	if p.StatusChangedAt == "" {
		return Parsed{}, fieldErr("status_changed_at", "required")
	}
	t, err := parseTime("status_changed_at", p.StatusChangedAt)
	if err != nil {
		return Parsed{}, err
	}
	// A deployment's status change is one event however often it is
	// delivered: the id comes from the payload, not from the delivery.
	id := deliveryID(d.Header, "")
	if id == "" {
		id = fmt.Sprintf("gitlab/deployment/%d/%s", p.DeploymentID, p.Status)
	}
	ev := model.Event{
		ID: id, Sender: "gitlab", Kind: model.EventDeploy, Env: m.env(p.Environment),
		Dataset: m.dataset(p.Project.PathWithNamespace), Release: p.Ref, Revision: p.ShortSHA,
		Actor: p.User.Username, Result: res, Time: t, URL: p.DeployableURL,
	}
	if ev.Release == "" {
		ev.Release = p.ShortSHA
	}
	return Parsed{Events: []model.Event{ev}}, nil
}

func parseGitLabPipeline(d *Delivery, m *Mapping) (Parsed, error) {
	var p gitlabPipeline
	if err := json.Unmarshal(d.Body, &p); err != nil {
		return Parsed{}, jsonFieldError(err)
	}
	if p.Project.PathWithNamespace == "" {
		return Parsed{}, fieldErr("project.path_with_namespace", "required")
	}
	var out []model.Event
	for i, b := range p.Builds {
		if b.Environment == nil || b.Environment.Name == "" || (b.Environment.Action != "" && b.Environment.Action != "start") {
			continue
		}
		res, ok := gitlabResult(b.Status)
		// Every pipeline status change repeats all its jobs: only finished
		// jobs are events, and each is one event however often it is
		// repeated (the id names the job and its status).
		if !ok || res == model.ResultRunning {
			continue
		}
		when := b.FinishedAt
		if when == "" {
			when = p.ObjectAttributes.FinishedAt
		}
		var t = d.Received.UTC()
		if when != "" {
			var err error
			if t, err = parseTime(fmt.Sprintf("builds[%d].finished_at", i), when); err != nil {
				return Parsed{}, err
			}
		}
		kind := model.EventDeploy
		if m.isRollbackJob(b.Name) {
			kind = model.EventRollback
		}
		actor := b.User.Username
		if actor == "" {
			actor = p.User.Username
		}
		release := p.ObjectAttributes.Ref
		if release == "" {
			release = p.ObjectAttributes.SHA
		}
		out = append(out, model.Event{
			ID:     fmt.Sprintf("gitlab/pipeline/%d/job/%d/%s", p.ObjectAttributes.ID, b.ID, b.Status),
			Sender: "gitlab", Kind: kind, Env: m.env(b.Environment.Name), Dataset: m.dataset(p.Project.PathWithNamespace),
			Release: release, Revision: p.ObjectAttributes.SHA, Actor: actor, Result: res, Time: t,
			URL: fmt.Sprintf("%s/-/jobs/%d", p.Project.WebURL, b.ID),
		})
	}
	if len(out) == 0 {
		return ignored("pipeline %d has no finished job that deploys to an environment", p.ObjectAttributes.ID)
	}
	return Parsed{Events: out}, nil
}
