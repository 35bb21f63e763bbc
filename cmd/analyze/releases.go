package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

type releasesOptions struct {
	env, dataset string
	at           string
	format       string
}

func releasesCommand(app *kingpin.Application, g *globals) subcommand {
	o := &releasesOptions{}
	c := app.Command("releases", "List the releases of a dataset, newest first, each with the backup that precedes it (the data a rollback of the release restores), as GET /api/v1/releases/{env}/{dataset} does.")
	c.Flag("env", "Environment.").Required().StringVar(&o.env)
	c.Flag("dataset", "Dataset or service.").Required().StringVar(&o.dataset)
	c.Flag("at", "List the releases the history knows at this time.").Default("now").StringVar(&o.at)
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown")
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runReleases(ctx, g, o) }}
}

func runReleases(ctx context.Context, g *globals, o *releasesOptions) (int, error) {
	cfg, err := g.requireConfig("releases")
	if err != nil {
		return exitError, err
	}
	if cfg.Environments[o.env] == nil {
		return exitError, fmt.Errorf("--env: %q is not an environment of %s (%s)", o.env, cfg.File, strings.Join(cfg.EnvNames(), ", "))
	}
	at, err := parseTime(o.at, g.now())
	if err != nil {
		return exitError, fmt.Errorf("--at: %w", err)
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	// The evaluation reads the events into tracks and leaves the backups
	// retained at at in the state table.
	res, _, err := db.Evaluate(ctx, cfg, at, at.Add(-cfg.Checks.Period.D()), g.logger)
	if err != nil {
		return exitError, err
	}
	var track *policy.Track
	for i := range res.Tracks {
		if t := &res.Tracks[i]; t.Key == (policy.TrackKey{Env: o.env, Dataset: o.dataset}) {
			track = t
		}
	}
	var backups []model.Backup
	err = db.EachSeries(ctx, func(bs []model.Backup) error {
		if k := bs[0].Series(); k.Env == o.env && k.Dataset == o.dataset && cfg.Source(k.Source) != nil {
			backups = append(backups, bs...)
		}
		return nil
	})
	if err != nil {
		return exitError, err
	}
	list := policy.ReleaseList(track, backups)
	if list == nil {
		list = []policy.ReleaseEntry{}
	}
	if o.format == "json" {
		return exitOK, writeJSON(g.stdout, map[string]any{"env": o.env, "dataset": o.dataset, "evaluated_at": res.At.UTC(), "releases": list})
	}
	t := &table{header: []string{"RELEASE", "DEPLOYED", "FROM", "BACKUP", "BACKUP TIME", "CHECKSUM", "LOCATION", "CHOSEN BY"}}
	for _, e := range list {
		row := []string{e.Release, e.Deployed.Format(time.RFC3339), e.From, "-", "", "", "", ""}
		if b := e.Backup; b != nil {
			row[3] = b.Source + "/" + b.ID
			if !b.Time.IsZero() {
				row[4] = b.Time.Format(time.RFC3339)
			}
			row[5], row[6], row[7] = b.Checksum, b.Location, b.From
		}
		t.add(row...)
	}
	switch o.format {
	case "csv":
		return exitOK, t.writeCSV(g.stdout)
	case "markdown":
		return exitOK, t.writeMarkdown(g.stdout)
	}
	return exitOK, t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout))
}
