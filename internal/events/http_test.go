package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

const (
	gitlabSecret  = "gl-token-1"
	githubSecret  = "It's a Secret to Everybody"
	argoSecret    = "argo-token"
	jenkinsSecret = "jenkins-token"
)

// rig is a real ingester and handler on a temporary journal, behind a mux
// with the exporter's routes (without the access guard, which
// internal/server tests).
type rig struct {
	t      *testing.T
	dir    string
	cfg    *config.Config
	in     *Ingester
	h      *Handler
	srv    *httptest.Server
	reg    *prometheus.Registry
	logs   syncBuffer
	mu     sync.Mutex
	events []model.Event
}

func newConfigB(t testing.TB, dir string) *config.Config { return newConfig(t, dir, "") }

func newConfig(t testing.TB, dir, extra string) *config.Config {
	t.Helper()
	for name, secret := range map[string]string{"gl": gitlabSecret, "gh": githubSecret, "argo": argoSecret, "jenkins": jenkinsSecret} {
		if err := os.WriteFile(filepath.Join(dir, name+".secret"), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yml := `environments:
  prod: {rpo: 1h}
  staging: {rpo: 24h}
history: {root: ./history}
events:
  journal_dir: journal
  max_body_bytes: 65536
` + extra + `  gitlab: {secret_file: gl.secret, envs: {production: prod}}
  github: {secret_file: gh.secret, envs: {production: prod}}
  argocd: {secret_file: argo.secret}
  jenkins: {secret_file: jenkins.secret, envs: {production: prod}}
`
	cfg, err := config.Parse(filepath.Join(dir, "restorable.yml"), []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newRig(t *testing.T, dir string, o Options) *rig {
	t.Helper()
	r := &rig{t: t, dir: dir, cfg: newConfig(t, dir, ""), reg: prometheus.NewRegistry()}
	o.Dir = r.cfg.Events.JournalDir
	if o.QueueSize == 0 {
		o.QueueSize = r.cfg.Events.QueueSize
	}
	o.Registerer = r.reg
	o.OnCommit = func(evs []model.Event) {
		r.mu.Lock()
		r.events = append(r.events, evs...)
		r.mu.Unlock()
	}
	var err error
	if r.in, err = Open(o); err != nil {
		t.Fatal(err)
	}
	if r.h, err = NewHandler(r.in, r.cfg, slog.New(slog.NewTextHandler(&r.logs, nil))); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/events", r.h.HandleGeneric)
	mux.HandleFunc("POST /api/v1/events/{sender}", r.h.HandleSender)
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.close)
	return r
}

func (r *rig) close() {
	if r.srv != nil {
		r.srv.Close()
		r.srv = nil
		if err := r.in.Close(); err != nil {
			r.t.Error(err)
		}
	}
}

func (r *rig) committed() []model.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]model.Event(nil), r.events...)
}

type answer struct {
	code int
	hdr  http.Header
	body map[string]any
}

func (r *rig) post(path, body string, hdr ...string) answer {
	r.t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.srv.URL+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test read
	raw, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, hdr: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		r.t.Fatalf("POST %s: %s %s is not JSON", path, resp.Status, raw)
	}
	return a
}

func (r *rig) counter(name string, labels ...string) float64 {
	r.t.Helper()
	var vec *prometheus.CounterVec
	switch name {
	case "received":
		vec = r.in.m.received
	case "refused":
		vec = r.in.m.refused
	}
	return testutil.ToFloat64(vec.WithLabelValues(labels...))
}

func genericEvent(key string) (string, []string) {
	return `{"kind":"deploy","env":"prod","dataset":"payments","release":"v1.4.0","revision":"abc123","actor":"ci","time":"2026-12-01T10:00:00Z","result":"succeeded"}`,
		[]string{"Content-Type", "application/json", "Idempotency-Key", key}
}

func TestSignatures(t *testing.T) {
	r := newRig(t, t.TempDir(), Options{})
	gl := string(fixture(t, "gitlab-deployment.json"))
	gh := string(fixture(t, "github-deployment_status.json"))
	jk := string(fixture(t, "jenkins-finalized.json"))
	argo := `{"id":"x/1","app":"payments","env":"prod","revision":"abc","phase":"Succeeded","time":"2026-12-01T10:00:00Z","history":[]}`
	form := "payload=" + url.QueryEscape(gh)
	tampered := strings.Replace(gh, `"production"`, `"staging"`, 1)
	for _, c := range []struct {
		name, path, body string
		hdr              []string
		code             int
	}{
		{"gitlab ok", "/api/v1/events/gitlab", gl, []string{"X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Token", gitlabSecret}, 202},
		{"gitlab wrong token", "/api/v1/events/gitlab", gl, []string{"X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Token", "nope"}, 401},
		{"gitlab missing token", "/api/v1/events/gitlab", gl, []string{"X-Gitlab-Event", "Deployment Hook"}, 401},
		{"github ok", "/api/v1/events/github", gh, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-1", "Content-Type", "application/json", "X-Hub-Signature-256", SignGitHub([]byte(githubSecret), []byte(gh))}, 202},
		{"github form ok", "/api/v1/events/github", form, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-2", "Content-Type", "application/x-www-form-urlencoded", "X-Hub-Signature-256", SignGitHub([]byte(githubSecret), []byte(form))}, 202},
		{"github wrong secret", "/api/v1/events/github", gh, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-3", "X-Hub-Signature-256", SignGitHub([]byte("other"), []byte(gh))}, 401},
		{"github missing signature", "/api/v1/events/github", gh, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-4"}, 401},
		{"github tampered body", "/api/v1/events/github", tampered, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-5", "X-Hub-Signature-256", SignGitHub([]byte(githubSecret), []byte(gh))}, 401},
		{"github sha1 only", "/api/v1/events/github", gh, []string{"X-GitHub-Event", "deployment_status", "X-GitHub-Delivery", "d-6", "X-Hub-Signature", "sha1=0123"}, 401},
		{"argocd header ok", "/api/v1/events/argocd", argo, []string{TokenHeader, argoSecret}, 202},
		{"argocd wrong token", "/api/v1/events/argocd", argo, []string{TokenHeader, jenkinsSecret}, 401},
		{"jenkins query ok", "/api/v1/events/jenkins?token=" + url.QueryEscape(jenkinsSecret), jk, nil, 202},
		{"jenkins missing token", "/api/v1/events/jenkins", jk, nil, 401},
		{"unknown sender", "/api/v1/events/bitbucket", "{}", nil, 404},
	} {
		a := r.post(c.path, c.body, c.hdr...)
		if a.code != c.code {
			t.Errorf("%s: %d %v, want %d", c.name, a.code, a.body, c.code)
		}
	}
	if got := len(r.committed()); got != 5 {
		t.Errorf("%d events committed, want the 5 authenticated ones", got)
	}
	if got := r.counter("refused", "github", RefusedUnauthorized); got != 4 {
		t.Errorf("github unauthorized refusals = %v, want 4", got)
	}
	for _, ev := range r.committed() {
		if ev.Received.IsZero() {
			t.Errorf("event %s has no received time", ev.ID)
		}
	}
}

// syncBuffer is a log destination that handlers may write concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A secret is never part of an answer or of the log, whichever way it is
// wrong.
func TestSecretsNeverEchoed(t *testing.T) {
	r := newRig(t, t.TempDir(), Options{})
	for _, path := range []string{"/api/v1/events/gitlab", "/api/v1/events/github", "/api/v1/events/argocd", "/api/v1/events/jenkins"} {
		a := r.post(path, `{}`, "X-Gitlab-Token", "x", "X-Hub-Signature-256", "sha256=00", TokenHeader, "x")
		if a.code != 401 {
			t.Errorf("%s: %d, want 401", path, a.code)
		}
		msg := fmt.Sprint(a.body)
		for _, s := range []string{gitlabSecret, githubSecret, argoSecret, jenkinsSecret} {
			if strings.Contains(msg, s) {
				t.Errorf("%s answer %q contains a secret", path, msg)
			}
			if strings.Contains(r.logs.String(), s) {
				t.Errorf("the log contains a secret:\n%s", r.logs.String())
			}
		}
	}
}

func TestDuplicatesCountedOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, dir, Options{})
	body, hdr := genericEvent("release-1")
	if a := r.post("/api/v1/events", body, hdr...); a.code != 202 || a.body["status"] != "accepted" {
		t.Fatalf("first delivery: %d %v", a.code, a.body)
	}
	if a := r.post("/api/v1/events", body, hdr...); a.code != 200 || a.body["status"] != "duplicate" {
		t.Fatalf("second delivery: %d %v", a.code, a.body)
	}
	// Concurrent copies of one new delivery: exactly one is accepted.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			b, h := genericEvent("release-2")
			codes[i] = r.post("/api/v1/events", b, h...).code
		})
	}
	wg.Wait()
	accepted := 0
	for _, c := range codes {
		if c == 202 {
			accepted++
		}
	}
	if accepted != 1 {
		t.Errorf("concurrent copies: codes %v, want exactly one 202", codes)
	}
	if got := r.counter("received", "generic", "deploy", OutcomeAccepted); got != 2 {
		t.Errorf("accepted = %v, want 2", got)
	}
	if got := r.counter("received", "generic", "deploy", OutcomeDuplicate); got != 8 {
		t.Errorf("duplicates = %v, want 8", got)
	}
	r.close()

	r2 := newRig(t, dir, Options{})
	if got := r2.committed(); len(got) != 2 || got[0].ID != "release-1" || got[1].ID != "release-2" {
		t.Fatalf("replayed %+v, want release-1 and release-2 in journal order", got)
	}
	if a := r2.post("/api/v1/events", body, hdr...); a.code != 200 || a.body["status"] != "duplicate" {
		t.Errorf("delivery after restart: %d %v, want 200 duplicate", a.code, a.body)
	}
	if got := len(r2.committed()); got != 2 {
		t.Errorf("%d events after a duplicate, want 2", got)
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	r := newRig(t, t.TempDir(), Options{})
	for body, want := range map[string]string{
		`{"env":"prod","dataset":"d","release":"r"}`:                                    "kind: required",
		`{"kind":"deplyo","env":"prod","dataset":"d","release":"r"}`:                    `kind: "deplyo" is not one of deploy, rollback, pre_release_backup, freeze_ack, migration`,
		`{"kind":"deploy","dataset":"d","release":"r"}`:                                 "env: required",
		`{"kind":"deploy","env":"qa","dataset":"d","release":"r"}`:                      `env: unknown environment "qa" (not in the configuration's environments)`,
		`{"kind":"deploy","env":"prod","release":"r"}`:                                  "dataset: required (or service)",
		`{"kind":"deploy","env":"prod","dataset":"d"}`:                                  "release: required for a deploy",
		`{"kind":"deploy","env":"prod","service":"s","release":"r","time":"yesterday"}`: `time: "yesterday" is not a time (RFC 3339, e.g. 2026-12-01T10:00:00Z)`,
		`{"kind":"deploy","env":"prod","dataset":"d","release":"r","result":"ok"}`:      `result: "ok" is not one of succeeded, failed, running, canceled`,
		`{"kind":"deploy","env":"prod","dataset":"d","release":"r","envv":"x"}`:         "envv: unknown field",
		`{"kind":"deploy","env":"prod","dataset":"d","release":"r","migration":"yes"}`:  "migration: must be a bool, not a JSON string",
		`{"kind":"pre_release_backup","env":"prod","dataset":"d","release":"r"}`:        "backup.id: required for a pre_release_backup",
		`{"kind":"freeze_ack","env":"prod","dataset":"d","reason":"reviewed"}`:          "actor: required for a freeze_ack (who reviewed the backups)",
		`{"kind":"freeze_ack","env":"prod","dataset":"d","actor":"alice"}`:              "reason: required for a freeze_ack",
		`{"kind":"freeze_ack","env":"prod","dataset":"d","actor":"alice","reason":" "}`: "reason: required for a freeze_ack",
		`{"kind":"freeze_ack","env":"prod","dataset":"d","actor":"\t","reason":"ok"}`:   "actor: required for a freeze_ack (who reviewed the backups)",
		`{"kind":"deploy","env":"prod","dataset":"d","service":"e","release":"r"}`:      `service: "e" differs from dataset "d"; send one of them`,
		`{"kind":"deploy"`:                       "body: unexpected EOF",
		``:                                       "body: empty; a JSON object is expected",
		`{"kind":"deploy","env":"prod"} {"x":1}`: "body: one JSON object expected, found more",
	} {
		a := r.post("/api/v1/events", body, "Content-Type", "application/json")
		if a.code != 400 || a.body["error"] != want {
			t.Errorf("%s: %d %v, want 400 %q", body, a.code, a.body, want)
		}
	}
	// A native payload missing a field is refused by the field's name.
	gl := strings.Replace(string(fixture(t, "gitlab-deployment.json")), `"environment": "staging"`, `"environment": ""`, 1)
	if a := r.post("/api/v1/events/gitlab", gl, "X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Token", gitlabSecret); a.code != 400 || a.body["error"] != "environment: required" {
		t.Errorf("gitlab without environment: %d %v", a.code, a.body)
	}
	if len(r.committed()) != 0 {
		t.Errorf("bad requests committed %v", r.committed())
	}
}

// A webhook for an environment Restorable does not watch (a review app) is
// answered 200 ignored, so that the sender does not retry it.
func TestUnwatchedEnvironmentIgnored(t *testing.T) {
	r := newRig(t, t.TempDir(), Options{})
	gl := strings.Replace(string(fixture(t, "gitlab-deployment.json")), `"environment": "staging"`, `"environment": "review/feature-x"`, 1)
	a := r.post("/api/v1/events/gitlab", gl, "X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Token", gitlabSecret)
	if a.code != 200 || a.body["status"] != "ignored" {
		t.Errorf("review environment: %d %v, want 200 ignored", a.code, a.body)
	}
	if got := r.counter("received", "gitlab", "deploy", OutcomeIgnored); got != 1 {
		t.Errorf("ignored = %v, want 1", got)
	}
	if len(r.committed()) != 0 {
		t.Error("an ignored event was committed")
	}
}

func TestBodyLimit(t *testing.T) {
	r := newRig(t, t.TempDir(), Options{})
	big := `{"kind":"deploy","env":"prod","dataset":"d","release":"r","reason":"` + strings.Repeat("x", 70000) + `"}`
	a := r.post("/api/v1/events", big, "Content-Type", "application/json")
	if a.code != 413 || a.body["error"] != "body: larger than events.max_body_bytes (65536 bytes)" {
		t.Errorf("large body: %d %v", a.code, a.body)
	}
	// Without a Content-Length (chunked), the limit holds while reading.
	req, _ := http.NewRequest(http.MethodPost, r.srv.URL+"/api/v1/events/argocd", io.MultiReader(strings.NewReader(big)))
	req.Header.Set(TokenHeader, argoSecret)
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked large body: %s", resp.Status)
	}
	if got := r.counter("refused", "generic", RefusedTooLarge); got != 1 {
		t.Errorf("too_large = %v", got)
	}
}

// With the writer held behind a slow fsync and the queue full, a request
// is answered 429 with Retry-After at once; nothing acknowledged is lost
// and memory stays bounded by the queue.
func TestQueueFullAnswers429(t *testing.T) {
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	slow := func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return f.Sync()
	}
	// One fsync at a time and one waiting request: "a" is in its fsync,
	// "b" is held by the writer (waiting for the fsync slot), "c" waits in
	// the queue, and "d" finds it full.
	r := newRig(t, t.TempDir(), Options{QueueSize: 1, SyncsInFlight: 1, Sync: slow})
	results := make(chan answer, 8)
	post := func(key string) {
		b, h := genericEvent(key)
		results <- r.post("/api/v1/events", b, h...)
	}
	go post("a")
	<-entered
	var throttled *answer
	var pending []string
	for _, key := range []string{"b", "c", "d", "e", "f"} {
		go post(key)
		select {
		case a := <-results:
			if a.code != 429 {
				t.Fatalf("%s answered %d %v while the journal was held", key, a.code, a.body)
			}
			throttled = &a
		case <-time.After(200 * time.Millisecond):
			pending = append(pending, key) // waiting, as it should until the fsync returns
		}
		if throttled != nil {
			break
		}
	}
	if throttled == nil {
		t.Fatalf("no 429 with the queue full; waiting: %v", pending)
	}
	if len(pending) > 2 {
		t.Errorf("%d requests waited (%v); the writer and a queue of 1 hold 2", len(pending), pending)
	}
	if got := throttled.hdr.Get("Retry-After"); got != RetryAfter {
		t.Errorf("429 Retry-After %q, want %q", got, RetryAfter)
	}
	close(release)
	for range 1 + len(pending) {
		if a := <-results; a.code != 202 {
			t.Errorf("queued request: %d %v", a.code, a.body)
		}
	}
	if got := r.counter("refused", "generic", RefusedThrottled); got != 1 {
		t.Errorf("throttled = %v, want 1", got)
	}
	if got, want := ids(r.committed()), strings.Join(append([]string{"a"}, pending...), ","); got != want {
		t.Errorf("committed %s, want %s", got, want)
	}
}

// A journal that cannot be synced acknowledges nothing: 503, and the
// failed batch is not replayed later.
func TestSyncFailureAcknowledgesNothing(t *testing.T) {
	dir := t.TempDir()
	fail := true
	var mu sync.Mutex
	sync := func(f *os.File) error {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return fmt.Errorf("injected: no space left on device")
		}
		return f.Sync()
	}
	r := newRig(t, dir, Options{Sync: sync})
	b, h := genericEvent("lost")
	a := r.post("/api/v1/events", b, h...)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" || !strings.HasPrefix(a.body["error"].(string), "journal: ") {
		t.Errorf("failing fsync: %d %v", a.code, a.body)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	b2, h2 := genericEvent("kept")
	if a := r.post("/api/v1/events", b2, h2...); a.code != 202 {
		t.Errorf("after recovery: %d %v", a.code, a.body)
	}
	r.close()
	r2 := newRig(t, dir, Options{})
	if got := ids(r2.committed()); got != "kept" {
		t.Errorf("replayed %s, want only kept", got)
	}
	// The refused delivery, retried, is new.
	if a := r2.post("/api/v1/events", b, h...); a.code != 202 {
		t.Errorf("retry of the refused delivery: %d %v", a.code, a.body)
	}
}

func ids(evs []model.Event) string {
	s := make([]string, len(evs))
	for i, ev := range evs {
		s[i] = ev.ID
	}
	return strings.Join(s, ",")
}

// Submit's waiting ends with its context; the answer is an error, never a
// false acknowledgement.
func TestSubmitContext(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	r := newRig(t, t.TempDir(), Options{Sync: func(f *os.File) error { entered <- struct{}{}; <-release; return f.Sync() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := r.in.Submit(ctx, []model.Event{{ID: "x", Kind: model.EventDeploy}})
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; err == nil {
		t.Error("Submit acknowledged while the fsync had not returned")
	}
	close(release)
}

// When the fsync of one group fails while the next group's fsync has
// already succeeded, both are refused (the later one was written behind
// the failed one and is cut with it): nothing unacknowledged is replayed,
// and the retries are new events.
func TestFailedSyncCutsLaterGroups(t *testing.T) {
	dir := t.TempDir()
	var calls atomic.Int64
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	sync := func(f *os.File) error {
		if calls.Add(1) == 1 {
			entered <- struct{}{}
			<-release
			return fmt.Errorf("injected: I/O error")
		}
		return f.Sync()
	}
	r := newRig(t, dir, Options{SyncsInFlight: 2, Sync: sync})
	results := make(chan answer, 2)
	go func() { b, h := genericEvent("a"); results <- r.post("/api/v1/events", b, h...) }()
	<-entered
	go func() { b, h := genericEvent("b"); results <- r.post("/api/v1/events", b, h...) }()
	for calls.Load() < 2 {
		time.Sleep(time.Millisecond) // b's fsync has run (and succeeded)
	}
	close(release)
	for range 2 {
		if a := <-results; a.code != 503 {
			t.Errorf("a group behind a failed fsync: %d %v, want 503", a.code, a.body)
		}
	}
	for _, key := range []string{"b", "a"} {
		b, h := genericEvent(key)
		if a := r.post("/api/v1/events", b, h...); a.code != 202 {
			t.Errorf("retry of %s: %d %v, want 202", key, a.code, a.body)
		}
	}
	r.close()
	evs, torn := replay(t, filepath.Join(dir, "journal"))
	if got := ids(evs); got != "b,a" || torn != nil {
		t.Errorf("journal holds %s (torn %+v), want b,a", got, torn)
	}
}

// A reload reads the secrets again: the new secret works at once, the old
// one no longer does; a secret that cannot be read fails the reload and
// changes nothing.
func TestConfigureReadsSecretsAgain(t *testing.T) {
	dir := t.TempDir()
	r := newRig(t, dir, Options{})
	gl := string(fixture(t, "gitlab-deployment.json"))
	post := func(token string) int {
		return r.post("/api/v1/events/gitlab", gl, "X-Gitlab-Event", "Deployment Hook", "X-Gitlab-Token", token, "Idempotency-Key", "k-"+token).code
	}
	if err := os.WriteFile(filepath.Join(dir, "gl.secret"), []byte("rotated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(filepath.Join(dir, "restorable.yml"), []byte(`environments:
  prod: {rpo: 1h}
  staging: {rpo: 24h}
events:
  gitlab: {secret_file: gl.secret}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.h.Configure(cfg); err != nil {
		t.Fatal(err)
	}
	if got := post(gitlabSecret); got != 401 {
		t.Errorf("old secret after the reload: %d, want 401", got)
	}
	if got := post("rotated"); got != 202 {
		t.Errorf("new secret after the reload: %d, want 202", got)
	}
	if err := os.Remove(filepath.Join(dir, "gl.secret")); err != nil {
		t.Fatal(err)
	}
	if err := r.h.Configure(cfg); err == nil {
		t.Error("a reload with a missing secret file succeeded")
	}
	if got := post("rotated"); got != 200 { // same Idempotency-Key: a duplicate, still authenticated
		t.Errorf("secret after a failed reload: %d, want the previous one to work", got)
	}
}

// A client that goes away while its event waits for the fsync is counted
// as client_gone, not as a journal that could not be written; the event
// is still committed, and its retry with the same key is a duplicate.
func TestClientGoneIsNotUnavailable(t *testing.T) {
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	slow := func(f *os.File) error {
		entered <- struct{}{}
		<-release
		return f.Sync()
	}
	r := newRig(t, t.TempDir(), Options{SyncsInFlight: 1, Sync: slow})
	body, hdr := genericEvent("gone")
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.srv.URL+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close() //nolint:errcheck // test read
		}
		done <- err
	}()
	<-entered
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the canceled request got an answer")
	}
	// The server notices the closed connection and answers nobody.
	deadline := time.Now().Add(10 * time.Second)
	for r.counter("refused", "generic", RefusedGone) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	close(release)
	if got := r.counter("refused", "generic", RefusedGone); got != 1 {
		t.Errorf("client_gone = %v, want 1", got)
	}
	if got := r.counter("refused", "generic", RefusedUnavailable); got != 0 {
		t.Errorf("unavailable = %v, want 0: the journal did not fail", got)
	}
	if a := r.post("/api/v1/events", body, hdr...); a.code != http.StatusOK {
		t.Errorf("retry of the same key: %d %v, want 200 duplicate (the event was committed)", a.code, a.body)
	}
}
