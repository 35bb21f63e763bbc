package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/config"
)

const (
	onCallToken  = "on-call-token-0123456789"
	auditorToken = "auditor-token-0123456789"
)

func tokenFile(t *testing.T, token string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	path := filepath.Join(t.TempDir(), "token.sha256")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(sum[:])+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testPolicy has an on-call principal (alice) and an auditor (ann).
func testPolicy(t *testing.T, anonymous ...string) func() *access.Policy {
	t.Helper()
	a := config.Access{Principals: []*config.Principal{
		{Name: "alice", Roles: []string{"on-call"}, TokenSHA256File: tokenFile(t, onCallToken)},
		{Name: "ann", Roles: []string{"auditor"}, TokenSHA256File: tokenFile(t, auditorToken)},
	}}
	if anonymous != nil {
		a.Anonymous = anonymous
	}
	p, err := access.New(a, "")
	if err != nil {
		t.Fatal(err)
	}
	return func() *access.Policy { return p }
}

func testAudit(t *testing.T) *audit.Log {
	t.Helper()
	l, _, err := audit.Open(filepath.Join(t.TempDir(), "audit.log"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func auditLines(t *testing.T, l *audit.Log) string {
	t.Helper()
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestAccessMatrix: who may use which route, what they are told when they
// may not, and what the audit log keeps.
func TestAccessMatrix(t *testing.T) {
	reloads := 0
	opts := func(pol func() *access.Policy, log Auditor) Options {
		return Options{
			Gatherer:      prometheus.NewRegistry(),
			TelemetryPath: "/metrics",
			Ready:         func() bool { return true },
			Reload:        func() error { reloads++; return nil },
			Releases: func(w http.ResponseWriter, r *http.Request) {
				WriteJSON(w, http.StatusOK, map[string]string{"env": r.PathValue("env"), "dataset": r.PathValue("dataset")})
			},
			Access: pol,
			Audit:  log,
		}
	}
	type req struct {
		method, path string
		headers      map[string]string
	}
	post := func(path string, h ...string) req {
		r := req{method: "POST", path: path, headers: map[string]string{}}
		for i := 0; i+1 < len(h); i += 2 {
			r.headers[h[i]] = h[i+1]
		}
		return r
	}
	bearer := func(tok string) string { return "Bearer " + tok }
	cases := []struct {
		name     string
		pol      func() *access.Policy
		noAudit  bool
		req      req
		code     int
		body     string
		reloaded bool
		audited  string
	}{
		{"no access config: reload refused with how to grant it", nil, false,
			post("/-/reload", "X-Requested-By", "curl"), 403, "no principal is configured. Grant it in the access: section", false, `"outcome":"denied"`},
		{"no access config: a token is no principal", nil, false,
			post("/-/reload", "Authorization", bearer(onCallToken)), 401, "bearer token is not one of a configured principal", false, `"outcome":"denied"`},
		{"on-call reloads", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(onCallToken)), 200, "Configuration reloaded.", true, `"principal":"alice","auth":"token","remote":"192.0.2.1","action":"config.reload","target":"/-/reload","outcome":"ok","status":200`},
		{"auditor may not reload", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(auditorToken)), 403, "principal ann (roles auditor) lacks the permission config:reload", false, `"principal":"ann","auth":"token"`},
		{"anonymous is asked to authenticate", testPolicy(t), false,
			post("/-/reload", "Content-Type", "application/json"), 401, "needs the permission config:reload; authenticate", false, `"principal":"anonymous"`},
		{"wrong token", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer("guess")), 401, "not one of a configured principal", false, `"outcome":"denied","status":401`},
		{"form post from another site", testPolicy(t), false,
			post("/-/reload", "Content-Type", "application/x-www-form-urlencoded"), 403, "cross-site request refused", false, `"outcome":"denied","status":403`},
		{"text/plain post", testPolicy(t), false,
			post("/-/reload", "Content-Type", "text/plain"), 403, "cross-site request refused", false, `"outcome":"denied"`},
		{"valid token but Origin of another site", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(onCallToken), "Origin", "https://evil.example"), 403, "cross-site request refused", false, `"outcome":"denied"`},
		{"valid token but Sec-Fetch-Site cross-site", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(onCallToken), "Sec-Fetch-Site", "cross-site"), 403, "cross-site request refused", false, `"outcome":"denied"`},
		{"same-site is not same-origin", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(onCallToken), "Sec-Fetch-Site", "same-site"), 403, "cross-site request refused", false, `"outcome":"denied"`},
		{"same-origin browser request with a token", testPolicy(t), false,
			post("/-/reload", "Authorization", bearer(onCallToken), "Sec-Fetch-Site", "same-origin", "Origin", "http://example.com"), 200, "reloaded", true, `"outcome":"ok"`},
		{"no audit log: nothing runs", testPolicy(t), true,
			post("/-/reload", "Authorization", bearer(onCallToken)), 503, "the audit log cannot be written, so nothing was done", false, ""},
		{"a wrong token on an open read is not looked at", testPolicy(t), false,
			req{"GET", "/metrics", map[string]string{"Authorization": bearer("guess")}}, 200, "", false, ""},
		{"metrics are open by default", testPolicy(t), false,
			req{"GET", "/metrics", nil}, 200, "", false, ""},
		{"metrics behind anonymous: []", testPolicy(t, []string{}...), false,
			req{"GET", "/metrics", nil}, 401, "needs the permission metrics:read", false, `"action":"http.get","target":"/metrics","outcome":"denied"`},
		{"metrics with a token behind anonymous: []", testPolicy(t, []string{}...), false,
			req{"GET", "/metrics", map[string]string{"Authorization": bearer(auditorToken)}}, 200, "", false, ""},
		{"the release list is open by default (gate:read)", testPolicy(t), false,
			req{"GET", "/api/v1/releases/prod/orders", nil}, 200, `"dataset": "orders"`, false, ""},
		{"the release list needs gate:read behind anonymous: []", testPolicy(t, []string{}...), false,
			req{"GET", "/api/v1/releases/prod/orders", nil}, 401, "needs the permission gate:read", false, `"target":"/api/v1/releases/prod/orders","outcome":"denied"`},
		{"health stays open behind anonymous: []", testPolicy(t, []string{}...), false,
			req{"GET", "/-/healthy", nil}, 200, "Healthy.", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reloads = 0
			var log *audit.Log
			var auditor Auditor
			if !c.noAudit {
				log = testAudit(t)
				auditor = log
			}
			h, err := New(opts(c.pol, auditor))
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(c.req.method, c.req.path, nil)
			for k, v := range c.req.headers {
				r.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.body) {
				t.Errorf("%s %s: %d %s; want %d with %q", c.req.method, c.req.path, rec.Code, rec.Body, c.code, c.body)
			}
			if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != `Bearer realm="restorable"` {
				t.Errorf("401 without WWW-Authenticate: %q", rec.Header().Get("WWW-Authenticate"))
			}
			if (reloads > 0) != c.reloaded {
				t.Errorf("reload ran %d times, want ran=%v", reloads, c.reloaded)
			}
			if log != nil {
				got := auditLines(t, log)
				if c.audited == "" && got != "" && c.code < 400 && c.req.method == "GET" {
					t.Errorf("a read was audited:\n%s", got)
				}
				if !strings.Contains(got, c.audited) {
					t.Errorf("audit log lacks %s:\n%s", c.audited, got)
				}
				if c.reloaded && !strings.Contains(got, `"outcome":"allowed"`) {
					t.Errorf("no entry before the reload ran:\n%s", got)
				}
				if strings.Contains(got, onCallToken) || strings.Contains(got, auditorToken) {
					t.Errorf("a token reached the audit log:\n%s", got)
				}
			}
		})
	}
}

// TestFailedOperationIsAudited: the outcome entry of an operation that
// failed carries its status and reason.
func TestFailedOperationIsAudited(t *testing.T) {
	log := testAudit(t)
	h, err := New(Options{
		Gatherer: prometheus.NewRegistry(), TelemetryPath: "/metrics", Ready: func() bool { return true },
		Reload: func() error { return errors.New(`restorable.yml:3: unknown field "bogus"`) },
		Access: testPolicy(t), Audit: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/-/reload", nil)
	r.Header.Set("Authorization", "Bearer "+onCallToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != 500 {
		t.Fatalf("failed reload: %d", rec.Code)
	}
	got := auditLines(t, log)
	if !strings.Contains(got, `"outcome":"failed","status":500,"detail":"reload failed, the previous configuration stays in use: restorable.yml:3: unknown field \"bogus\""`) {
		t.Errorf("audit log:\n%s", got)
	}
	if res, err := audit.Verify(log.Path()); err != nil || len(res.Problems) > 0 || res.Lines != 2 {
		t.Errorf("verify: %v %+v", err, res)
	}
}

func TestBodyLimit(t *testing.T) {
	h, err := New(Options{Gatherer: prometheus.NewRegistry(), TelemetryPath: "/metrics", Ready: func() bool { return true }, Reload: func() error { return nil }, MaxBodyBytes: 1024})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/-/reload", strings.NewReader(strings.Repeat("x", 2048)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 KiB body over a 1 KiB limit: %d %s", rec.Code, rec.Body)
	}
}

// failSecond accepts the first entry and fails every later one.
type failSecond struct{ n int }

func (f *failSecond) Append(audit.Entry) error {
	f.n++
	if f.n > 1 {
		return errors.New("disk full")
	}
	return nil
}

// TestOutcomeEntryFailure: when the outcome cannot be written after the
// operation ran, the client still gets the operation's own answer.
func TestOutcomeEntryFailure(t *testing.T) {
	reloads := 0
	log := &failSecond{}
	var logs bytes.Buffer
	h, err := New(Options{
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		Gatherer: prometheus.NewRegistry(), TelemetryPath: "/metrics", Ready: func() bool { return true },
		Reload: func() error { reloads++; return nil },
		Access: testPolicy(t), Audit: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/-/reload", nil)
	r.Header.Set("Authorization", "Bearer "+onCallToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusOK || reloads != 1 || log.n != 2 {
		t.Errorf("answer %d after %d reloads and %d audit writes; want 200, 1, 2", rec.Code, reloads, log.n)
	}
	if !strings.Contains(logs.String(), `msg="write audit outcome" action=config.reload principal=alice status=200 err="disk full"`) {
		t.Errorf("process log:\n%s", logs.String())
	}
}
