package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/prices"
	"github.com/restorable/restorable/internal/probe"
)

// checkConfig is --config.check: it runs every validation a start runs
// (load the file, build every collector and its schedule, build every
// probe), then what a start leaves to the first collection or probe run:
// the files sources and probes name exist, and no probe sandbox is its
// source. Nothing is started and nothing is written. It returns the
// configuration and its collectors.
func checkConfig(ctx context.Context, file string) (*config.Config, map[string]collectors.Collector, error) {
	cfg, err := config.Load(file)
	if err != nil {
		return nil, nil, err
	}
	logger := slog.New(slog.DiscardHandler)
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: logger, Now: time.Now})
	if err != nil {
		return nil, nil, err
	}
	if _, err := collectors.NewScheduler(cfg, cs, collectors.SchedulerOptions{Logger: logger, Now: time.Now, OnRun: func(collectors.Run) {}}); err != nil {
		return nil, nil, err
	}
	if err := probe.Validate(ctx, cfg); err != nil {
		return nil, nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, nil, err
	}
	return cfg, cs, nil
}

// apiCostReport estimates, for every source whose collections make API
// requests the price table prices, the least a collection costs (one page
// per query), what that costs a month at the configured interval, and the
// shortest interval within the source's API budget: the formula of the
// exporter's restorable_collector_recommended_interval_seconds, from the
// fewest calls instead of the calls counted (docs/collectors.md, API
// budget).
func apiCostReport(cfg *config.Config, cs map[string]collectors.Collector) []string {
	table := cfg.Prices()
	var out []string
	for _, src := range cfg.Sources {
		est, ok := cs[src.Name].(collectors.CallEstimator)
		if !ok {
			continue
		}
		calls := est.MinCalls()
		var units map[string]float64
		if u, ok := cs[src.Name].(collectors.UnitDeclarer); ok {
			units = u.UnitsPerCall()
		}
		cost, known := table.RunCost(calls, units)
		if !known {
			continue
		}
		var ops []string
		for op, n := range calls {
			ops = append(ops, fmt.Sprintf("%d %s", n, op))
		}
		slices.Sort(ops)
		interval := collectors.ScheduleInterval(src)
		line := fmt.Sprintf("source %s: at least %s per collection, %s %s; at its interval of %s, %s %s a month",
			src.Name, strings.Join(ops, ", "), money(cost), table.Currency, config.Duration(interval), money(prices.MonthlyCost(cost, interval)), table.Currency)
		if b := cfg.Budget(src); b != nil {
			if d, ok := prices.RecommendedInterval(cost, b.Monthly); ok {
				line += fmt.Sprintf("; budget %s %s a month: shortest interval %s", money(b.Monthly), b.Currency, config.Duration(d))
				if interval < d {
					line += " (the configured interval exceeds the budget)"
				}
			}
		}
		out = append(out, line)
	}
	return out
}

// money formats an amount with four decimals, enough for request prices.
func money(v float64) string { return fmt.Sprintf("%.4f", v) }
