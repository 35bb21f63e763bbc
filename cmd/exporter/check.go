package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/probe"
)

// checkConfig is --config.check: it runs every validation a start runs
// (load the file, build every collector and its schedule, build every
// probe), then what a start leaves to the first collection or probe run:
// the files sources and probes name exist, and no probe sandbox is its
// source. Nothing is started and nothing is written.
func checkConfig(ctx context.Context, file string) (*config.Config, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.DiscardHandler)
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: logger, Now: time.Now})
	if err != nil {
		return nil, err
	}
	if _, err := collectors.NewScheduler(cfg, cs, collectors.SchedulerOptions{Logger: logger, Now: time.Now, OnRun: func(collectors.Run) {}}); err != nil {
		return nil, err
	}
	if err := probe.Validate(ctx, cfg); err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	return cfg, nil
}
