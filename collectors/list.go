package collectors

import (
	"fmt"

	"github.com/restorable/restorable/collectors/awsbackup"
	"github.com/restorable/restorable/collectors/billing"
	"github.com/restorable/restorable/collectors/costexplorer"
	"github.com/restorable/restorable/collectors/manifest"
	"github.com/restorable/restorable/collectors/pgbackrest"
	"github.com/restorable/restorable/collectors/restic"
	"github.com/restorable/restorable/collectors/s3"
	"github.com/restorable/restorable/collectors/s3requests"
	"github.com/restorable/restorable/collectors/velero"
	"github.com/restorable/restorable/collectors/walg"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// Factories is the explicit list of collectors, by source type. Adding a
// collector is one sub-package and one entry here (and its options struct
// in internal/config).
func Factories() map[string]Factory {
	return map[string]Factory{
		config.TypeManifest: func(src *config.Source, d Deps) (Collector, error) {
			return manifest.New(src, d.Logger, d.Now)
		},
		config.TypePgBackRest: func(src *config.Source, d Deps) (Collector, error) {
			return pgbackrest.New(src, d.Logger, d.Now)
		},
		config.TypeBilling: func(src *config.Source, d Deps) (Collector, error) {
			return billing.New(src, d.Logger, d.Now)
		},
		config.TypeRestic: func(src *config.Source, d Deps) (Collector, error) {
			return restic.New(src, d.Logger, d.Now, d.StateDir)
		},
		config.TypeWALG: func(src *config.Source, d Deps) (Collector, error) {
			return walg.New(src, d.Logger, d.Now)
		},
		config.TypeVelero: func(src *config.Source, d Deps) (Collector, error) {
			return velero.New(src, d.Logger, d.Now)
		},
		config.TypeAWSBackup: func(src *config.Source, d Deps) (Collector, error) {
			return awsbackup.New(src, d.Logger, d.Now)
		},
		config.TypeCostExplorer: func(src *config.Source, d Deps) (Collector, error) {
			return costexplorer.New(src, d.Logger, d.Now)
		},
		config.TypeS3Requests: func(src *config.Source, d Deps) (Collector, error) {
			return s3requests.New(src, d.Prices, d.Logger, d.Now)
		},
		config.TypeS3: func(src *config.Source, d Deps) (Collector, error) {
			return s3.New(src, d.Logger, d.Now)
		},
	}
}

// Build constructs the collector of every configured source.
func Build(cfg *config.Config, factories map[string]Factory, d Deps) (map[string]Collector, error) {
	out := make(map[string]Collector, len(cfg.Sources))
	for _, src := range cfg.Sources {
		f, ok := factories[src.Type]
		if !ok {
			return nil, runx.Errorf(runx.KindConfig, "source %s: no collector for type %q", src.Name, src.Type)
		}
		// The price table is the configuration's unless the caller hands
		// another.
		table := d.Prices
		if table == nil {
			table = cfg.Prices()
		}
		c, err := f(src, Deps{Logger: d.Logger.With("backup_source", src.Name, "type", src.Type), Now: d.Now, StateDir: d.StateDir, Prices: table})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: set up source %s: %w", cfg.File, src.Line(), src.Name, err)
		}
		out[src.Name] = c
	}
	return out, nil
}
