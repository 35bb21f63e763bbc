package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestLandingPageLinksAnswer follows every link of the landing page: none
// may lead to a 404, and the pprof pages the toolkit would link by default
// are not served, so they are not linked.
func TestLandingPageLinksAnswer(t *testing.T) {
	h, err := New(Options{
		Logger:        slog.New(slog.DiscardHandler),
		Gatherer:      prometheus.NewRegistry(),
		TelemetryPath: "/metrics",
		Ready:         func() bool { return true },
		Reload:        func() error { return nil },
		Gate: func(w http.ResponseWriter, _ *http.Request) {
			WriteJSON(w, http.StatusOK, map[string]bool{"allow": true})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		return rec
	}
	page := get("/").Body.String()
	if strings.Contains(page, "debug/pprof") {
		t.Errorf("the landing page links pprof:\n%s", page)
	}
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) < 3 {
		t.Fatalf("%d links on the landing page:\n%s", len(links), page)
	}
	for _, l := range links {
		href := l[1]
		if strings.HasPrefix(href, "http") {
			continue
		}
		if rec := get("/" + strings.TrimPrefix(href, "/")); rec.Code == http.StatusNotFound {
			t.Errorf("landing page link %s answers 404", href)
		}
	}
}
