// Command exporter collects backup catalogs in the background, serves them
// as Prometheus metrics, runs restore-verification probes and appends what
// it learns to a long-term Parquet history.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	promcollectors "github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	webflag "github.com/prometheus/exporter-toolkit/web/kingpinflag"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/buildinfo"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/probe"
	"github.com/restorable/restorable/internal/server"
)

// DefaultPort is outside the 9100-9999 range that the Prometheus port
// allocation list has filled, and not used by other backup exporters
// (restic-exporter 8001, pgbackrest_exporter 9854, wal-g-exporter 9351,
// velero 8085).
const DefaultPort = ":10060"

// DefaultGCPercent is the exporter's GOGC when the environment sets none.
const DefaultGCPercent = 50

func main() {
	buildinfo.Fill()
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	app := kingpin.New("exporter", "Restorable exporter: backup catalogs, restore probes and their history as Prometheus metrics.")
	var (
		configFile    = app.Flag("config.file", "Restorable configuration file.").Default("restorable.yml").String()
		configCheck   = app.Flag("config.check", "Validate the configuration file as a start does, check that the files it names exist, and exit (0 valid, 1 invalid).").Bool()
		configSchema  = app.Flag("config.schema", "Print a JSON Schema of the configuration file (for editors) and exit.").Bool()
		telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		historyRoot   = app.Flag("history.root", "Override the configuration's history.root.").String()
		webConfig     = webflag.AddFlags(app, DefaultPort)
		limits        server.Limits
		maxBodyBytes  int64
	)
	app.Flag("web.read-header-timeout", "Longest a client may take to send a request's headers.").
		Default(server.DefaultReadHeaderTimeout.String()).DurationVar(&limits.ReadHeaderTimeout)
	app.Flag("web.read-timeout", "Longest a client may take to send a whole request, body included.").
		Default(server.DefaultReadTimeout.String()).DurationVar(&limits.ReadTimeout)
	app.Flag("web.write-timeout", "Longest from the end of a request's headers until its answer is written.").
		Default(server.DefaultWriteTimeout.String()).DurationVar(&limits.WriteTimeout)
	app.Flag("web.idle-timeout", "Longest a keep-alive connection may wait for its next request.").
		Default(server.DefaultIdleTimeout.String()).DurationVar(&limits.IdleTimeout)
	app.Flag("web.max-connections", "Most open HTTP connections; a new one closes the longest-idle one, and is refused only when all are busy (0: no limit).").
		Default(fmt.Sprint(server.DefaultMaxConnections)).IntVar(&limits.MaxConnections)
	app.Flag("web.max-request-body-bytes", "Largest request body accepted (413 above).").
		Default(fmt.Sprint(server.DefaultMaxBodyBytes)).Int64Var(&maxBodyBytes)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("restorable_exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *configSchema {
		out, err := json.MarshalIndent(config.Schema(probe.OptionTypes()), "", "  ")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(string(out))
		return 0
	}
	if *configCheck {
		cfg, cs, err := checkConfig(context.Background(), *configFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// Token hash files are read here too, so that a missing or
		// malformed one fails the check rather than the start.
		if _, err := access.New(cfg.Access, *webConfig.WebConfigFile); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: valid (%s, %s, %s)\n", *configFile, count(len(cfg.Environments), "environment"), count(len(cfg.Sources), "source"), count(len(cfg.Probes), "probe"))
		for _, l := range apiCostReport(cfg, cs) {
			fmt.Println(l)
		}
		return 0
	}

	// The exporter is idle between collections and holds whole catalogs:
	// collecting garbage at half the default heap growth keeps its
	// footprint small for little CPU. GOGC in the environment still wins.
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
	logger := promslog.New(logConfig)
	logger.Info("starting restorable exporter", "version", version.Info(), "config", *configFile)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("restorable"),
		promcollectors.NewGoCollector(),
		promcollectors.NewProcessCollector(promcollectors.ProcessCollectorOpts{}),
	)
	cfg, err := config.Load(*configFile)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	pol, err := access.New(cfg.Access, *webConfig.WebConfigFile)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	var policy atomic.Pointer[access.Policy]
	policy.Store(pol)
	auditLog, err := openAudit(cfg, *historyRoot, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	var auditor server.Auditor
	if auditLog != nil {
		defer auditLog.Close() //nolint:errcheck // every entry was fsynced when written
		auditor = auditLog
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "restorable_audit_log_entries",
			Help: "Entries written to the audit log since it was created (its last sequence number). Kept by Prometheus, it shows a log whose tail was cut off or rewritten.",
		}, func() float64 { return float64(auditLog.Entries()) }))
	}

	overridesFile := ""
	if auditLog != nil {
		overridesFile = filepath.Join(filepath.Dir(auditLog.Path()), OverridesFileName)
	}
	a, err := newApp(ctx, appOptions{
		ConfigFile:    *configFile,
		HistoryRoot:   *historyRoot,
		Logger:        logger,
		Now:           time.Now,
		Registry:      reg,
		OverridesFile: overridesFile,
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	defer a.Close()
	a.exportAudit(auditLog)

	reload := func() error { return reloadAll(a, &policy, *configFile, *webConfig.WebConfigFile) }
	handler, err := server.New(server.Options{
		Logger:        logger,
		Gatherer:      a.Gatherer(),
		TelemetryPath: *telemetryPath,
		Version:       version.Info(),
		Ready:         a.store.Ready,
		Reload:        reload,
		Probes:        a,
		Gate:          a.handleGate,
		Releases:      a.handleReleases,
		GateOverride:  a,
		Events:        a.eventsAPI(),
		Access:        policy.Load,
		Audit:         auditor,
		MaxBodyBytes:  maxBodyBytes,
	})
	if err != nil {
		logger.Error("cannot build http handler", "err", err)
		return 1
	}
	srv := server.NewHTTPServer(handler, limits)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sig {
			if s == syscall.SIGHUP {
				err := reload()
				if err != nil {
					logger.Error("reload failed, keeping the previous configuration", "err", err)
				}
				auditSignalReload(auditor, err, logger)
				continue
			}
			logger.Info("shutting down", "signal", s.String())
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = srv.Shutdown(shutdownCtx)
			cancel()
			return
		}
	}()
	if err := web.ListenAndServe(srv, webConfig, logger); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("http server failed", "err", err)
		return 1
	}
	return 0
}

// openAudit opens the audit log that cfg names, or the one under the
// history root in use. A configuration with history disabled and no
// access.audit_log has none: it has no principal either (the configuration
// refuses that), so nothing that changes state can run.
func openAudit(cfg *config.Config, historyRoot string, logger *slog.Logger) (*audit.Log, error) {
	if cfg.Access.AuditLog == "" && cfg.History.Disabled {
		logger.Warn("no audit log: history is disabled and access.audit_log is not set; refused requests are only logged here")
		return nil, nil
	}
	root := cfg.History.Root
	if historyRoot != "" {
		root = historyRoot
	}
	path, err := cfg.Access.AuditLogPath(root)
	if err != nil {
		return nil, err
	}
	l, problems, err := audit.Open(path, time.Now)
	if err != nil {
		return nil, err
	}
	for _, p := range problems {
		logger.Error("the audit log was cut off, edited or damaged before this start; the break is recorded in the log", "path", path, "problem", p.String())
	}
	logger.Info("audit log", "path", path, "entries", l.Entries())
	return l, nil
}

// reloadAll re-reads the configuration and swaps the access policy with
// the rest of it: both change, or neither does.
func reloadAll(a *app, policy *atomic.Pointer[access.Policy], configFile, webConfigFile string) error {
	cfg, err := config.Load(configFile)
	if err != nil {
		// The app reads the same file and records the failed reload.
		return a.Reload()
	}
	pol, err := access.New(cfg.Access, webConfigFile)
	if err != nil {
		a.self.Reloaded(false, a.opts.Now())
		return fmt.Errorf("reload access policy: %w", err)
	}
	if err := a.Reload(); err != nil {
		return err
	}
	policy.Store(pol)
	return nil
}

// auditSignalReload records a reload by SIGHUP. The signal comes from the
// process's owner (or root), so it is not checked against the access
// policy, but it changes state like POST /-/reload and is audited too.
func auditSignalReload(auditor server.Auditor, reloadErr error, logger *slog.Logger) {
	if auditor == nil {
		return
	}
	e := audit.Entry{Principal: "signal", Auth: "signal", Action: server.ActionReloadSignal, Target: "SIGHUP", Outcome: audit.OutcomeOK}
	if reloadErr != nil {
		e.Outcome, e.Detail = audit.OutcomeFailed, reloadErr.Error()
	}
	if err := auditor.Append(e); err != nil {
		logger.Error("write audit entry of a SIGHUP reload", "err", err)
	}
}

// count writes "1 source", "2 sources".
func count(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
