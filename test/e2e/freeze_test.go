package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// postEvent sends one generic release event to the exporter's events API
// as a pipeline principal and fails the test unless it is acknowledged.
func (s *stack) postEvent(t *testing.T, token, key, body string) {
	t.Helper()
	if code, answer := s.sendEvent(t, token, key, body); code/100 != 2 {
		t.Fatalf("POST /api/v1/events %s: %d %s", key, code, answer)
	}
}

// sendEvent sends one generic release event and returns the answer.
func (s *stack) sendEvent(t *testing.T, token, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+s.expAddr+"/api/v1/events", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // test read
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// TestRollbackStormFreezesEveryGatePath posts release events over HTTP to
// the real exporter, with Prometheus running the shipped rules and
// Alertmanager: two consecutive rollbacks of a dataset freeze prod's
// deploys on every gate path at once (the API, the gauge as Prometheus
// scrapes it, `analyze gate --exporter --alertmanager`, `analyze gate`
// over the history the exporter wrote, and the firing gate alert), all
// naming release.freeze; a freeze_ack with a blank reason is refused and changes nothing,
// and one with an actor and a reason reopens every path.
func TestRollbackStormFreezesEveryGatePath(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "manifests"), 0o755); err != nil {
		t.Fatal(err)
	}
	const token = "e2e-pipeline-token"
	sum := sha256.Sum256([]byte(token))
	if err := os.WriteFile(filepath.Join(dir, "pipeline.sha256"), []byte(hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	refresh := func() {
		now := time.Now().UTC().Truncate(time.Second)
		var b strings.Builder
		for i, rel := range []string{"v1", "v2", "v3"} {
			end := now.Add(time.Duration(i-3) * time.Second)
			fmt.Fprintf(&b, `{"dataset":"payments","id":"p-%d-%s","type":"full","release":%q,"start":%q,"end":%q}`+"\n",
				now.Unix(), rel, rel, end.Add(-time.Second).Format(time.RFC3339), end.Format(time.RFC3339))
		}
		path := filepath.Join(dir, "manifests", "payments.ndjson")
		if err := os.WriteFile(path+".tmp", []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Error(err)
		}
	}
	refresh()
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				refresh()
			}
		}
	}()
	defer func() { close(stop); <-done }()

	s := startStack(t, dir, `
environments:
  prod: {rpo: 40s, retention: {releases: 3}}
sources:
  - {name: ci, type: manifest, env: prod, interval: "@every 1s", timeout: 5s, manifest: {dir: manifests}}
collection: {jitter: 1ms}
events: {}
access:
  principals:
    - {name: deployer, roles: [pipeline], token_sha256_file: pipeline.sha256}
`)
	s.expect(t, "healthy prod before any release event", true, "")

	for i, rel := range []string{"v2", "v1"} {
		s.postEvent(t, token, fmt.Sprintf("storm-%d", i),
			fmt.Sprintf(`{"kind":"rollback","env":"prod","dataset":"payments","release":%q,"actor":"ci"}`, rel))
	}
	s.expect(t, "two consecutive rollbacks", false, "release.freeze")

	if code, answer := s.sendEvent(t, token, "ack-no-reason", `{"kind":"freeze_ack","env":"prod","dataset":"payments","actor":"alice","reason":" "}`); code != http.StatusBadRequest || !strings.Contains(answer, "reason") {
		t.Fatalf("a freeze_ack with a blank reason: %d %s, want 400 naming reason", code, answer)
	}
	s.expect(t, "a refused freeze_ack", false, "release.freeze")

	s.postEvent(t, token, "ack", `{"kind":"freeze_ack","env":"prod","dataset":"payments","actor":"alice","reason":"restore of v1 verified, backup job fixed"}`)
	s.expect(t, "a freeze_ack with actor and reason", true, "")
}
