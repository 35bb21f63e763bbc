// Package server holds every HTTP route of the exporter in one place, so
// that authentication and auditing can be added to all of them at once.
package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// ProbeAPI is the restore-probe part of the HTTP API.
type ProbeAPI interface {
	HandleList(w http.ResponseWriter, r *http.Request)
	HandleRun(w http.ResponseWriter, r *http.Request)
	HandleLog(w http.ResponseWriter, r *http.Request)
}

// Options wire the routes to the exporter.
type Options struct {
	Logger        *slog.Logger
	Gatherer      prometheus.Gatherer
	TelemetryPath string
	Version       string
	// Ready reports whether every source was collected once.
	Ready func() bool
	// Reload re-reads the configuration; it returns an error and keeps the
	// old configuration when the new one is invalid.
	Reload func() error
	// Probes serves the probe routes when not nil.
	Probes ProbeAPI
	// Gate answers GET /api/v1/gate when not nil.
	Gate http.HandlerFunc
}

// New returns the exporter's HTTP handler.
func New(o Options) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET "+o.TelemetryPath, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		writeText(w, http.StatusOK, "Healthy.\n")
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !o.Ready() {
			writeText(w, http.StatusServiceUnavailable, "Not ready: not every source has been collected yet.\n")
			return
		}
		writeText(w, http.StatusOK, "Ready.\n")
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Reload(); err != nil {
			writeText(w, http.StatusInternalServerError, "reload failed, the previous configuration stays in use: "+err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, "Configuration reloaded.\n")
	})
	if o.Probes != nil {
		mux.HandleFunc("GET /api/v1/probes", o.Probes.HandleList)
		mux.HandleFunc("POST /api/v1/probes/{name}/run", o.Probes.HandleRun)
		mux.HandleFunc("GET /api/v1/probes/runs/{id}/log", o.Probes.HandleLog)
	}
	if o.Gate != nil {
		mux.HandleFunc("GET /api/v1/gate", o.Gate)
	}
	links := []web.LandingLinks{
		{Address: o.TelemetryPath, Text: "Metrics"},
		{Address: "-/ready", Text: "Readiness"},
	}
	if o.Probes != nil {
		links = append(links, web.LandingLinks{Address: "api/v1/probes", Text: "Restore probes"})
	}
	if o.Gate != nil {
		links = append(links, web.LandingLinks{Address: "api/v1/gate?env=prod", Text: "Deploy gate (prod)"})
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "Restorable exporter",
		Description: "Proves every day that backups can be restored to a known release, and what that costs.",
		Version:     o.Version,
		Links:       links,
		// The exporter serves no pprof endpoints, so the page must not
		// link them (the toolkit links them unless told not to).
		Profiling: "false",
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /{$}", landing)
	return mux, nil
}

func writeText(w http.ResponseWriter, code int, s string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(s))
}

// WriteJSON writes v as indented JSON with the status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
