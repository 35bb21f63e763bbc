package events

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"strings"

	"github.com/restorable/restorable/internal/model"
)

// githubDeploymentStatus is the body of a GitHub deployment_status
// webhook.
type githubDeploymentStatus struct {
	Action           string `json:"action"`
	DeploymentStatus struct {
		ID          int64  `json:"id"`
		State       string `json:"state"`
		Environment string `json:"environment"`
		TargetURL   string `json:"target_url"`
		LogURL      string `json:"log_url"`
		Description string `json:"description"`
		CreatedAt   string `json:"created_at"`
		Creator     struct {
			Login string `json:"login"`
		} `json:"creator"`
	} `json:"deployment_status"`
	Deployment struct {
		ID          int64  `json:"id"`
		SHA         string `json:"sha"`
		Ref         string `json:"ref"`
		Task        string `json:"task"`
		Environment string `json:"environment"`
		Creator     struct {
			Login string `json:"login"`
		} `json:"creator"`
	} `json:"deployment"`
	Repository struct {
		Name     string `json:"name"`
		FullName string `json:"full_name"`
		HTMLURL  string `json:"html_url"`
	} `json:"repository"`
}

// githubBody returns the JSON of a GitHub delivery: the body itself for
// application/json, the payload form field for
// application/x-www-form-urlencoded.
func githubBody(d *Delivery) ([]byte, error) {
	mt, _, _ := mime.ParseMediaType(d.Header.Get("Content-Type"))
	if mt != "application/x-www-form-urlencoded" {
		return d.Body, nil
	}
	form, err := url.ParseQuery(string(d.Body))
	if err != nil {
		return nil, fieldErr("payload", "not a form: %v", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, fieldErr("payload", "required in a form-encoded delivery")
	}
	return []byte(p), nil
}

// githubResult maps a deployment status state; inactive (a newer
// deployment replaced this one) is not an outcome.
func githubResult(state string) (model.EventResult, bool) {
	switch state {
	case "success":
		return model.ResultSucceeded, true
	case "failure", "error":
		return model.ResultFailed, true
	case "pending", "queued", "in_progress":
		return model.ResultRunning, true
	}
	return "", false
}

// parseGitHub reads a deployment_status delivery: a deploy, or a rollback
// when the deployment's task is "rollback" (or starts with "rollback:").
// ping and other events are ignored.
func parseGitHub(d *Delivery, m *Mapping) (Parsed, error) {
	switch ev := d.Header.Get("X-GitHub-Event"); ev {
	case "deployment_status":
	case "ping":
		return ignored("ping")
	default:
		return ignored("X-GitHub-Event %q carries no release event", ev)
	}
	body, err := githubBody(d)
	if err != nil {
		return Parsed{}, err
	}
	var p githubDeploymentStatus
	if err := json.Unmarshal(body, &p); err != nil {
		return Parsed{}, jsonFieldError(err)
	}
	st := p.DeploymentStatus
	res, ok := githubResult(st.State)
	if !ok {
		return ignored("deployment status state %q is not an outcome", st.State)
	}
	env := st.Environment
	if env == "" {
		env = p.Deployment.Environment
	}
	if env == "" {
		return Parsed{}, fieldErr("deployment_status.environment", "required")
	}
	if p.Repository.FullName == "" {
		return Parsed{}, fieldErr("repository.full_name", "required")
	}
	if st.CreatedAt == "" {
		return Parsed{}, fieldErr("deployment_status.created_at", "required")
	}
	t, err := parseTime("deployment_status.created_at", st.CreatedAt)
	if err != nil {
		return Parsed{}, err
	}
	id := deliveryID(d.Header, "X-GitHub-Delivery")
	if id == "" {
		id = fmt.Sprintf("github/deployment_status/%d", st.ID)
	}
	kind := model.EventDeploy
	if task := strings.ToLower(p.Deployment.Task); task == "rollback" || strings.HasPrefix(task, "rollback:") {
		kind = model.EventRollback
	}
	actor := st.Creator.Login
	if actor == "" {
		actor = p.Deployment.Creator.Login
	}
	link := st.LogURL
	if link == "" {
		link = st.TargetURL
	}
	release := p.Deployment.Ref
	if release == "" {
		release = p.Deployment.SHA
	}
	return Parsed{Events: []model.Event{{
		ID: id, Sender: "github", Kind: kind, Env: m.env(env), Dataset: m.dataset(p.Repository.FullName),
		Release: release, Revision: p.Deployment.SHA, Actor: actor, Result: res, Time: t, URL: link,
		Reason: st.Description,
	}}}, nil
}
