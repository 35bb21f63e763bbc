// Package server holds every HTTP route of the exporter in one place, with
// the permission each needs, the cross-site check of every request that
// changes state, the audit of every such request, and the limits that keep
// one client from holding the server.
package server

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/metrics"
)

// ProbeAPI is the restore-probe part of the HTTP API.
type ProbeAPI interface {
	HandleList(w http.ResponseWriter, r *http.Request)
	HandleRun(w http.ResponseWriter, r *http.Request)
	HandleLog(w http.ResponseWriter, r *http.Request)
}

// GateOverrideAPI is the break-glass override part of the HTTP API. Its
// handlers run audited: PrincipalOf names who asked, and SetAuditDetail
// records what was set.
type GateOverrideAPI interface {
	HandleOverrideSet(w http.ResponseWriter, r *http.Request)
	HandleOverrideWithdraw(w http.ResponseWriter, r *http.Request)
}

// EventsAPI is the release-events part of the HTTP API (internal/events).
type EventsAPI interface {
	// HandleGeneric serves POST /api/v1/events, behind the events:write
	// permission.
	HandleGeneric(w http.ResponseWriter, r *http.Request)
	// HandleSender serves POST /api/v1/events/{sender}: native webhooks,
	// which cannot send a bearer token and authenticate by their sender's
	// secret (a GitLab token, a GitHub HMAC signature, ...) instead.
	HandleSender(w http.ResponseWriter, r *http.Request)
}

// Options wire the routes to the exporter.
type Options struct {
	Logger *slog.Logger
	// Gatherer provides what /metrics serves. A metrics.Exposition has the
	// encoded body of its derived part cached per state version; any other
	// gatherer is encoded at every scrape.
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
	// Releases answers GET /api/v1/releases/{env}/{dataset} (the release
	// list, permission gate:read) when not nil.
	Releases http.HandlerFunc
	// GateOverride serves POST and DELETE /api/v1/gate/override (the
	// break-glass override, permission gate:override) when not nil.
	GateOverride GateOverrideAPI
	// Events serves the release-events routes when not nil.
	Events EventsAPI
	// Access returns the access policy in use (a reload replaces it). Nil
	// means the default: anonymous reads, and no principal, so every route
	// that changes state or runs work is refused.
	Access func() *access.Policy
	// Audit records state-changing operations and refused requests. Without
	// it, no state-changing request runs.
	Audit Auditor
	// MaxBodyBytes bounds request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
}

func (o *Options) policy() *access.Policy {
	if o.Access != nil {
		if p := o.Access(); p != nil {
			return p
		}
	}
	// The default policy reads no file and cannot fail.
	p, _ := access.New(config.Access{}, "")
	return p
}

// New returns the exporter's HTTP handler. Every route but the landing
// page, /-/healthy and /-/ready needs a permission (docs/security.md lists
// them); reads are granted to everyone by default, state-changing routes to
// nobody until access.principals grants them.
func New(o Options) (http.Handler, error) {
	o.Logger = loggerOrDiscard(o.Logger)
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	cross := http.NewCrossOriginProtection()
	guarded := func(rt route, h http.Handler) http.Handler {
		return &guard{o: &o, rt: rt, h: h, cross: cross}
	}
	probeName := func(r *http.Request) string { return r.PathValue("name") }
	mux := http.NewServeMux()
	var scrape http.Handler = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	})
	if exp, ok := o.Gatherer.(metrics.Exposition); ok {
		scrape = newMetricsRoute(exp, scrape, o.Logger)
	}
	mux.Handle("GET "+o.TelemetryPath, guarded(route{perm: config.PermMetricsRead}, scrape))
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
	mux.Handle("POST /-/reload", guarded(route{perm: config.PermConfigReload, action: ActionReload}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if err := o.Reload(); err != nil {
			writeText(w, http.StatusInternalServerError, "reload failed, the previous configuration stays in use: "+err.Error()+"\n")
			return
		}
		writeText(w, http.StatusOK, "Configuration reloaded.\n")
	})))
	if o.Probes != nil {
		mux.Handle("GET /api/v1/probes", guarded(route{perm: config.PermProbesRead}, http.HandlerFunc(o.Probes.HandleList)))
		mux.Handle("POST /api/v1/probes/{name}/run", guarded(route{perm: config.PermProbeRun, action: ActionProbeRun, target: probeName}, http.HandlerFunc(o.Probes.HandleRun)))
		mux.Handle("GET /api/v1/probes/runs/{id}/log", guarded(route{perm: config.PermProbesRead}, http.HandlerFunc(o.Probes.HandleLog)))
	}
	if o.Gate != nil {
		mux.Handle("GET /api/v1/gate", guarded(route{perm: config.PermGateRead}, o.Gate))
	}
	if o.Releases != nil {
		mux.Handle("GET /api/v1/releases/{env}/{dataset}", guarded(route{perm: config.PermGateRead}, o.Releases))
	}
	if o.GateOverride != nil {
		overrideTarget := func(r *http.Request) string {
			// The body is the handler's to read; the environment is named
			// in the outcome entry's detail, and in the query of a DELETE.
			if env := r.URL.Query().Get("env"); env != "" {
				return "env=" + env + datasetSuffix(r.URL.Query().Get("dataset"))
			}
			return r.URL.Path
		}
		mux.Handle("POST /api/v1/gate/override", guarded(route{perm: config.PermGateOverride, action: ActionGateOverride, target: overrideTarget}, http.HandlerFunc(o.GateOverride.HandleOverrideSet)))
		mux.Handle("DELETE /api/v1/gate/override", guarded(route{perm: config.PermGateOverride, action: ActionGateOverrideWithdraw, target: overrideTarget}, http.HandlerFunc(o.GateOverride.HandleOverrideWithdraw)))
	}
	if o.Events != nil {
		mux.Handle("POST /api/v1/events", guarded(route{perm: config.PermEventsWrite}, http.HandlerFunc(o.Events.HandleGeneric)))
		// A webhook's signature or token is its credential: the handler
		// checks it against the sender's secret before reading a field, and
		// a browser cannot forge it, so the route needs neither a principal
		// nor the cross-site check.
		mux.HandleFunc("POST /api/v1/events/{sender}", o.Events.HandleSender)
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
	return limitBody(o.MaxBodyBytes, mux), nil
}

// Audited actions.
const (
	ActionReload   = "config.reload"
	ActionProbeRun = "probe.run"
	// ActionGateOverride sets a break-glass override of the deploy gate;
	// ActionGateOverrideWithdraw ends one early.
	ActionGateOverride         = "gate.override"
	ActionGateOverrideWithdraw = "gate.override.withdraw"
	// ActionReloadSignal is a reload by SIGHUP, which the process's owner
	// sends.
	ActionReloadSignal = "config.reload.signal"
)

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

func datasetSuffix(d string) string {
	if d == "" {
		return ""
	}
	return " dataset=" + d
}
