package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRoutes(t *testing.T) {
	ready := false
	reloadErr := errors.New(`t.yml:3: environments.prod: unknown field "bogus"`)
	h, err := New(Options{
		Logger:        slog.New(slog.DiscardHandler),
		Gatherer:      prometheus.NewRegistry(),
		TelemetryPath: "/metrics",
		Ready:         func() bool { return ready },
		Reload:        func() error { return reloadErr },
		Gate: func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]bool{"allow": true})
		},
		Access: testPolicy(t),
		Audit:  testAudit(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+onCallToken)
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := do("GET", "/-/ready"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("ready before the first collection: %d, want 503", rec.Code)
	}
	ready = true
	if rec := do("GET", "/-/ready"); rec.Code != http.StatusOK {
		t.Errorf("ready after the first collection: %d", rec.Code)
	}
	if rec := do("GET", "/-/healthy"); rec.Code != http.StatusOK {
		t.Errorf("healthy: %d", rec.Code)
	}
	if rec := do("POST", "/-/reload"); rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), "previous configuration stays") {
		t.Errorf("failed reload: %d %s", rec.Code, rec.Body)
	}
	if rec := do("GET", "/-/reload"); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload: %d, want 405", rec.Code)
	}
	if rec := do("GET", "/"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "Restorable exporter") {
		t.Errorf("landing page: %d", rec.Code)
	}
	if rec := do("GET", "/api/v1/gate?env=prod"); rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("gate: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := do("GET", "/api/v1/probes"); rec.Code != http.StatusNotFound {
		t.Errorf("probe routes without probes: %d, want 404", rec.Code)
	}
}
