package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Defaults of the events section.
const (
	DefaultEventsQueueSize    = 1024
	DefaultEventsMaxBodyBytes = 1 << 20
	// DefaultRollbackJobs matches the GitLab or Jenkins jobs whose events
	// are rollbacks rather than deploys.
	DefaultRollbackJobs = `(?i)rollback`
)

// Event senders: the native webhooks the exporter understands besides the
// generic JSON event.
const (
	SenderGitLab  = "gitlab"
	SenderGitHub  = "github"
	SenderArgoCD  = "argocd"
	SenderJenkins = "jenkins"
)

// EventSenders lists the native senders in the order docs/events.md does.
var EventSenders = []string{SenderGitLab, SenderGitHub, SenderArgoCD, SenderJenkins}

// Events turns on the release-events API (docs/events.md): the generic
// POST /api/v1/events, which needs the events:write permission, and a
// route per configured sender, which authenticates by that sender's secret.
type Events struct {
	JournalDir   string `yaml:"journal_dir,omitempty" doc:"Directory of the event journal (default <history.root>/events)."`
	QueueSize    int    `yaml:"queue_size,omitempty" doc:"Requests waiting for the journal at most; more are answered 429 (default 1024)." minimum:"1"`
	MaxBodyBytes int64  `yaml:"max_body_bytes,omitempty" doc:"Largest event request body (default 1048576; 413 above). --web.max-request-body-bytes still applies." minimum:"1"`

	GitLab  *EventSender `yaml:"gitlab,omitempty" doc:"GitLab Deployment and Pipeline hooks at POST /api/v1/events/gitlab."`
	GitHub  *EventSender `yaml:"github,omitempty" doc:"GitHub deployment_status webhooks at POST /api/v1/events/github."`
	ArgoCD  *EventSender `yaml:"argocd,omitempty" doc:"Argo CD notifications (examples/argocd) at POST /api/v1/events/argocd."`
	Jenkins *EventSender `yaml:"jenkins,omitempty" doc:"Jenkins Notification plugin at POST /api/v1/events/jenkins."`
}

// UnmarshalYAML sets the defaults of the section before decoding it, so
// that a value written explicitly (queue_size: 0) is validated, not
// replaced.
func (e *Events) UnmarshalYAML(n *yaml.Node) error {
	type plain Events
	*e = Events{QueueSize: DefaultEventsQueueSize, MaxBodyBytes: DefaultEventsMaxBodyBytes}
	if err := n.Decode((*plain)(e)); err != nil {
		return yamlError(err)
	}
	return nil
}

// EventSender is one native webhook sender: its secret and how its names
// map to Restorable's environments and datasets.
type EventSender struct {
	SecretFile string `yaml:"secret_file,omitempty" doc:"File holding the sender's secret (GitLab secret token, GitHub webhook secret, Argo CD or Jenkins token)."`
	SecretEnv  string `yaml:"secret_env,omitempty" doc:"Environment variable holding the sender's secret."`
	// Envs maps the sender's environment names to configured environments.
	Envs map[string]string `yaml:"envs,omitempty" doc:"Sender environment name to Restorable environment (production: prod); unmapped names are used as they are."`
	// Datasets maps the sender's project, repository, job or application
	// to a dataset.
	Datasets     map[string]string `yaml:"datasets,omitempty" doc:"Project path, repository full name, job or application name to dataset; unmapped ones use their last path element."`
	RollbackJobs string            `yaml:"rollback_jobs,omitempty" doc:"Regular expression of GitLab job or Jenkins job names whose events are rollbacks (default (?i)rollback)."`
}

// Sender returns the configuration of a native sender, nil when it is not
// configured.
func (e *Events) Sender(name string) *EventSender {
	switch name {
	case SenderGitLab:
		return e.GitLab
	case SenderGitHub:
		return e.GitHub
	case SenderArgoCD:
		return e.ArgoCD
	case SenderJenkins:
		return e.Jenkins
	}
	return nil
}

// JournalPath is where the event journal goes: events.journal_dir, else
// events/ under historyRoot (the history root in use, which --history.root
// may override). It fails when neither is a local path.
func (e *Events) JournalPath(historyRoot string) (string, error) {
	if e.JournalDir != "" {
		return e.JournalDir, nil
	}
	if historyRoot == "" || strings.Contains(historyRoot, "://") {
		return "", fmt.Errorf("events.journal_dir: history.root %q is not a local directory; set a local directory for the event journal", historyRoot)
	}
	return filepath.Join(historyRoot, "events"), nil
}

func (c *Config) applyEventDefaults() {
	e := c.Events
	if e == nil {
		return
	}
	for _, name := range EventSenders {
		if s := e.Sender(name); s != nil && s.RollbackJobs == "" {
			s.RollbackJobs = DefaultRollbackJobs
		}
	}
}

// validateEvents checks the events section and makes its paths absolute.
func (c *Config) validateEvents() error {
	e := c.Events
	if e == nil {
		return nil
	}
	if e.QueueSize < 1 {
		return errAt(c.lineOf("events", "queue_size"), "events.queue_size: must be at least 1")
	}
	if e.MaxBodyBytes < 1 {
		return errAt(c.lineOf("events", "max_body_bytes"), "events.max_body_bytes: must be at least 1")
	}
	if e.JournalDir == "" && c.History.Disabled {
		return errAt(c.lineOf("events"), "events.journal_dir: required when history is disabled")
	}
	e.JournalDir = c.Path(e.JournalDir)
	for _, name := range EventSenders {
		s := e.Sender(name)
		if s == nil {
			continue
		}
		where := "events." + name
		line := c.lineOf("events", name)
		switch {
		case s.SecretFile == "" && s.SecretEnv == "":
			return errAt(line, "%s: set secret_file or secret_env (a secret is never accepted inline, and a sender route without one would let anybody post events)", where)
		case s.SecretFile != "" && s.SecretEnv != "":
			return errAt(line, "%s: set secret_file or secret_env, not both", where)
		}
		s.SecretFile = c.Path(s.SecretFile)
		for _, from := range sortedKeys(s.Envs) {
			if _, ok := c.Environments[s.Envs[from]]; !ok {
				return errAt(c.lineOf("events", name, "envs", from), "%s.envs.%s: unknown environment %q", where, from, s.Envs[from])
			}
		}
		for _, from := range sortedKeys(s.Datasets) {
			if s.Datasets[from] == "" {
				return errAt(c.lineOf("events", name, "datasets", from), "%s.datasets.%s: a dataset name is required", where, from)
			}
		}
		if _, err := regexp.Compile(s.RollbackJobs); err != nil {
			return errAt(c.lineOf("events", name, "rollback_jobs"), "%s.rollback_jobs: %v", where, err)
		}
	}
	return nil
}
