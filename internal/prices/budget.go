package prices

import (
	"math"
	"time"
)

// Month is the month of monthly prices and budgets: 730 hours, as AWS
// counts a month for its monthly prices.
const Month = 730 * time.Hour

// RunCost is the estimated cost of one collection's API calls: for every
// operation, calls × units per call (for an operation billed per metric)
// × the price of a unit. units gives the units per call of operations
// billed per unit other than the request. known is false when the
// collection made no call or made one the table does not price (a program
// run, an operation missing from the table): the cost is then unknown, not
// 0.
func (p *Table) RunCost(calls map[string]int, units map[string]float64) (cost float64, known bool) {
	if len(calls) == 0 {
		return 0, false
	}
	for op, n := range calls {
		c, ok := p.CallCost(op, n, units[op])
		if !ok {
			return 0, false
		}
		cost += c
	}
	return cost, true
}

// MonthlyCost is what collections costing runCost each cost in a Month when
// they run every interval: runCost × Month / interval.
func MonthlyCost(runCost float64, interval time.Duration) float64 {
	if interval <= 0 {
		return math.Inf(1)
	}
	return runCost * float64(Month) / float64(interval)
}

// RecommendedInterval is the shortest interval at which collections
// costing runCost each stay within a monthly budget:
// Month × runCost / budget, rounded up to a whole second and at least one
// second (the shortest schedule). ok is false when there is nothing to
// recommend: no budget, or collections that cost nothing.
func RecommendedInterval(runCost, monthlyBudget float64) (interval time.Duration, ok bool) {
	if !(monthlyBudget > 0) || !(runCost > 0) {
		return 0, false
	}
	secs := math.Ceil(Month.Seconds() * runCost / monthlyBudget)
	return time.Duration(max(secs, 1)) * time.Second, true
}
