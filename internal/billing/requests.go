package billing

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/restorable/restorable/internal/model"
)

// OriginBill is the origin of the request counts derived from a bill's
// request lines.
const OriginBill = "bill"

// Which cost lines count requests, and how, is decided by two patterns
// (RE2, the syntax of both Go's regexp and DuckDB's regexp functions), so
// that RequestCounts and RequestCountsSQL read a line the same way.
const (
	// RequestUnitPattern matches the units of a quantity that counts
	// requests: Requests (AWS CUR, CUR 2.0, Cost Explorer, AWS FOCUS
	// exports), Request, and FOCUS's "<quantity> <units>" form (1000
	// Requests), case ignored. Its group is the quantity, empty for one.
	// Other units are not request counts, whatever the line's category:
	// Microsoft's FOCUS exports bill Blob operations in "Units" of a block
	// the line does not name (their quantities are fractions).
	RequestUnitPattern = `(?i)^\s*(?:([0-9]+)\s+)?requests?\s*$`
	// RequestOperationPattern matches an S3 request usage type with its
	// region prefix (USW2-Requests-Tier1, EU-Requests-SIA-Tier2); its group
	// is the usage type without it. A usage type it does not match is the
	// operation as it is (Requests-Tier1 of us-east-1, a FOCUS charge
	// description).
	RequestOperationPattern = `^[A-Z]{2,4}[0-9]{0,2}-(Requests-.+)$`
)

var (
	requestUnit      = regexp.MustCompile(RequestUnitPattern)
	requestOperation = regexp.MustCompile(RequestOperationPattern)
)

// RequestsOf returns the number of requests a cost line counts: its
// quantity times the quantity of its unit, for a line of category
// requests whose unit counts requests. ok is false for any other line.
func RequestsOf(l *model.CostLine) (n float64, ok bool) {
	if l.Category != model.CostRequests {
		return 0, false
	}
	per, ok := requestsPerUnit(l.Unit)
	return l.Quantity * per, ok
}

// requestsPerUnit returns the requests one of unit stands for, and false
// when unit does not count requests.
func requestsPerUnit(unit string) (float64, bool) {
	m := requestUnit.FindStringSubmatch(unit)
	if m == nil {
		return 0, false
	}
	if m[1] == "" {
		return 1, true
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// RequestOperation is the operation label of a bill's request count: the
// line's usage type without an S3 region prefix.
func RequestOperation(usageType string) string {
	if m := requestOperation.FindStringSubmatch(usageType); m != nil {
		return m[1]
	}
	return usageType
}

// RequestCounts derives the request counts of a bill's lines (origin
// bill): one per source, env, dataset, resource, operation and period,
// summing the requests (RequestsOf) and the billed cost of the lines that
// count requests. Env and dataset are the lines' attribution, empty when
// unattributed. A line id seen before is not counted again, as the
// history's cost_lines table holds each line once (ids are compared by
// their 64-bit hash, as the history's duplicate filter compares them). A count whose lines
// are billed in more than one currency has no cost (CostKnown false):
// amounts in different currencies do not add up. The cost is billed, not
// estimated. Counts are ordered by period start and end, then by their
// labels.
//
// RequestCountsSQL derives the same counts from the cost_lines table.
func RequestCounts(lines []model.CostLine) []model.RequestCount {
	type key struct {
		source, env, dataset, resource, operation string
		start, end                                time.Time
	}
	type sum struct {
		model.RequestCount
		mixed bool // billed in more than one currency
	}
	// A bill has a handful of units and usage types: each is matched
	// once. Line ids are kept as hashes, as the history's duplicate filter
	// keeps them, so that a month of a large bill costs megabytes.
	type perUnit struct {
		per float64
		ok  bool
	}
	units := map[string]perUnit{}
	ops := map[string]string{}
	seen := map[uint64]struct{}{}
	sums := map[key]*sum{}
	var order []key
	for i := range lines {
		l := &lines[i]
		if l.Category != model.CostRequests {
			continue
		}
		u, known := units[l.Unit]
		if !known {
			u.per, u.ok = requestsPerUnit(l.Unit)
			units[l.Unit] = u
		}
		if !u.ok {
			continue
		}
		if l.LineID != "" {
			h := xxhash.Sum64String(l.LineID)
			if _, dup := seen[h]; dup {
				continue
			}
			seen[h] = struct{}{}
		}
		op, known := ops[l.UsageType]
		if !known {
			op = RequestOperation(l.UsageType)
			ops[l.UsageType] = op
		}
		n := l.Quantity * u.per
		k := key{l.Source, l.Env, l.Dataset, l.Resource, op, l.PeriodStart.UTC(), l.PeriodEnd.UTC()}
		s := sums[k]
		if s == nil {
			s = &sum{RequestCount: model.RequestCount{
				Origin: OriginBill, Source: k.source, Env: k.env, Dataset: k.dataset, Resource: k.resource,
				Operation: k.operation, PeriodStart: k.start, PeriodEnd: k.end,
				Currency: l.Currency,
			}}
			sums[k] = s
			order = append(order, k)
		}
		s.Count += n
		s.Cost += l.BilledCost
		s.mixed = s.mixed || l.Currency != s.Currency
	}
	out := make([]model.RequestCount, 0, len(order))
	for _, k := range order {
		s := sums[k]
		r := s.RequestCount
		r.CostKnown = !s.mixed
		if s.mixed {
			r.Cost, r.Currency = 0, ""
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b model.RequestCount) int {
		return cmp.Or(a.PeriodStart.Compare(b.PeriodStart), a.PeriodEnd.Compare(b.PeriodEnd),
			cmp.Compare(a.Source, b.Source), cmp.Compare(a.Env, b.Env), cmp.Compare(a.Dataset, b.Dataset),
			cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Operation, b.Operation))
	})
	return out
}

// RequestCountsSQL returns a DuckDB query over from, a relation with the
// columns of the history's cost_lines table, that derives the request
// counts RequestCounts derives from the same lines, with the columns of
// the request_counts table but content_hash and dt: origin, source, env,
// dataset, resource, operation, period_start, period_end, count, cost,
// currency, cost_estimated (false) and collected_at (when the newest of
// its lines was collected). Env, dataset and resource are NULL where the
// lines have none, as in cost_lines. It relies on the table holding each
// line id once, as the history writer and the import keep it.
func RequestCountsSQL(from string) string {
	unit := "coalesce(unit, '')"
	per := fmt.Sprintf("coalesce(CAST(nullif(regexp_extract(%s, %s, 1), '') AS DOUBLE), 1)", unit, SQLString(RequestUnitPattern))
	op := fmt.Sprintf("regexp_replace(coalesce(usage_type, ''), %s, '\\1')", SQLString(RequestOperationPattern))
	single := "count(DISTINCT currency) = 1"
	cols := []string{
		SQLString(OriginBill) + " AS origin",
		"source", "env", "dataset", "resource",
		op + " AS operation",
		"period_start", "period_end",
		fmt.Sprintf("sum(quantity * %s) AS count", per),
		fmt.Sprintf("CASE WHEN %s THEN sum(billed_cost) END AS cost", single),
		fmt.Sprintf("CASE WHEN %s THEN min(currency) END AS currency", single),
		"false AS cost_estimated",
		"max(collected_at) AS collected_at",
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE category = %s AND regexp_full_match(%s, %s) GROUP BY source, env, dataset, resource, operation, period_start, period_end",
		strings.Join(cols, ", "), from, SQLString(string(model.CostRequests)), unit, SQLString(RequestUnitPattern))
}
