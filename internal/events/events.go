// Package events turns release events into model.Event records and keeps
// them: the generic JSON event and the native webhooks of GitLab, GitHub,
// Argo CD and Jenkins (one adapter per file), their signature checks, and
// a durable journal with group commit, de-duplication by delivery id and a
// bounded queue. docs/events.md describes the schema, each sender's
// mapping and the durability and backpressure semantics.
package events

import (
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// SenderGeneric is the sender of the generic JSON event.
const SenderGeneric = "generic"

// FieldError is a request that cannot become an event because of one
// field; the API answers 400 with {"error":"<field>: <msg>"}.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Delivery is one request as an adapter sees it.
type Delivery struct {
	Header http.Header
	Body   []byte
	// Received is when the request arrived, the time of an event whose
	// sender tells none.
	Received time.Time
}

// Mapping is how a sender's names become Restorable's: environment names,
// dataset names and the jobs whose events are rollbacks.
type Mapping struct {
	Envs         map[string]string
	Datasets     map[string]string
	RollbackJobs *regexp.Regexp
}

// env maps a sender's environment name.
func (m *Mapping) env(name string) string {
	if v, ok := m.Envs[name]; ok {
		return v
	}
	return name
}

// dataset maps a project path, repository, job or application; unmapped,
// its last path element is the dataset.
func (m *Mapping) dataset(key string) string {
	if v, ok := m.Datasets[key]; ok {
		return v
	}
	return path.Base(strings.Trim(key, "/"))
}

func (m *Mapping) isRollbackJob(name string) bool {
	return m.RollbackJobs != nil && name != "" && m.RollbackJobs.MatchString(name)
}

// Parsed is what an adapter made of a delivery: events, or the reason it
// holds none that Restorable records (a ping, a pipeline without a
// deployment job, an intermediate build phase).
type Parsed struct {
	Events  []model.Event
	Ignored string
}

func ignored(format string, args ...any) (Parsed, error) {
	return Parsed{Ignored: fmt.Sprintf(format, args...)}, nil
}

// adapter turns a delivery of one sender into events.
type adapter func(d *Delivery, m *Mapping) (Parsed, error)

// adapters lists the native senders' adapters; config.EventSenders names
// the same senders.
var adapters = map[string]adapter{
	"gitlab":  parseGitLab,
	"github":  parseGitHub,
	"argocd":  parseArgoCD,
	"jenkins": parseJenkins,
}

// Validate checks what every event needs, whoever sent it, and names the
// first field that is wrong.
func Validate(ev *model.Event) error {
	switch {
	case ev.ID == "":
		return fieldErr("id", "required (send an Idempotency-Key header)")
	case len(ev.ID) > 200:
		return fieldErr("id", "longer than 200 characters")
	case ev.Kind == "":
		return fieldErr("kind", "required")
	case !ev.Kind.Valid():
		return fieldErr("kind", "%q is not one of %s", ev.Kind, joinKinds())
	case ev.Env == "":
		return fieldErr("env", "required")
	case ev.Dataset == "":
		return fieldErr("dataset", "required (or service)")
	case !ev.Result.Valid():
		return fieldErr("result", "%q is not one of succeeded, failed, running, canceled", ev.Result)
	case ev.Time.IsZero():
		return fieldErr("time", "required")
	}
	switch ev.Kind {
	case model.EventDeploy, model.EventRollback:
		if ev.Release == "" {
			return fieldErr("release", "required for a %s", ev.Kind)
		}
	case model.EventPreReleaseBackup:
		if ev.Release == "" {
			return fieldErr("release", "required for a pre_release_backup (the release the backup precedes)")
		}
		if ev.BackupID == "" {
			return fieldErr("backup.id", "required for a pre_release_backup")
		}
	case model.EventFreezeAck:
		// Blank is missing: the policy would ignore such an ack, so it is
		// refused here rather than acknowledged and then without effect.
		if strings.TrimSpace(ev.Actor) == "" {
			return fieldErr("actor", "required for a freeze_ack (who reviewed the backups)")
		}
		if strings.TrimSpace(ev.Reason) == "" {
			return fieldErr("reason", "required for a freeze_ack")
		}
	}
	return nil
}

func joinKinds() string {
	s := make([]string, len(model.EventKinds))
	for i, k := range model.EventKinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// parseTime reads the time formats senders use: RFC 3339, GitLab's
// "2021-04-28 21:50:00 +0200" and "2016-08-12 15:26:29 UTC".
func parseTime(field, v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 -0700", "2006-01-02 15:04:05 MST"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fieldErr(field, "%q is not a time (RFC 3339, e.g. 2026-12-01T10:00:00Z)", v)
}

// deliveryID is the Idempotency-Key of a request, else its sender's
// delivery header.
func deliveryID(h http.Header, senderHeader string) string {
	if v := strings.TrimSpace(h.Get("Idempotency-Key")); v != "" {
		return v
	}
	if senderHeader != "" {
		return strings.TrimSpace(h.Get(senderHeader))
	}
	return ""
}
