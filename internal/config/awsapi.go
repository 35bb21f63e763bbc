package config

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/internal/prices"
)

// Defaults of the sources that AWS bills per API request. Cost Explorer
// charges USD 0.01 per request and its data changes a few times a day, so
// its sources run every 6 hours unless told otherwise; S3 request metrics
// are read per day, so more often would only re-read the same days.
const (
	DefaultAPIInterval        = "@every 6h"
	DefaultCostExplorerRegion = "us-east-1"
	DefaultCELookback         = Duration(14 * 24 * time.Hour)
	DefaultS3RequestsPeriod   = Duration(24 * time.Hour)
	DefaultS3RequestsLookback = Duration(3 * 24 * time.Hour)
	DefaultS3RequestsFilterID = "EntireBucket"
)

// defaultIntervals are the intervals of source types whose default is not
// DefaultInterval.
var defaultIntervals = map[string]string{
	TypeCostExplorer: DefaultAPIInterval,
	TypeS3Requests:   DefaultAPIInterval,
}

// Cost Explorer granularities.
const (
	GranularityDaily   = "DAILY"
	GranularityMonthly = "MONTHLY"
)

// CostExplorerMetrics are the Cost Explorer metrics a source may read;
// UnblendedCost is always read (it is the billed cost).
var CostExplorerMetrics = []string{"UnblendedCost", "AmortizedCost", "UsageQuantity"}

// DefaultCostExplorerServices are the services read by default, as Cost
// Explorer's SERVICE dimension names them.
func DefaultCostExplorerServices() []string {
	return []string{"Amazon Simple Storage Service", "AWS Backup"}
}

// S3RequestMetrics are the S3 request metrics (CloudWatch namespace
// AWS/S3) an s3requests source may read.
var S3RequestMetrics = []string{
	prices.OpAllRequests, prices.OpGetRequests, prices.OpPutRequests, prices.OpListRequests,
	prices.OpDeleteRequests, prices.OpHeadRequests, prices.OpPostRequests, prices.OpSelectRequests,
}

// DefaultS3RequestMetrics are the request metrics read by default.
func DefaultS3RequestMetrics() []string { return slices.Clone(S3RequestMetrics[:7]) }

// APIBudget is a monthly budget for a source's API requests.
type APIBudget struct {
	Monthly  float64 `yaml:"monthly" doc:"Money a source's API requests may cost per month (730 hours)." required:"true"`
	Currency string  `yaml:"currency,omitempty" doc:"Currency of monthly; must be the price table's (default: the price table's currency)."`
}

// CostExplorerOptions configures a costexplorer source.
type CostExplorerOptions struct {
	Region      string   `yaml:"region,omitempty" doc:"AWS region of the Cost Explorer endpoint (default us-east-1)."`
	Profile     string   `yaml:"profile,omitempty" doc:"Shared-config profile of the credentials (default: the default credential chain)."`
	Endpoint    string   `yaml:"endpoint,omitempty" doc:"Base URL replacing Cost Explorer's (a proxy or a test server)."`
	Granularity string   `yaml:"granularity,omitempty" doc:"DAILY or MONTHLY cost lines (default DAILY)." enum:"DAILY,MONTHLY"`
	Lookback    Duration `yaml:"lookback,omitempty" doc:"How far back each collection reads; MONTHLY starts at the first day of the month it reaches (default 14d)."`
	Services    []string `yaml:"services,omitempty" doc:"Services read, as Cost Explorer's SERVICE dimension names them (default Amazon Simple Storage Service, AWS Backup)."`
	Metrics     []string `yaml:"metrics,omitempty" doc:"Metrics read: UnblendedCost (always), AmortizedCost, UsageQuantity (default all three)."`
	GroupByTag  string   `yaml:"group_by_tag,omitempty" doc:"A cost allocation tag key: lines are grouped by its value too and carry it as a tag (one query per service instead of one for all)."`
}

func defaultCostExplorer() *CostExplorerOptions {
	return &CostExplorerOptions{
		Region: DefaultCostExplorerRegion, Granularity: GranularityDaily, Lookback: DefaultCELookback,
		Services: DefaultCostExplorerServices(), Metrics: slices.Clone(CostExplorerMetrics),
	}
}

// UnmarshalYAML sets the defaults of a costexplorer source before
// decoding it.
func (o *CostExplorerOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain CostExplorerOptions
	p := plain(*defaultCostExplorer())
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = CostExplorerOptions(p)
	return nil
}

func (o *CostExplorerOptions) validate(where string) error {
	switch o.Granularity {
	case GranularityDaily, GranularityMonthly:
	default:
		return fmt.Errorf("%s.costexplorer.granularity: %q is not DAILY or MONTHLY", where, o.Granularity)
	}
	if o.Lookback < Duration(24*time.Hour) {
		return fmt.Errorf("%s.costexplorer.lookback: must be at least 1d (Cost Explorer counts in days)", where)
	}
	if len(o.Services) == 0 {
		return fmt.Errorf("%s.costexplorer.services: at least one service is required", where)
	}
	for _, m := range o.Metrics {
		if !slices.Contains(CostExplorerMetrics, m) {
			return fmt.Errorf("%s.costexplorer.metrics: %q is not one of %s", where, m, strings.Join(CostExplorerMetrics, ", "))
		}
	}
	if !slices.Contains(o.Metrics, "UnblendedCost") {
		o.Metrics = append([]string{"UnblendedCost"}, o.Metrics...)
	}
	return nil
}

// S3RequestsOptions configures an s3requests source.
type S3RequestsOptions struct {
	Region   string            `yaml:"region,omitempty" doc:"AWS region of the buckets' CloudWatch metrics (default: the default chain's, AWS_REGION)."`
	Profile  string            `yaml:"profile,omitempty" doc:"Shared-config profile of the credentials (default: the default credential chain)."`
	Endpoint string            `yaml:"endpoint,omitempty" doc:"Base URL replacing CloudWatch's (a proxy or a test server)."`
	Buckets  []S3RequestBucket `yaml:"buckets" doc:"Buckets whose request metrics are read; each needs a request metrics configuration (filter) in S3." required:"true"`
	Metrics  []string          `yaml:"metrics,omitempty" doc:"Request metrics read (default AllRequests, GetRequests, PutRequests, ListRequests, DeleteRequests, HeadRequests, PostRequests; SelectRequests may be added)."`
	Period   Duration          `yaml:"period,omitempty" doc:"Length of each counted period, a whole number of minutes (default 1d)."`
	Lookback Duration          `yaml:"lookback,omitempty" doc:"How many complete periods back each collection reads, as a duration (default 3d)."`
}

// S3RequestBucket is one bucket of an s3requests source.
type S3RequestBucket struct {
	Name         string `yaml:"name" doc:"Bucket name." required:"true"`
	FilterID     string `yaml:"filter_id,omitempty" doc:"Id of the bucket's request metrics configuration (default EntireBucket)."`
	StorageClass string `yaml:"storage_class,omitempty" doc:"Storage class whose request prices apply (default: the price table's standard class)."`
	Env          string `yaml:"env,omitempty" doc:"Environment of the bucket (default: the source's)."`
	Dataset      string `yaml:"dataset,omitempty" doc:"Dataset the bucket holds (default: the source's dataset, else the bucket name)."`
}

// UnmarshalYAML sets the defaults of an s3requests source before decoding
// it.
func (o *S3RequestsOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain S3RequestsOptions
	p := plain{Metrics: DefaultS3RequestMetrics(), Period: DefaultS3RequestsPeriod, Lookback: DefaultS3RequestsLookback}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = S3RequestsOptions(p)
	return nil
}

// UnmarshalYAML sets the default filter id of a bucket.
func (b *S3RequestBucket) UnmarshalYAML(n *yaml.Node) error {
	type plain S3RequestBucket
	p := plain{FilterID: DefaultS3RequestsFilterID}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*b = S3RequestBucket(p)
	return nil
}

func (o *S3RequestsOptions) validate(where string) error {
	if o.Period < Duration(time.Minute) || o.Period%Duration(time.Minute) != 0 {
		return fmt.Errorf("%s.s3requests.period: must be a whole number of minutes (CloudWatch keeps request metrics per minute)", where)
	}
	if o.Lookback < o.Period {
		return fmt.Errorf("%s.s3requests.lookback: must be at least one period (%s)", where, o.Period)
	}
	if len(o.Metrics) == 0 {
		return fmt.Errorf("%s.s3requests.metrics: at least one metric is required", where)
	}
	for _, m := range o.Metrics {
		if !slices.Contains(S3RequestMetrics, m) {
			return fmt.Errorf("%s.s3requests.metrics: %q is not one of %s", where, m, strings.Join(S3RequestMetrics, ", "))
		}
	}
	seen := map[string]bool{}
	for i, b := range o.Buckets {
		if b.Name == "" {
			return fmt.Errorf("%s.s3requests.buckets[%d].name: required", where, i)
		}
		if b.FilterID == "" {
			return fmt.Errorf("%s.s3requests.buckets[%d] (%s).filter_id: must not be empty", where, i, b.Name)
		}
		key := b.Name + "\x00" + b.FilterID
		if seen[key] {
			return fmt.Errorf("%s.s3requests.buckets[%d] (%s): listed twice with filter %s", where, i, b.Name, b.FilterID)
		}
		seen[key] = true
	}
	return nil
}

// hasKey reports whether the mapping n has the key.
func hasKey(n *yaml.Node, key string) bool {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		return false
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return true
		}
	}
	return false
}

// Prices returns the price table in force: the one of prices_file, or the
// built-in table.
func (c *Config) Prices() *prices.Table {
	if c.prices == nil {
		return prices.Default()
	}
	return c.prices
}

// Budget returns the API budget of a source: its own, else the collection
// default; nil when neither is set.
func (c *Config) Budget(s *Source) *APIBudget {
	if s.APIBudget != nil {
		return s.APIBudget
	}
	return c.Collection.APIBudget
}

// validatePrices loads the price table and checks what depends on it: the
// currency of every API budget and the storage classes that price S3
// requests. It also checks the environments of s3requests buckets.
func (c *Config) validatePrices() error {
	table, err := prices.Load(c.Path(c.PricesFile))
	if err != nil {
		return errAt(c.lineOf("prices_file"), "prices_file: %v", err)
	}
	c.prices = table
	check := func(b *APIBudget, line int, where string) error {
		if b == nil {
			return nil
		}
		if !(b.Monthly > 0) || math.IsInf(b.Monthly, 0) {
			return errAt(line, "%s.api_budget.monthly: must be greater than 0", where)
		}
		if b.Currency == "" {
			b.Currency = table.Currency
		}
		if b.Currency != table.Currency {
			return errAt(line, "%s.api_budget.currency: %s is not the price table's currency %s", where, b.Currency, table.Currency)
		}
		return nil
	}
	if err := check(c.Collection.APIBudget, c.lineOf("collection", "api_budget"), "collection"); err != nil {
		return err
	}
	for i, s := range c.Sources {
		where := fmt.Sprintf("sources[%d] (%s)", i, s.Name)
		if err := check(s.APIBudget, c.lineOf("sources", i, "api_budget"), where); err != nil {
			return err
		}
		if s.S3Requests == nil {
			continue
		}
		for j, b := range s.S3Requests.Buckets {
			line := c.lineOf("sources", i, "s3requests", "buckets", j)
			if b.StorageClass != "" {
				if name, _ := table.Class(b.StorageClass); name == "" {
					return errAt(line, "%s.s3requests.buckets[%d] (%s).storage_class: %q is not in the price table", where, j, b.Name, b.StorageClass)
				}
			}
			if b.Env != "" {
				if _, ok := c.Environments[b.Env]; !ok {
					return errAt(line, "%s.s3requests.buckets[%d] (%s).env: unknown environment %q", where, j, b.Name, b.Env)
				}
			}
		}
	}
	return nil
}
