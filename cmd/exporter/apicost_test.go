package main

import (
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
)

// --config.check estimates the API cost of each AWS source before it ever
// runs, from the fewest requests a collection makes, with the formula of
// the recommended-interval metric: 730 h × cost per collection / budget.
func TestAPICostReport(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	cfg, err := config.Parse("t.yml", []byte(`
environments: {prod: {rpo: 1h}}
collection: {api_budget: {monthly: 0.01}}
sources:
  - {name: costs, type: costexplorer, api_budget: {monthly: 5}}
  - {name: costs-hourly, type: costexplorer, interval: 1h, api_budget: {monthly: 5}, costexplorer: {group_by_tag: app}}
  - {name: requests, type: s3requests, interval: 1h, s3requests: {region: eu-west-1, buckets: [{name: a}, {name: b}]}}
  - {name: files, type: manifest, manifest: {dir: x}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(apiCostReport(cfg, cs), "\n")
	want := strings.Join([]string{
		"source costs: at least 1 Cost Explorer GetCostAndUsage per collection, 0.0100 USD; at its interval of 6h, 1.2167 USD a month; budget 5.0000 USD a month: shortest interval 1h27m36s",
		"source costs-hourly: at least 2 Cost Explorer GetCostAndUsage per collection, 0.0200 USD; at its interval of 1h, 14.6000 USD a month; budget 5.0000 USD a month: shortest interval 2h55m12s (the configured interval exceeds the budget)",
		"source requests: at least 1 CloudWatch GetMetricData per collection, 0.0001 USD; at its interval of 1h, 0.1022 USD a month; budget 0.0100 USD a month: shortest interval 10h13m12s (the configured interval exceeds the budget)",
	}, "\n")
	if got != want {
		t.Errorf("report\n%s\nwant\n%s", got, want)
	}
}
