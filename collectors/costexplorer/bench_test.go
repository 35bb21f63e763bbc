package costexplorer_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/restorable/restorable/collectors/costexplorer"
	"github.com/restorable/restorable/internal/config"
)

// BenchmarkLines normalises a page of 31 days × 100 usage types (3,100
// groups, about what a month of S3 and AWS Backup in a few regions gives).
func BenchmarkLines(b *testing.B) {
	o := &config.CostExplorerOptions{Granularity: config.GranularityDaily, Metrics: config.CostExplorerMetrics}
	src := &config.Source{Name: "aws-costs", Env: "prod", CostExplorer: o}
	out := &ce.GetCostAndUsageOutput{}
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	usage := []string{"TimedStorage-ByteHrs", "Requests-Tier1", "Requests-SIA-Tier2", "EarlyDelete-GDA", "DataTransfer-Out-Bytes"}
	regions := []string{"", "USW2-", "EU-", "EUC1-", "APN1-"}
	for d := range 31 {
		r := types.ResultByTime{TimePeriod: &types.DateInterval{
			Start: aws.String(day.AddDate(0, 0, d).Format(time.DateOnly)), End: aws.String(day.AddDate(0, 0, d+1).Format(time.DateOnly)),
		}}
		for i := range 100 {
			ut := fmt.Sprintf("%s%s", regions[i%len(regions)], usage[(i/len(regions))%len(usage)])
			r.Groups = append(r.Groups, types.Group{
				Keys: []string{"Amazon Simple Storage Service", fmt.Sprintf("%s-%d", ut, i)},
				Metrics: map[string]types.MetricValue{
					"UnblendedCost": {Amount: aws.String("0.7404"), Unit: aws.String("USD")},
					"AmortizedCost": {Amount: aws.String("0.7404"), Unit: aws.String("USD")},
					"UsageQuantity": {Amount: aws.String("32.19"), Unit: aws.String("GB-Mo")},
				},
			})
		}
		out.ResultsByTime = append(out.ResultsByTime, r)
	}
	b.ReportAllocs()
	for b.Loop() {
		lines, err := costexplorer.Lines(src, o, "", out)
		if err != nil || len(lines) != 3100 {
			b.Fatalf("%d lines, %v", len(lines), err)
		}
	}
}
