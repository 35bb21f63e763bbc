// Command exporter collects backup catalogs in the background, serves them
// as Prometheus metrics, runs restore-verification probes and appends what
// it learns to a long-term Parquet history.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
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

	"github.com/restorable/restorable/internal/buildinfo"
	"github.com/restorable/restorable/internal/config"
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
		configCheck   = app.Flag("config.check", "Validate the configuration file and exit (0 valid, 1 invalid).").Bool()
		configSchema  = app.Flag("config.schema", "Print a JSON Schema of the configuration file (for editors) and exit.").Bool()
		telemetryPath = app.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").String()
		historyRoot   = app.Flag("history.root", "Override the configuration's history.root.").String()
		webConfig     = webflag.AddFlags(app, DefaultPort)
	)
	logConfig := &promslog.Config{}
	promslogflag.AddFlags(app, logConfig)
	app.Version(version.Print("restorable_exporter"))
	app.HelpFlag.Short('h')
	if _, err := app.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *configSchema {
		out, err := json.MarshalIndent(config.Schema(), "", "  ")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println(string(out))
		return 0
	}
	if *configCheck {
		cfg, err := config.Load(*configFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%s: valid (%d environments, %d sources, %d probes)\n", *configFile, len(cfg.Environments), len(cfg.Sources), len(cfg.Probes))
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
	a, err := newApp(ctx, appOptions{
		ConfigFile:  *configFile,
		HistoryRoot: *historyRoot,
		Logger:      logger,
		Now:         time.Now,
		Registry:    reg,
	})
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	defer a.Close()

	handler, err := server.New(server.Options{
		Logger:        logger,
		Gatherer:      a.Gatherer(),
		TelemetryPath: *telemetryPath,
		Version:       version.Info(),
		Ready:         a.store.Ready,
		Reload:        a.Reload,
		Probes:        a,
		Gate:          a.handleGate,
	})
	if err != nil {
		logger.Error("cannot build http handler", "err", err)
		return 1
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		for s := range sig {
			if s == syscall.SIGHUP {
				if err := a.Reload(); err != nil {
					logger.Error("reload failed, keeping the previous configuration", "err", err)
				}
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
