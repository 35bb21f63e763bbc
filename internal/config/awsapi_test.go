package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The AWS API sources run every 6h unless told otherwise (Cost Explorer
// bills each request); an interval written explicitly is kept, and the
// defaults of their options are set.
func TestAPISourceDefaults(t *testing.T) {
	c, err := Parse("x.yml", []byte(`
environments: {prod: {rpo: 1h}}
sources:
  - {name: ce, type: costexplorer}
  - {name: ce5m, type: costexplorer, interval: 5m}
  - {name: s3, type: s3requests, s3requests: {buckets: [{name: b}]}}
  - {name: files, type: manifest, manifest: {dir: m}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Source("ce").Interval != DefaultAPIInterval || c.Source("s3").Interval != DefaultAPIInterval ||
		c.Source("ce5m").Interval != "5m" || c.Source("files").Interval != DefaultInterval {
		t.Errorf("intervals %s %s %s %s", c.Source("ce").Interval, c.Source("s3").Interval, c.Source("ce5m").Interval, c.Source("files").Interval)
	}
	ce := c.Source("ce").CostExplorer
	if ce == nil || ce.Region != "us-east-1" || ce.Granularity != "DAILY" || ce.Lookback != DefaultCELookback || len(ce.Services) != 2 || len(ce.Metrics) != 3 {
		t.Errorf("costexplorer defaults %+v", ce)
	}
	s3 := c.Source("s3").S3Requests
	if s3.Period != DefaultS3RequestsPeriod || s3.Lookback != DefaultS3RequestsLookback || len(s3.Metrics) != 7 || s3.Buckets[0].FilterID != "EntireBucket" {
		t.Errorf("s3requests defaults %+v", s3)
	}
	if c.Budget(c.Source("ce")) != nil || c.Prices().Currency != "USD" {
		t.Error("a budget without one configured, or no built-in prices")
	}
}

// Each invalid API source or budget is an error naming the file, line and
// field.
func TestAPISourceErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad-prices.yml")
	if err := os.WriteFile(bad, []byte("date: x\nsource: y\nclasses: {STANDARD: {storage_gb_month: -1}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eur := filepath.Join(dir, "eur.yml")
	if err := os.WriteFile(eur, []byte("date: x\nsource: y\ncurrency: EUR\nclasses: {STANDARD: {}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "environments: {prod: {rpo: 1h}}\nsources:\n"
	for _, tc := range []struct{ yml, want string }{
		{head + "  - {name: s, type: s3requests, region: x}\n", `x.yml:3: sources[0]: unknown field "region" ("region" belongs under s3requests: nest it there, for example s3requests: {region: ...})`},
		{head + "  - {name: s, type: s3requests}\n", "x.yml:3: sources[0] (s).s3requests.buckets: at least one bucket is required for an s3requests source"},
		{head + "  - {name: s, type: s3requests, s3requests: {buckets: [{name: b}], period: 90s}}\n", "x.yml:3: sources[0] (s).s3requests.period: must be a whole number of minutes"},
		{head + "  - {name: s, type: s3requests, s3requests: {buckets: [{name: b}], lookback: 1h}}\n", "x.yml:3: sources[0] (s).s3requests.lookback: must be at least one period (1d)"},
		{head + "  - {name: s, type: s3requests, s3requests: {buckets: [{name: b}], metrics: [BytesDownloaded]}}\n", `x.yml:3: sources[0] (s).s3requests.metrics: "BytesDownloaded" is not one of AllRequests`},
		{head + "  - {name: s, type: s3requests, s3requests: {buckets: [{name: b}, {name: b}]}}\n", "x.yml:3: sources[0] (s).s3requests.buckets[1] (b): listed twice with filter EntireBucket"},
		{head + "  - name: s\n    type: s3requests\n    s3requests:\n      buckets:\n        - {name: b, storage_class: GLACIR}\n", `x.yml:7: sources[0] (s).s3requests.buckets[0] (b).storage_class: "GLACIR" is not in the price table`},
		{head + "  - name: s\n    type: s3requests\n    s3requests:\n      buckets:\n        - {name: b, env: production}\n", `x.yml:7: sources[0] (s).s3requests.buckets[0] (b).env: unknown environment "production"`},
		{head + "  - {name: c, type: costexplorer, costexplorer: {granularity: HOURLY}}\n", `x.yml:3: sources[0] (c).costexplorer.granularity: "HOURLY" is not DAILY or MONTHLY`},
		{head + "  - {name: c, type: costexplorer, costexplorer: {lookback: 12h}}\n", "x.yml:3: sources[0] (c).costexplorer.lookback: must be at least 1d"},
		{head + "  - {name: c, type: costexplorer, costexplorer: {metrics: [BlendedCost]}}\n", `x.yml:3: sources[0] (c).costexplorer.metrics: "BlendedCost" is not one of UnblendedCost, AmortizedCost, UsageQuantity`},
		{head + "  - {name: c, type: costexplorer, dataset_from: tag:app}\n", "x.yml:3: sources[0] (c).dataset_from: does not apply to a costexplorer source"},
		{head + "  - name: c\n    type: costexplorer\n    api_budget: {monthly: 0}\n", "x.yml:5: sources[0] (c).api_budget.monthly: must be greater than 0"},
		{head + "  - name: c\n    type: costexplorer\n    api_budget: {monthly: 5, currency: EUR}\n", "x.yml:5: sources[0] (c).api_budget.currency: EUR is not the price table's currency USD"},
		{head + "  - {name: c, type: costexplorer}\ncollection:\n  api_budget: {monthly: -1}\n", "x.yml:5: collection.api_budget.monthly: must be greater than 0"},
		{head + "  - {name: c, type: costexplorer}\nprices_file: " + bad + "\n", "x.yml:4: prices_file: " + bad + ": classes.STANDARD.storage_gb_month: must be a number that is not negative"},
		{head + "  - {name: c, type: costexplorer}\nprices_file: nope.yml\n", "x.yml:4: prices_file: read prices:"},
	} {
		_, err := Parse("x.yml", []byte(tc.yml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s\ngot  %v\nwant %s", tc.yml, err, tc.want)
		}
	}
	// A price table in another currency takes budgets in it.
	c, err := Parse(filepath.Join(dir, "x.yml"), []byte(head+"  - {name: c, type: costexplorer, api_budget: {monthly: 5}}\nprices_file: eur.yml\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prices().Currency != "EUR" || c.Budget(c.Sources[0]).Currency != "EUR" || c.PricesFile != eur {
		t.Errorf("prices %s, budget %+v, file %s", c.Prices().Currency, c.Budget(c.Sources[0]), c.PricesFile)
	}
}
