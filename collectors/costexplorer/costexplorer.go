// Package costexplorer collects S3 and AWS Backup costs from the AWS Cost
// Explorer API (GetCostAndUsage), for users without a Cost and Usage
// Report, and normalises them into cost lines.
//
// Every GetCostAndUsage request costs USD 0.01, each page of a paginated
// answer included; a source therefore runs every 6 hours by default and
// asks for all its services in one query (one query per service when it
// groups by a tag). The parsing of an answer (lines) is split from the
// requests (Collect), so that tests feed it answers directly.
package costexplorer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// Operation is the one operation a collection calls, as it is counted.
var Operation = awsclient.Operation("Cost Explorer", "GetCostAndUsage")

// maxPages bounds the pages of one query: a service that keeps returning
// a next-page token must not make a collection run (and bill) forever.
const maxPages = 200

// Collector reads one costexplorer source.
type Collector struct {
	src    *config.Source
	opts   *config.CostExplorerOptions
	client *ce.Client
	now    func() time.Time
	logger *slog.Logger
}

// New builds the collector of src. It loads the AWS configuration (no
// request is made) so that a source without a usable configuration fails
// at start.
func New(src *config.Source, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	o := src.CostExplorer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: o.Region, Profile: o.Profile, Endpoint: o.Endpoint})
	if err != nil {
		return nil, err
	}
	return &Collector{src: src, opts: o, client: ce.NewFromConfig(cfg), now: now, logger: logger}, nil
}

// Operations implements collectors.OperationDeclarer.
func (c *Collector) Operations() []string { return []string{Operation} }

// MinCalls implements collectors.CallEstimator: one request per query,
// more when an answer has several pages.
func (c *Collector) MinCalls() map[string]int {
	start, end := Period(c.now(), c.opts)
	return map[string]int{Operation: len(queries(c.opts, start, end))}
}

// Period returns the time period a collection at now asks for: whole UTC
// days up to and excluding today (Cost Explorer's end date is exclusive,
// and today's costs are still arriving), from lookback before; MONTHLY
// starts at the first day of the month the lookback reaches.
func Period(now time.Time, o *config.CostExplorerOptions) (start, end time.Time) {
	end = now.UTC().Truncate(24 * time.Hour)
	start = end.Add(-o.Lookback.D()).Truncate(24 * time.Hour)
	if o.Granularity == config.GranularityMonthly {
		start = time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return start, end
}

// query is one GetCostAndUsage query of a collection.
type query struct {
	in *ce.GetCostAndUsageInput
	// service is the service a per-service query filters on; empty when
	// the service is a group key.
	service string
}

// queries returns the queries of a collection over [start, end).
func queries(o *config.CostExplorerOptions, start, end time.Time) []query {
	base := func() *ce.GetCostAndUsageInput {
		return &ce.GetCostAndUsageInput{
			Granularity: types.Granularity(o.Granularity),
			Metrics:     append([]string(nil), o.Metrics...),
			TimePeriod:  &types.DateInterval{Start: aws.String(start.Format(time.DateOnly)), End: aws.String(end.Format(time.DateOnly))},
		}
	}
	if o.GroupByTag == "" {
		in := base()
		in.Filter = &types.Expression{Dimensions: &types.DimensionValues{Key: types.DimensionService, Values: append([]string(nil), o.Services...)}}
		in.GroupBy = []types.GroupDefinition{
			{Type: types.GroupDefinitionTypeDimension, Key: aws.String(string(types.DimensionService))},
			{Type: types.GroupDefinitionTypeDimension, Key: aws.String(string(types.DimensionUsageType))},
		}
		return []query{{in: in}}
	}
	// Cost Explorer groups by two keys at most: with a tag, the service
	// becomes a filter, one query each.
	var qs []query
	for _, svc := range o.Services {
		in := base()
		in.Filter = &types.Expression{Dimensions: &types.DimensionValues{Key: types.DimensionService, Values: []string{svc}}}
		in.GroupBy = []types.GroupDefinition{
			{Type: types.GroupDefinitionTypeDimension, Key: aws.String(string(types.DimensionUsageType))},
			{Type: types.GroupDefinitionTypeTag, Key: aws.String(o.GroupByTag)},
		}
		qs = append(qs, query{in: in, service: svc})
	}
	return qs
}

// Collect reads the costs of the lookback period.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	start, end := Period(c.now(), c.opts)
	if !start.Before(end) {
		return &model.Catalog{}, nil
	}
	cat := &model.Catalog{}
	for _, q := range queries(c.opts, start, end) {
		var token *string
		seen := map[string]bool{}
		for page := 1; ; page++ {
			if page > maxPages {
				return nil, runx.Errorf(runx.KindLimit, "source %s: GetCostAndUsage returned more than %d pages; narrow the lookback or the services", c.src.Name, maxPages)
			}
			q.in.NextPageToken = token
			out, err := c.client.GetCostAndUsage(ctx, q.in)
			if err != nil {
				return nil, awsclient.Error(c.src.Name, fmt.Sprintf("GetCostAndUsage page %d", page), err)
			}
			lines, err := Lines(c.src, c.opts, q.service, out)
			if err != nil {
				return nil, err
			}
			cat.CostLines = append(cat.CostLines, lines...)
			token = out.NextPageToken
			if token == nil || *token == "" {
				break
			}
			if seen[*token] {
				return nil, runx.Errorf(runx.KindParse, "source %s: GetCostAndUsage returned the same next-page token twice", c.src.Name)
			}
			seen[*token] = true
		}
	}
	return cat, nil
}

// Lines normalises one GetCostAndUsage answer into cost lines: one per
// period and group. service is the service a per-service query filtered
// on, or empty when the service is the first group key. UnblendedCost is
// the billed cost, and the list cost too, Cost Explorer having no list
// price; AmortizedCost the effective cost (the unblended cost when not
// read); UsageQuantity the quantity and its unit.
func Lines(src *config.Source, o *config.CostExplorerOptions, service string, out *ce.GetCostAndUsageOutput) ([]model.CostLine, error) {
	var lines []model.CostLine
	for _, r := range out.ResultsByTime {
		if r.TimePeriod == nil {
			return nil, runx.ParseError(fmt.Errorf("source %s: a result without a time period", src.Name))
		}
		ps, err := time.Parse(time.DateOnly, aws.ToString(r.TimePeriod.Start))
		if err != nil {
			return nil, runx.ParseError(fmt.Errorf("source %s: time period start: %w", src.Name, err))
		}
		pe, err := time.Parse(time.DateOnly, aws.ToString(r.TimePeriod.End))
		if err != nil {
			return nil, runx.ParseError(fmt.Errorf("source %s: time period end: %w", src.Name, err))
		}
		for _, g := range r.Groups {
			l := model.CostLine{
				Source: src.Name, Format: "costexplorer", Provider: "AWS",
				PeriodStart: ps, PeriodEnd: pe, Service: service,
				Env: src.Env, Dataset: src.Dataset,
			}
			switch {
			case o.GroupByTag == "" && len(g.Keys) == 2:
				l.Service, l.UsageType = g.Keys[0], g.Keys[1]
			case o.GroupByTag != "" && len(g.Keys) == 2:
				l.UsageType = g.Keys[0]
				// A tag group key is "key$value"; "key$" is the group of
				// resources without the tag.
				if _, v, ok := strings.Cut(g.Keys[1], "$"); ok && v != "" {
					l.Tags = map[string]string{o.GroupByTag: v}
				}
			default:
				return nil, runx.ParseError(fmt.Errorf("source %s: a group with %d keys, want 2", src.Name, len(g.Keys)))
			}
			l.Category, l.StorageClass, l.Region = Classify(l.Service, l.UsageType)
			unblended, ok := g.Metrics["UnblendedCost"]
			if !ok {
				return nil, runx.ParseError(fmt.Errorf("source %s: group %s of %s has no UnblendedCost", src.Name, strings.Join(g.Keys, "/"), ps.Format(time.DateOnly)))
			}
			if l.BilledCost, err = amount(unblended); err != nil {
				return nil, runx.ParseError(fmt.Errorf("source %s: UnblendedCost of %s: %w", src.Name, l.UsageType, err))
			}
			l.ListCost, l.EffectiveCost, l.Currency = l.BilledCost, l.BilledCost, aws.ToString(unblended.Unit)
			if m, ok := g.Metrics["AmortizedCost"]; ok {
				if l.EffectiveCost, err = amount(m); err != nil {
					return nil, runx.ParseError(fmt.Errorf("source %s: AmortizedCost of %s: %w", src.Name, l.UsageType, err))
				}
			}
			if m, ok := g.Metrics["UsageQuantity"]; ok {
				if l.Quantity, err = amount(m); err != nil {
					return nil, runx.ParseError(fmt.Errorf("source %s: UsageQuantity of %s: %w", src.Name, l.UsageType, err))
				}
				if u := aws.ToString(m.Unit); u != "N/A" {
					l.Unit = u
				}
			}
			l.LineID = lineID(&l, o.GroupByTag)
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// lineID identifies a line within the source: its period and group. The
// amounts of a period still open (Cost Explorer marks it Estimated) change
// from one collection to the next under the same id.
func lineID(l *model.CostLine, tag string) string {
	id := l.PeriodStart.Format(time.DateOnly) + "/" + l.PeriodEnd.Format(time.DateOnly) + "/" + l.Service + "/" + l.UsageType
	if tag != "" {
		id += "/" + tag + "=" + l.Tags[tag]
	}
	return id
}

func amount(m types.MetricValue) (float64, error) {
	s := aws.ToString(m.Amount)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("amount %q is not a number", s)
	}
	return v, nil
}
