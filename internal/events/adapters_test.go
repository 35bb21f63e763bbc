package events

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/model"
)

var received = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func delivery(body []byte, hdr ...string) *Delivery {
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &Delivery{Header: h, Body: body, Received: received}
}

func mapping(envs map[string]string) *Mapping {
	return &Mapping{Envs: envs, RollbackJobs: regexp.MustCompile(`(?i)rollback`)}
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestGitLabDeploymentHook(t *testing.T) {
	p, err := parseGitLab(delivery(fixture(t, "gitlab-deployment.json"), "X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Event-UUID", "u-1"), mapping(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Event{{
		ID: "gitlab/deployment/15/success", Sender: "gitlab", Kind: model.EventDeploy, Env: "staging",
		Dataset: "test-deployment-webhooks", Release: "1.0.0", Revision: "279484c0", Actor: "root",
		Result: model.ResultSucceeded, Time: mustTime("2021-04-28T19:50:00Z"),
		URL: "http://10.126.0.2:3000/root/test-deployment-webhooks/-/jobs/796",
	}}
	assertEvents(t, p.Events, want)
	// A configured mapping wins over the project's name.
	m := mapping(map[string]string{"staging": "stage"})
	m.Datasets = map[string]string{"root/test-deployment-webhooks": "payments"}
	p, err = parseGitLab(delivery(fixture(t, "gitlab-deployment.json"), "X-Gitlab-Event", "Deployment Hook"), m)
	if err != nil {
		t.Fatal(err)
	}
	if ev := p.Events[0]; ev.Env != "stage" || ev.Dataset != "payments" {
		t.Errorf("mapped env/dataset = %s/%s, want stage/payments", ev.Env, ev.Dataset)
	}
	// An Idempotency-Key header wins over the payload's id.
	p, err = parseGitLab(delivery(fixture(t, "gitlab-deployment.json"), "X-Gitlab-Event", "Deployment Hook", "Idempotency-Key", "proxy-1"), m)
	if err != nil || p.Events[0].ID != "proxy-1" {
		t.Errorf("Idempotency-Key: %+v, %v", p, err)
	}
	for status, res := range map[string]model.EventResult{"running": model.ResultRunning, "failed": model.ResultFailed, "canceled": model.ResultCanceled, "created": ""} {
		body := bytes.Replace(fixture(t, "gitlab-deployment.json"), []byte(`"status": "success"`), []byte(`"status": "`+status+`"`), 1)
		p, err := parseGitLab(delivery(body, "X-Gitlab-Event", "Deployment Hook"), m)
		if err != nil {
			t.Fatal(err)
		}
		if res == "" {
			if len(p.Events) != 0 {
				t.Errorf("status %s: %+v, want ignored", status, p)
			}
			continue
		}
		if p.Events[0].Result != res {
			t.Errorf("status %s: result %s, want %s", status, p.Events[0].Result, res)
		}
	}
}

func TestGitLabPipelineHook(t *testing.T) {
	p, err := parseGitLab(delivery(fixture(t, "gitlab-pipeline.json"), "X-Gitlab-Event", "Pipeline Hook"), mapping(map[string]string{"production": "prod"}))
	if err != nil {
		t.Fatal(err)
	}
	sha := "bcbb5ec396a2c0f828686f14fac9b80b780504f2"
	want := []model.Event{
		{ID: "gitlab/pipeline/31/job/380/success", Sender: "gitlab", Kind: model.EventDeploy, Env: "prod", Dataset: "gitlab-test",
			Release: "v1.4.0", Revision: sha, Actor: "root", Result: model.ResultSucceeded, Time: mustTime("2016-08-12T15:26:29Z"),
			URL: "http://example.com/gitlab-org/gitlab-test/-/jobs/380"},
		{ID: "gitlab/pipeline/31/job/381/failed", Sender: "gitlab", Kind: model.EventRollback, Env: "prod", Dataset: "gitlab-test",
			Release: "v1.4.0", Revision: sha, Actor: "jane", Result: model.ResultFailed, Time: mustTime("2016-08-12T15:27:40Z"),
			URL: "http://example.com/gitlab-org/gitlab-test/-/jobs/381"},
	}
	assertEvents(t, p.Events, want)

	// A pipeline without a deploying job, and other hooks, are no events.
	body := bytes.Replace(fixture(t, "gitlab-pipeline.json"), []byte(`"action": "start"`), []byte(`"action": "prepare"`), -1)
	if p, err := parseGitLab(delivery(body, "X-Gitlab-Event", "Pipeline Hook"), mapping(nil)); err != nil || len(p.Events) != 0 || p.Ignored == "" {
		t.Errorf("pipeline without deployments: %+v, %v", p, err)
	}
	if p, err := parseGitLab(delivery([]byte(`{}`), "X-Gitlab-Event", "Push Hook"), mapping(nil)); err != nil || p.Ignored == "" {
		t.Errorf("push hook: %+v, %v", p, err)
	}
}

func TestGitHubDeploymentStatus(t *testing.T) {
	body := fixture(t, "github-deployment_status.json")
	want := []model.Event{{
		ID: "72d3162e-cc78-11e3-81ab-4c9367dc0958", Sender: "github", Kind: model.EventDeploy, Env: "prod", Dataset: "payments",
		Release: "v1.4.0", Revision: "a10867b14bb761a232cd80139fbd4c0d33264240", Actor: "octocat", Result: model.ResultSucceeded,
		Time: mustTime("2026-11-30T09:15:02Z"), URL: "https://github.com/octo-org/payments/actions/runs/42/job/7",
		Reason: "Deployment finished successfully.",
	}}
	m := mapping(map[string]string{"production": "prod"})
	hdr := []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"}
	p, err := parseGitHub(delivery(body, hdr...), m)
	if err != nil {
		t.Fatal(err)
	}
	assertEvents(t, p.Events, want)

	// The same delivery form-encoded (content type
	// application/x-www-form-urlencoded) is the same event.
	form := []byte("payload=" + url.QueryEscape(string(body)))
	p, err = parseGitHub(delivery(form, append(hdr, "Content-Type", "application/x-www-form-urlencoded")...), m)
	if err != nil {
		t.Fatal(err)
	}
	assertEvents(t, p.Events, want)

	// A deployment whose task is rollback is a rollback.
	rb := bytes.Replace(body, []byte(`"task": "deploy"`), []byte(`"task": "rollback"`), 1)
	if p, err = parseGitHub(delivery(rb, hdr...), m); err != nil || p.Events[0].Kind != model.EventRollback {
		t.Errorf("task rollback: %+v, %v", p, err)
	}
	// States map to results; inactive and ping are no events.
	for state, res := range map[string]model.EventResult{"failure": model.ResultFailed, "error": model.ResultFailed, "in_progress": model.ResultRunning, "inactive": ""} {
		b := bytes.Replace(body, []byte(`"state": "success"`), []byte(`"state": "`+state+`"`), 1)
		p, err := parseGitHub(delivery(b, hdr...), m)
		if err != nil {
			t.Fatal(err)
		}
		if res == "" {
			if len(p.Events) != 0 {
				t.Errorf("state %s: %+v, want ignored", state, p)
			}
			continue
		}
		if p.Events[0].Result != res {
			t.Errorf("state %s: result %s, want %s", state, p.Events[0].Result, res)
		}
	}
	if p, err := parseGitHub(delivery([]byte(`{"zen":"Keep it logically awesome."}`), "X-GitHub-Event", "ping"), m); err != nil || p.Ignored != "ping" {
		t.Errorf("ping: %+v, %v", p, err)
	}
}

func TestJenkinsNotification(t *testing.T) {
	m := mapping(map[string]string{"production": "prod"})
	commit := "c3a4c1f0e0b2d5f6a7b8c9d0e1f2a3b4c5d6e7f8"
	link := "http://jenkins.example.com/job/deploy-payments/57/"
	for _, c := range []struct {
		file string
		want *model.Event
	}{
		{"jenkins-started.json", &model.Event{ID: "jenkins/deploy-payments/57/STARTED", Sender: "jenkins", Kind: model.EventDeploy, Env: "prod",
			Dataset: "deploy-payments", Release: "v1.4.0", Revision: commit, Actor: "alice", Result: model.ResultRunning,
			Time: time.UnixMilli(1764493200000).UTC(), URL: link}},
		{"jenkins-completed.json", nil},
		{"jenkins-finalized.json", &model.Event{ID: "jenkins/deploy-payments/57/FINALIZED", Sender: "jenkins", Kind: model.EventDeploy, Env: "prod",
			Dataset: "deploy-payments", Release: "v1.4.0", Revision: commit, Actor: "alice", Result: model.ResultSucceeded,
			Time: received, URL: link}},
		{"jenkins-rollback-finalized.json", &model.Event{ID: "jenkins/rollback-payments/57/FINALIZED", Sender: "jenkins", Kind: model.EventRollback, Env: "prod",
			Dataset: "rollback-payments", Release: "v1.4.0", Revision: commit, Actor: "alice", Result: model.ResultFailed,
			Time: received, URL: "http://jenkins.example.com/job/rollback-payments/57/"}},
	} {
		p, err := parseJenkins(delivery(fixture(t, c.file)), m)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		if c.want == nil {
			if len(p.Events) != 0 || p.Ignored == "" {
				t.Errorf("%s: %+v, want ignored", c.file, p)
			}
			continue
		}
		assertEvents(t, p.Events, []model.Event{*c.want})
	}
	for status, res := range map[string]model.EventResult{"FAILURE": model.ResultFailed, "UNSTABLE": model.ResultFailed, "ABORTED": model.ResultCanceled, "NOT_BUILT": model.ResultCanceled} {
		body := bytes.Replace(fixture(t, "jenkins-finalized.json"), []byte(`"status": "SUCCESS"`), []byte(`"status": "`+status+`"`), 1)
		p, err := parseJenkins(delivery(body), m)
		if err != nil || p.Events[0].Result != res {
			t.Errorf("status %s: %+v %v, want %s", status, p, err, res)
		}
	}
	// A build without RESTORABLE_ENV deploys nothing Restorable watches.
	body := bytes.Replace(fixture(t, "jenkins-finalized.json"), []byte(`"RESTORABLE_ENV"`), []byte(`"OTHER"`), 1)
	if p, err := parseJenkins(delivery(body), m); err != nil || len(p.Events) != 0 {
		t.Errorf("no RESTORABLE_ENV: %+v, %v", p, err)
	}
}

// argoTemplate renders the body of the notification template we ship the
// way Argo CD's notifications engine does (Go text/template; toJson is the
// one sprig function the template uses).
func argoTemplate(t *testing.T) *template.Template {
	t.Helper()
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(fixture(t, "../../../examples/argocd/argocd-notifications-cm.yaml"), &cm); err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Webhook map[string]struct {
			Method string `yaml:"method"`
			Body   string `yaml:"body"`
		} `yaml:"webhook"`
	}
	if err := yaml.Unmarshal([]byte(cm.Data["template.restorable-sync"]), &tmpl); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"service.webhook.restorable", "trigger.on-restorable-sync"} {
		if !strings.Contains(cm.Data[key], "restorable") {
			t.Errorf("the ConfigMap lacks %s", key)
		}
	}
	wh := tmpl.Webhook["restorable"]
	if wh.Method != "POST" || wh.Body == "" {
		t.Fatalf("template.restorable-sync: webhook.restorable is %+v", wh)
	}
	toJSON := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	return template.Must(template.New("body").Funcs(template.FuncMap{"toJson": toJSON}).Parse(wh.Body))
}

func renderArgo(t *testing.T, tmpl *template.Template, app map[string]any) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := tmpl.Execute(&out, app); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestArgoCDTemplate(t *testing.T) {
	tmpl := argoTemplate(t)
	var app map[string]any
	if err := json.Unmarshal(fixture(t, "argocd-application-rollback.json"), &app); err != nil {
		t.Fatal(err)
	}
	body := renderArgo(t, tmpl, app)
	p, err := parseArgoCD(delivery(body), mapping(nil))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	old := "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567"
	want := []model.Event{{
		ID: "3f1c2a9e-8d0b-4c1e-9a43-5b7e2f6d8c10/2026-11-30T09:42:03Z", Sender: "argocd", Kind: model.EventRollback, Env: "prod",
		Dataset: "payments", Release: old, Revision: old, Actor: "bob", Result: model.ResultSucceeded,
		Time: mustTime("2026-11-30T09:42:11Z"), URL: "https://argocd.example.com/applications/payments-prod",
	}}
	assertEvents(t, p.Events, want)

	// A sync to a new revision is a deploy; so is a re-sync of the revision
	// deployed just before.
	status := app["app"].(map[string]any)["status"].(map[string]any)
	hist := status["history"].([]any)
	newest := hist[2].(map[string]any)
	op := status["operationState"].(map[string]any)
	for _, rev := range []string{"0000000000000000000000000000000000000abc", "4e2d6a8b0c1f3e5a7b9d2c4e6f8a0b1c3d5e7f9a"} {
		newest["revision"] = rev
		op["syncResult"].(map[string]any)["revision"] = rev
		p, err := parseArgoCD(delivery(renderArgo(t, tmpl, app)), mapping(nil))
		if err != nil {
			t.Fatal(err)
		}
		if p.Events[0].Kind != model.EventDeploy {
			t.Errorf("sync to %s: kind %s, want deploy", rev, p.Events[0].Kind)
		}
	}
	// An automated sync has no user: its actor is "automated".
	op["operation"].(map[string]any)["initiatedBy"] = map[string]any{"automated": true}
	if p, err := parseArgoCD(delivery(renderArgo(t, tmpl, app)), mapping(nil)); err != nil || p.Events[0].Actor != "automated" {
		t.Errorf("automated sync: %+v, %v", p, err)
	}
	// An application without the env label renders, and is refused by
	// name.
	delete(app["app"].(map[string]any)["metadata"].(map[string]any), "labels")
	p, err = parseArgoCD(delivery(renderArgo(t, tmpl, app)), mapping(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(&p.Events[0]); err == nil || err.Error() != "env: required" {
		t.Errorf("no env label: %v, want env: required", err)
	}
}

func TestArgoRollbackRule(t *testing.T) {
	for _, c := range []struct {
		rev  string
		hist []string
		want bool
	}{
		{"a", []string{"a", "b", "a"}, true},      // succeeded sync back to a
		{"a", []string{"a", "b"}, true},           // failed sync back to a (no new entry)
		{"c", []string{"a", "b", "c"}, false},     // new revision
		{"b", []string{"a", "b", "b"}, false},     // re-sync
		{"a", []string{"a"}, false},               // first deployment
		{"a", nil, false},                         // no history
		{"b", []string{"a", "b", "c", "b"}, true}, // back from c to b
	} {
		if got := argoRollback(c.rev, c.hist); got != c.want {
			t.Errorf("sync to %s after %v: rollback=%v, want %v", c.rev, c.hist, got, c.want)
		}
	}
}

func assertEvents(t *testing.T, got, want []model.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.Time.Equal(w.Time) {
			t.Errorf("event %d time %s, want %s", i, g.Time, w.Time)
		}
		g.Time, w.Time = time.Time{}, time.Time{}
		if g != w {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}
