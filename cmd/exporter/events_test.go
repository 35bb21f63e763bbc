package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/events"
)

// pipelineToken is the bearer token of the events test's principal, whose
// role (pipeline) holds events:write.
const pipelineToken = "pipeline-token-5d1e"

// eventsConfig writes a configuration with the events API on and a
// pipeline principal, and returns its path.
func eventsConfig(t *testing.T, dir string) string {
	t.Helper()
	writeTokenHash(t, filepath.Join(dir, "pipeline.sha256"), pipelineToken)
	writeTokenHash(t, filepath.Join(dir, "oncall.sha256"), e2eToken)
	if err := os.WriteFile(filepath.Join(dir, "github.secret"), []byte(e2eGitHubSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "restorable.yml")
	yml := `environments:
  prod: {rpo: 1h}
sources: []
access:
  principals:
    - {name: ci, roles: [pipeline], token_sha256_file: pipeline.sha256}
    - {name: oncall, roles: [on-call], token_sha256_file: oncall.sha256}
events:
  queue_size: 4096
  github: {secret_file: github.secret, envs: {production: prod}}
`
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func postEvent(c *http.Client, addr, key string) (int, string, error) {
	body := `{"kind":"deploy","env":"prod","dataset":"payments","release":"v1.4.0","time":"2026-12-01T10:00:00Z"}`
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+pipelineToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close() //nolint:errcheck // test read
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestEventsSurviveKill9 posts events concurrently to the real exporter,
// kills it with SIGKILL in the middle of the run, restarts it, and checks
// that every delivery that was answered 2xx is in the replayed journal
// and is a duplicate when delivered again.
func TestEventsSurviveKill9(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	cfg := eventsConfig(t, dir)
	history := filepath.Join(dir, "history")
	e := startExporter(t, bin, cfg, history)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	var (
		mu      sync.Mutex
		acked   []string
		sent    atomic.Int64
		wg      sync.WaitGroup
		killed  = make(chan struct{})
		enough  = make(chan struct{})
		once    sync.Once
		workers = 16
	)
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				key := fmt.Sprintf("kill9-w%d-%d", w, i)
				sent.Add(1)
				code, body, err := postEvent(client, e.addr, key)
				if err != nil {
					continue // the exporter is gone: no answer, no promise
				}
				if code/100 == 2 {
					mu.Lock()
					acked = append(acked, key)
					if len(acked) >= 3000 {
						once.Do(func() { close(enough) })
					}
					mu.Unlock()
				} else if code != http.StatusTooManyRequests {
					t.Errorf("POST %s: %d %s", key, code, body)
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatal("3000 events were not acknowledged within 60s")
	}
	// Requests are in flight: kill without warning.
	if err := e.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = e.cmd.Wait()
	close(killed)
	wg.Wait()
	mu.Lock()
	ackedNow := append([]string(nil), acked...)
	mu.Unlock()
	t.Logf("sent %d requests, %d acknowledged before the kill", sent.Load(), len(ackedNow))

	e2 := startExporter(t, bin, cfg, history)
	m := regexp.MustCompile(`msg="event journal replayed".* events=(\d+)`).FindStringSubmatch(e2.logs.String())
	if m == nil {
		t.Fatalf("no replay in the log:\n%s", e2.logs)
	}
	replayed, _ := strconv.Atoi(m[1])
	if replayed < len(ackedNow) {
		t.Errorf("replayed %d events, but %d were acknowledged", replayed, len(ackedNow))
	}
	// Every acknowledged delivery, sent again, is a duplicate.
	dups := 0
	for _, key := range ackedNow {
		code, body, err := postEvent(client, e2.addr, key)
		if err != nil {
			t.Fatal(err)
		}
		if code == http.StatusOK && strings.Contains(body, `"duplicate"`) {
			dups++
		} else {
			t.Errorf("acknowledged %s before the kill, now answered %d %s", key, code, body)
		}
	}
	e2.stop()

	// And the journal on disk holds each of them.
	_, evs, _, err := events.OpenJournal(filepath.Join(history, "events"), nil)
	if err != nil {
		t.Fatal(err)
	}
	inJournal := map[string]bool{}
	for _, ev := range evs {
		inJournal[ev.ID] = true
	}
	lost := 0
	for _, key := range ackedNow {
		if !inJournal[key] {
			lost++
		}
	}
	t.Logf("acknowledged %d, replayed %d, duplicates on redelivery %d, lost %d", len(ackedNow), replayed, dups, lost)
	if lost > 0 {
		t.Errorf("%d acknowledged events are not in the journal", lost)
	}
	if !bytes.Contains(e2.logs.Bytes(), []byte("event journal replayed")) {
		t.Error("no replay logged")
	}
}

// e2eGitHubSecret is the GitHub webhook secret of the e2e configuration.
const e2eGitHubSecret = "e2e-github-webhook-secret"

// postGitHubDeployment delivers the documented deployment_status payload
// twice: signed with the configured secret (accepted) and with another one
// (refused), so that the golden output shows both counters.
func (e *exporter) postGitHubDeployment() {
	e.t.Helper()
	body, err := os.ReadFile("../../internal/events/testdata/github-deployment_status.json")
	if err != nil {
		e.t.Fatal(err)
	}
	for _, c := range []struct {
		secret string
		code   int
	}{{e2eGitHubSecret, http.StatusAccepted}, {"not-the-secret", http.StatusUnauthorized}} {
		req, err := http.NewRequest(http.MethodPost, "http://"+e.addr+"/api/v1/events/github", bytes.NewReader(body))
		if err != nil {
			e.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "deployment_status")
		req.Header.Set("X-GitHub-Delivery", "golden-1")
		req.Header.Set("X-Hub-Signature-256", events.SignGitHub([]byte(c.secret), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			e.t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != c.code {
			e.t.Fatalf("GitHub delivery: %s %s, want %d", resp.Status, answer, c.code)
		}
	}
}

// The generic route needs a principal with events:write; a webhook route
// needs no principal, only its sender's secret, and takes GitHub's
// form-encoded deliveries, which carry no header a browser could not send.
func TestEventsRoutesAccess(t *testing.T) {
	bin := buildExporter(t)
	dir := t.TempDir()
	e := startExporter(t, bin, eventsConfig(t, dir), filepath.Join(dir, "history"))
	body := `{"kind":"deploy","env":"prod","dataset":"payments","release":"v1.4.0"}`
	for _, c := range []struct {
		name, token string
		code        int
	}{{"anonymous", "", 401}, {"on-call", e2eToken, 403}, {"pipeline", pipelineToken, 202}} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/api/v1/events", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%s: %s, want %d", c.name, resp.Status, c.code)
		}
	}
	payload, err := os.ReadFile("../../internal/events/testdata/github-deployment_status.json")
	if err != nil {
		t.Fatal(err)
	}
	form := "payload=" + url.QueryEscape(string(payload))
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/api/v1/events/github", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-GitHub-Event", "deployment_status")
	req.Header.Set("X-GitHub-Delivery", "form-1")
	req.Header.Set("X-Hub-Signature-256", events.SignGitHub([]byte(e2eGitHubSecret), []byte(form)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("form-encoded GitHub delivery without a principal: %s %s", resp.Status, answer)
	}
	metrics := e.get("/metrics")
	for _, want := range []string{
		`restorable_events_received_total{kind="deploy",outcome="accepted",sender="generic"} 1`,
		`restorable_events_received_total{kind="deploy",outcome="accepted",sender="github"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The journal records who delivered each event: the principal of the
	// generic route, the sender of a webhook.
	e.stop()
	_, evs, _, err := events.OpenJournal(filepath.Join(dir, "history", "events"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var who []string
	for _, ev := range evs {
		who = append(who, ev.Sender+"="+ev.Principal)
	}
	if got := strings.Join(who, ","); got != "generic=ci,github=sender:github" {
		t.Errorf("journal principals %s, want generic=ci,github=sender:github", got)
	}
}
