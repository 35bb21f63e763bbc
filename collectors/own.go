package collectors

import (
	"slices"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/prices"
)

// OriginExporter is the origin of the request counts of the exporter's own
// calls.
const OriginExporter = "exporter"

// OwnRequests turns the calls one collection of src counted into request
// counts of origin exporter, one per operation over the collection's
// span, each priced by the price table when it prices the operation
// (units gives the units per call of operations billed per metric). It is
// the one place the exporter's own calls are priced: the API cost metrics
// and the history's request_counts rows both come from its records.
func OwnRequests(src *config.Source, r Run, table *prices.Table, units map[string]float64) []model.RequestCount {
	if len(r.Calls) == 0 || table == nil {
		return nil
	}
	ops := make([]string, 0, len(r.Calls))
	for op := range r.Calls {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	out := make([]model.RequestCount, 0, len(ops))
	for _, op := range ops {
		n := r.Calls[op]
		rc := model.RequestCount{
			Origin: OriginExporter, Source: r.Source, Env: src.Env, Dataset: src.Dataset, Operation: op,
			PeriodStart: r.Start.UTC(), PeriodEnd: r.Start.Add(r.Duration).UTC(), Count: float64(n),
		}
		if cost, ok := table.CallCost(op, n, units[op]); ok {
			rc.Cost, rc.Currency, rc.CostKnown, rc.CostEstimated = cost, table.Currency, true, true
		}
		out = append(out, rc)
	}
	return out
}
