package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// answers is what every gate path says about an env at one moment.
type answers struct {
	api, gauge, exporterGate, historyGate bool
	apiChecks, historyChecks, alertChecks []string
}

func (a answers) String() string {
	return fmt.Sprintf("api %v %v, gauge %v, analyze gate --exporter --alertmanager %v, analyze gate (history) %v %v, firing gate alerts %v",
		a.api, a.apiChecks, a.gauge, a.exporterGate, a.historyGate, a.historyChecks, a.alertChecks)
}

// agree reports whether every path gives one answer: the same verdict, and
// the same checks from the exporter's API, the history and the alerts.
func (a answers) agree() bool {
	return a.api == a.gauge && a.api == a.exporterGate && a.api == a.historyGate &&
		slices.Equal(a.apiChecks, a.historyChecks) && slices.Equal(a.apiChecks, a.alertChecks)
}

type gateJSON struct {
	Allow   bool `json:"allow"`
	Reasons []struct {
		Check string `json:"check"`
	} `json:"reasons"`
}

func checksOf(g gateJSON) []string {
	var out []string
	for _, r := range g.Reasons {
		if !slices.Contains(out, r.Check) {
			out = append(out, r.Check)
		}
	}
	slices.Sort(out)
	return out
}

func (s *stack) answers(t *testing.T, env string) answers {
	t.Helper()
	var a answers
	var api gateJSON
	getJSON(t, "http://"+s.expAddr+"/api/v1/gate?env="+env, &api)
	a.api, a.apiChecks = api.Allow, checksOf(api)
	var q struct {
		Data struct {
			Result []struct {
				Value []any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(t, "http://"+s.promAddr+`/api/v1/query?query=restorable_deploy_gate_open{env="`+env+`"}`, &q)
	a.gauge = len(q.Data.Result) == 1 && q.Data.Result[0].Value[1] == "1"
	code, _ := s.gate(t, env, "--exporter", "http://"+s.expAddr, "--alertmanager", "http://"+s.amAddr)
	a.exporterGate = code == 0
	code, out := s.gate(t, env, "--config.file", s.cfg, "--history", filepath.Join(s.dir, "history"), "--format", "json")
	var hist gateJSON
	if code != 2 {
		if err := json.Unmarshal([]byte(out), &hist); err != nil {
			t.Fatalf("analyze gate from history: %v\n%s", err, out)
		}
	} else {
		t.Fatalf("analyze gate from history failed: %s", out)
	}
	a.historyGate, a.historyChecks = hist.Allow && code == 0, checksOf(hist)
	for _, al := range s.gateAlerts(t, env) {
		if c := al.Labels["check"]; c != "" && !slices.Contains(a.alertChecks, c) {
			a.alertChecks = append(a.alertChecks, c)
		}
	}
	slices.Sort(a.alertChecks)
	return a
}

// expect waits until every path agrees on allow and, when denying, names
// check; it fails with the last answers when they never do.
func (s *stack) expect(t *testing.T, what string, allow bool, check string) {
	t.Helper()
	var last answers
	deadline := time.Now().Add(90 * time.Second)
	for {
		last = s.answers(t, "prod")
		if last.agree() && last.api == allow && (allow || slices.Contains(last.apiChecks, check)) {
			t.Logf("%s: %s", what, last)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the gate paths never agreed on allow=%v (%s): %s", what, allow, check, last)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestEveryGatePathAgrees runs scenarios through the real exporter,
// Prometheus with the shipped rules, Alertmanager and analyze: the API, the
// gauge as Prometheus scrapes it, `analyze gate --exporter --alertmanager`,
// `analyze gate` over the history and the firing gate alerts give one
// answer naming the same checks: a healthy prod that has a dataset without
// release labels, a failing restore probe, a dataset whose backups vanish,
// and an RPO breach.
func TestEveryGatePathAgrees(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"manifests/ci", "manifests/pg"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	flag := filepath.Join(dir, "probe-fails")
	var paymentsFresh, ledgerPresent atomic.Bool
	paymentsFresh.Store(true)
	ledgerPresent.Store(true)
	write := func(path, body string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
			t.Error(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Error(err)
		}
	}
	refresh := func() {
		now := time.Now().UTC().Truncate(time.Second)
		if paymentsFresh.Load() {
			var b strings.Builder
			for i, rel := range []string{"v1", "v2", "v3"} {
				end := now.Add(time.Duration(i-3) * time.Second)
				fmt.Fprintf(&b, `{"dataset":"payments","id":"p-%d-%s","type":"full","release":%q,"start":%q,"end":%q}`+"\n",
					now.Unix(), rel, rel, end.Add(-time.Second).Format(time.RFC3339), end.Format(time.RFC3339))
			}
			write(filepath.Join(dir, "manifests/ci/payments.ndjson"), b.String())
		}
		ledger := filepath.Join(dir, "manifests/pg/ledger.ndjson")
		if ledgerPresent.Load() {
			// A pgBackRest-like dataset without release labels.
			write(ledger, fmt.Sprintf(`{"dataset":"ledger","id":"l-%d","type":"full","start":%q,"end":%q}`+"\n",
				now.Unix(), now.Add(-time.Second).Format(time.RFC3339), now.Format(time.RFC3339)))
		} else if err := os.Remove(ledger); err != nil && !os.IsNotExist(err) {
			t.Error(err)
		}
	}
	refresh()
	stop := make(chan struct{})
	done := make(chan struct{})
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

	s := startStack(t, dir, fmt.Sprintf(`
environments:
  prod: {rpo: 40s, retention: {releases: 3}}
sources:
  - {name: ci, type: manifest, env: prod, interval: "@every 1s", timeout: 5s, manifest: {dir: manifests/ci}}
  - {name: pg, type: manifest, env: prod, interval: "@every 1s", timeout: 5s, manifest: {dir: manifests/pg}}
probes:
  - name: payments-restore
    kind: command
    source: ci
    dataset: payments
    schedule: "@every 2s"
    timeout: 10s
    options: {command: ["sh", "-c", "test ! -e %s"]}
collection: {jitter: 1ms}
`, flag))

	s.expect(t, "healthy prod with an unlabelled dataset", true, "")

	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "failing restore probe", false, "restore_test.failed")
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "restore probe passes again", true, "")

	ledgerPresent.Store(false)
	s.expect(t, "vanished dataset", false, "rpo")
	ledgerPresent.Store(true)
	s.expect(t, "dataset back", true, "")

	paymentsFresh.Store(false)
	s.expect(t, "RPO breach", false, "rpo")
}
