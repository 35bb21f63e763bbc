// Package s3requests collects the request counts of S3 buckets from their
// CloudWatch request metrics (namespace AWS/S3: AllRequests, GetRequests,
// PutRequests, ...) through GetMetricData, and prices them with the price
// table.
//
// S3 publishes request metrics only for buckets with a request metrics
// configuration (a filter, "EntireBucket" for the whole bucket), per
// minute. A collection asks for the sum of each configured metric per
// period (default a day) over the last complete periods, so that a
// re-collection reads the same counts again and the history adds nothing.
// CloudWatch bills GetMetricData per metric requested (USD 0.01 per 1,000):
// one query is one bucket and metric, and up to 500 go in one request.
package s3requests

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cw "github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/restorable/restorable/internal/awsclient"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/prices"
	"github.com/restorable/restorable/internal/runx"
)

// Operation is the one operation a collection calls, as it is counted.
var Operation = awsclient.Operation("CloudWatch", "GetMetricData")

// Origin is the origin of the request counts this source reports.
const Origin = "cloudwatch"

// maxQueries is the most metric queries one GetMetricData request takes.
const maxQueries = 500

// maxPages bounds the pages of one request's queries.
const maxPages = 100

// Collector reads one s3requests source.
type Collector struct {
	src    *config.Source
	opts   *config.S3RequestsOptions
	prices *prices.Table
	client *cw.Client
	now    func() time.Time
	logger *slog.Logger
}

// New builds the collector of src; table prices the requests (the
// built-in table when nil). It loads
// the AWS configuration (no request is made) so that a source without a
// usable configuration (no region) fails at start.
func New(src *config.Source, table *prices.Table, logger *slog.Logger, now func() time.Time) (*Collector, error) {
	o := src.S3Requests
	if table == nil {
		table = prices.Default()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsclient.Load(ctx, awsclient.Options{Region: o.Region, Profile: o.Profile, Endpoint: o.Endpoint})
	if err != nil {
		return nil, err
	}
	return &Collector{src: src, opts: o, prices: table, client: cw.NewFromConfig(cfg), now: now, logger: logger}, nil
}

// Operations implements collectors.OperationDeclarer.
func (c *Collector) Operations() []string { return []string{Operation} }

// UnitsPerCall implements collectors.UnitDeclarer: each GetMetricData
// request asks for the metrics of its batch of queries, and is billed for
// each. Batches are as even as maxQueries allows, so this is the metrics
// of an average request.
func (c *Collector) UnitsPerCall() map[string]float64 {
	n := len(c.opts.Buckets) * len(c.opts.Metrics)
	batches := (n + maxQueries - 1) / maxQueries
	return map[string]float64{Operation: float64(n) / float64(max(batches, 1))}
}

// MinCalls implements collectors.CallEstimator: one request per batch of
// up to 500 queries, more when an answer has several pages.
func (c *Collector) MinCalls() map[string]int {
	n := len(c.opts.Buckets) * len(c.opts.Metrics)
	return map[string]int{Operation: (n + maxQueries - 1) / maxQueries}
}

// Window returns the periods a collection at now reads: the complete
// periods of the lookback, [start, end), aligned to the period.
func Window(now time.Time, o *config.S3RequestsOptions) (start, end time.Time) {
	p := o.Period.D()
	end = now.UTC().Truncate(p)
	n := max(1, int64(o.Lookback.D()/p))
	return end.Add(-time.Duration(n) * p), end
}

// series is one query: a metric of a bucket.
type series struct {
	id     string
	bucket config.S3RequestBucket
	metric string
}

func (c *Collector) series() []series {
	var out []series
	for _, b := range c.opts.Buckets {
		for _, m := range c.opts.Metrics {
			out = append(out, series{id: fmt.Sprintf("q%d", len(out)), bucket: b, metric: m})
		}
	}
	return out
}

// Collect reads the request counts of the window.
func (c *Collector) Collect(ctx context.Context) (*model.Catalog, error) {
	start, end := Window(c.now(), c.opts)
	all := c.series()
	cat := &model.Catalog{}
	for lo := 0; lo < len(all); lo += maxQueries {
		batch := all[lo:min(lo+maxQueries, len(all))]
		points, err := c.fetch(ctx, batch, start, end)
		if err != nil {
			return nil, err
		}
		for _, s := range batch {
			cat.Requests = append(cat.Requests, c.counts(s, points[s.id])...)
		}
	}
	return cat, nil
}

// point is one datapoint of a query.
type point struct {
	at    time.Time
	value float64
}

// fetch runs one batch of queries, following NextToken, and returns the
// datapoints of each query id.
func (c *Collector) fetch(ctx context.Context, batch []series, start, end time.Time) (map[string][]point, error) {
	queries := make([]types.MetricDataQuery, len(batch))
	period := int32(c.opts.Period.D() / time.Second)
	for i, s := range batch {
		queries[i] = types.MetricDataQuery{
			Id: aws.String(s.id),
			MetricStat: &types.MetricStat{
				Metric: &types.Metric{
					Namespace:  aws.String("AWS/S3"),
					MetricName: aws.String(s.metric),
					Dimensions: []types.Dimension{
						{Name: aws.String("BucketName"), Value: aws.String(s.bucket.Name)},
						{Name: aws.String("FilterId"), Value: aws.String(s.bucket.FilterID)},
					},
				},
				Period: aws.Int32(period),
				Stat:   aws.String("Sum"),
				Unit:   types.StandardUnitCount,
			},
			ReturnData: aws.Bool(true),
		}
	}
	in := &cw.GetMetricDataInput{
		StartTime: aws.Time(start), EndTime: aws.Time(end),
		MetricDataQueries: queries, ScanBy: types.ScanByTimestampAscending,
	}
	known := map[string]bool{}
	for _, s := range batch {
		known[s.id] = true
	}
	out := map[string][]point{}
	seen := map[string]bool{}
	for page := 1; ; page++ {
		if page > maxPages {
			return nil, runx.Errorf(runx.KindLimit, "source %s: GetMetricData returned more than %d pages", c.src.Name, maxPages)
		}
		resp, err := c.client.GetMetricData(ctx, in)
		if err != nil {
			return nil, awsclient.Error(c.src.Name, fmt.Sprintf("GetMetricData page %d", page), err)
		}
		for _, r := range resp.MetricDataResults {
			id := aws.ToString(r.Id)
			if !known[id] {
				return nil, runx.ParseError(fmt.Errorf("source %s: GetMetricData answered query %q, which was not asked", c.src.Name, id))
			}
			switch r.StatusCode {
			case types.StatusCodeComplete, types.StatusCodePartialData, "":
			default:
				return nil, runx.Errorf(runx.KindIO, "source %s: GetMetricData query %s: status %s%s", c.src.Name, id, r.StatusCode, messages(r.Messages))
			}
			if len(r.Timestamps) != len(r.Values) {
				return nil, runx.ParseError(fmt.Errorf("source %s: GetMetricData query %s: %d timestamps but %d values", c.src.Name, id, len(r.Timestamps), len(r.Values)))
			}
			for i, at := range r.Timestamps {
				out[id] = append(out[id], point{at: at.UTC(), value: r.Values[i]})
			}
		}
		tok := aws.ToString(resp.NextToken)
		if tok == "" {
			return out, nil
		}
		if seen[tok] {
			return nil, runx.Errorf(runx.KindParse, "source %s: GetMetricData returned the same NextToken twice", c.src.Name)
		}
		seen[tok] = true
		in.NextToken = aws.String(tok)
	}
}

func messages(ms []types.MessageData) string {
	s := ""
	for _, m := range ms {
		s += fmt.Sprintf("; %s: %s", aws.ToString(m.Code), aws.ToString(m.Value))
	}
	return s
}

// counts turns the datapoints of one query into request counts, one per
// period, each priced by the price table at the bucket's storage class.
// A period without a datapoint has no count: CloudWatch leaves out periods
// without requests and periods before the filter existed alike.
func (c *Collector) counts(s series, points []point) []model.RequestCount {
	resource := s.bucket.Name
	if s.bucket.FilterID != config.DefaultS3RequestsFilterID {
		resource += "/" + s.bucket.FilterID
	}
	var out []model.RequestCount
	for _, p := range points {
		if math.IsNaN(p.value) || p.value < 0 {
			continue
		}
		r := model.RequestCount{
			Origin: Origin, Source: c.src.Name,
			Env:      cmp.Or(s.bucket.Env, c.src.Env),
			Dataset:  cmp.Or(s.bucket.Dataset, c.src.Dataset, s.bucket.Name),
			Resource: resource, Operation: s.metric,
			PeriodStart: p.at, PeriodEnd: p.at.Add(c.opts.Period.D()), Count: p.value,
		}
		if cost, ok := c.prices.RequestCost(s.bucket.StorageClass, s.metric, p.value); ok {
			r.Cost, r.Currency, r.CostKnown, r.CostEstimated = cost, c.prices.Currency, true, true
		}
		out = append(out, r)
	}
	return out
}
