package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/billing"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/policy"
)

// costViews are the parts of analyze cost, in the order the text shows
// them.
var costViews = []string{"spend", "recovery", "anomalies", "early-delete", "requests"}

type costOptions struct {
	env        string
	from, to   string
	by         string
	view       string
	format     string
	prices     string
	anomaly    float64
	anomalyMin float64
}

func costCommand(app *kingpin.Application, g *globals) subcommand {
	o := &costOptions{}
	c := app.Command("cost", "What backups cost against what they give back: billed spend by env, storage class, dataset and month with cost per GB-month stored; spend beside verified restores (cost per restore, per verified GB, success rate); month-over-month anomalies; early-delete fees; API requests and their cost by origin (S3 request metrics, the bills' request lines, the exporter's own). From the cost_lines history (billing sources, analyze import billing), the probes history and the request_counts view.")
	c.Flag("env", "Only this environment.").StringVar(&o.env)
	c.Flag("from", "Only lines whose period starts at or after this time (RFC 3339, a date, or a duration before now such as 180d).").StringVar(&o.from)
	c.Flag("to", "Only lines whose period starts before this time.").StringVar(&o.to)
	c.Flag("by", "Dimensions of the spend view, comma-separated: month, env, dataset, class, category, service.").Default("month,env,dataset,class").StringVar(&o.by)
	enumFlag(c.Flag("view", "Part to write (csv writes one part: name it).").Default("all"), &o.view, append([]string{"all"}, costViews...)...)
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv")
	c.Flag("prices", "Price table (YAML or JSON) whose minimum storage durations the early-delete view names (default: the built-in one).").PlaceHolder("FILE").StringVar(&o.prices)
	c.Flag("anomaly", "Month-over-month change of a dataset's spend in a category, as a fraction, from which it is an anomaly.").Default("0.5").Float64Var(&o.anomaly)
	c.Flag("anomaly-min", "Least change, in the bill's currency, that is an anomaly: smaller swings are noise.").Default("1").Float64Var(&o.anomalyMin)
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runCost(ctx, g, o) }}
}

// spendRow is one group of the spend view.
type spendRow struct {
	Group    map[string]string `json:"group"`
	Currency string            `json:"currency"`
	Spend    float64           `json:"spend"`
	// Storage is the spend on stored volume billed per GB-month, GBMonths
	// that volume; PerGBMonth their ratio, absent without stored volume.
	Storage    float64  `json:"storage_spend"`
	GBMonths   float64  `json:"gb_months"`
	PerGBMonth *float64 `json:"cost_per_gb_month,omitempty"`
}

// recoveryRow is the spend of one env and dataset beside its restore
// probes.
type recoveryRow struct {
	Env           string   `json:"env"`
	Dataset       string   `json:"dataset"`
	Currency      string   `json:"currency,omitempty"`
	Spend         float64  `json:"spend"`
	Runs          int64    `json:"probe_runs"`
	Restores      int64    `json:"verified_restores"`
	SuccessRate   *float64 `json:"success_rate,omitempty"`
	VerifiedBytes int64    `json:"verified_bytes"`
	PerRestore    *float64 `json:"cost_per_verified_restore,omitempty"`
	PerVerifiedGB *float64 `json:"cost_per_verified_gb,omitempty"`
}

// anomalyRow is a month whose spend moved more than the thresholds.
type anomalyRow struct {
	Month    string  `json:"month"`
	Env      string  `json:"env"`
	Dataset  string  `json:"dataset"`
	Category string  `json:"category"`
	Currency string  `json:"currency"`
	Previous float64 `json:"previous"`
	Spend    float64 `json:"spend"`
	Change   float64 `json:"change"`
}

// earlyDeleteRow is early-delete fees of a month and class.
type earlyDeleteRow struct {
	Month          string  `json:"month"`
	Env            string  `json:"env"`
	Dataset        string  `json:"dataset"`
	Class          string  `json:"storage_class"`
	Currency       string  `json:"currency"`
	Fees           float64 `json:"early_delete_fees"`
	Storage        float64 `json:"storage_spend"`
	MinStorageDays float64 `json:"min_storage_days,omitempty"`
}

// requestRow is the requests of a month, origin, env, dataset and
// operation in one currency.
type requestRow struct {
	Month     string  `json:"month"`
	Origin    string  `json:"origin"`
	Env       string  `json:"env"`
	Dataset   string  `json:"dataset"`
	Operation string  `json:"operation"`
	Requests  float64 `json:"requests"`
	// Currency is empty, and Cost absent, for requests nothing priced.
	Currency  string   `json:"currency"`
	Cost      *float64 `json:"cost,omitempty"`
	Estimated bool     `json:"cost_estimated"`
}

// costDims maps the --by dimensions to their SQL.
var costDims = map[string]string{
	"month":    "strftime(period_start, '%Y-%m')",
	"env":      "coalesce(env, '')",
	"dataset":  "coalesce(dataset, '')",
	"class":    "coalesce(storage_class, '')",
	"category": "category",
	"service":  "service",
}

func runCost(ctx context.Context, g *globals, o *costOptions) (int, error) {
	if o.format == "csv" && o.view == "all" {
		return exitError, fmt.Errorf("--format csv writes one part: pass --view %s", strings.Join(costViews, ", --view "))
	}
	var dims []string
	for _, d := range strings.Split(o.by, ",") {
		d = strings.TrimSpace(d)
		if _, ok := costDims[d]; !ok {
			return exitError, fmt.Errorf("--by: %q is not one of month, env, dataset, class, category, service", d)
		}
		if !slices.Contains(dims, d) {
			dims = append(dims, d)
		}
	}
	prices, err := loadPrices(o.prices)
	if err != nil {
		return exitError, err
	}
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	where := []string{"true"}
	var args []any
	for _, b := range []struct {
		flag, val, op string
	}{{"--from", o.from, ">="}, {"--to", o.to, "<"}} {
		if b.val == "" {
			continue
		}
		t, err := parseTime(b.val, g.now())
		if err != nil {
			return exitError, fmt.Errorf("%s: %w", b.flag, err)
		}
		where = append(where, "period_start "+b.op+" ?")
		args = append(args, t)
	}
	if o.env != "" {
		where = append(where, "env = ?")
		args = append(args, o.env)
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	if o.view == "requests" {
		if err := db.Require(duck.TableRequestCounts); err != nil {
			return exitError, fmt.Errorf("%w (collect bills, or S3 request metrics with an s3requests source)", err)
		}
	} else if err := db.Require(duck.TableCostLines); err != nil {
		return exitError, fmt.Errorf("%w (collect bills with a billing source, or analyze import billing)", err)
	}
	cond := strings.Join(where, " AND ")
	rep := costReport{Currency: "", By: dims}
	want := func(v string) bool { return o.view == "all" || o.view == v }
	if want("spend") {
		if rep.Spend, err = querySpend(ctx, db, dims, cond, args); err != nil {
			return exitError, err
		}
	}
	if want("recovery") {
		if rep.Recovery, err = queryRecovery(ctx, db, o, cond, args); err != nil {
			return exitError, err
		}
	}
	if want("anomalies") {
		if rep.Anomalies, err = queryAnomalies(ctx, db, cond, args, o.anomaly, o.anomalyMin); err != nil {
			return exitError, err
		}
	}
	if want("early-delete") {
		if rep.EarlyDelete, err = queryEarlyDelete(ctx, db, cond, args); err != nil {
			return exitError, err
		}
		for i := range rep.EarlyDelete {
			if _, c := prices.Class(rep.EarlyDelete[i].Class); c != nil {
				rep.EarlyDelete[i].MinStorageDays = c.MinStorageDays
			}
		}
	}
	if want("requests") {
		if rep.Requests, err = queryRequests(ctx, db, cond, args); err != nil {
			return exitError, err
		}
	}
	return exitOK, writeCost(g, o, &rep)
}

type costReport struct {
	Currency    string           `json:"-"`
	By          []string         `json:"by"`
	Spend       []spendRow       `json:"spend"`
	Recovery    []recoveryRow    `json:"recovery"`
	Anomalies   []anomalyRow     `json:"anomalies"`
	EarlyDelete []earlyDeleteRow `json:"early_delete"`
	Requests    []requestRow     `json:"requests"`
}

func ratio(a, b float64) *float64 {
	if b <= 0 {
		return nil
	}
	r := a / b
	return &r
}

func querySpend(ctx context.Context, db *duck.DB, dims []string, cond string, args []any) ([]spendRow, error) {
	sel := make([]string, len(dims))
	for i, d := range dims {
		sel[i] = costDims[d]
	}
	q := fmt.Sprintf(`SELECT %s, currency, sum(billed_cost),
		coalesce(sum(billed_cost) FILTER (category = 'storage' AND unit = %s), 0),
		coalesce(sum(quantity) FILTER (category = 'storage' AND unit = %s), 0)
		FROM cost_lines WHERE %s GROUP BY ALL ORDER BY ALL`,
		strings.Join(sel, ", "), sqlString(billing.UnitGBMonth), sqlString(billing.UnitGBMonth), cond)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("spend: %w", err)
	}
	defer rows.Close()
	var out []spendRow
	for rows.Next() {
		vals := make([]string, len(dims))
		dest := make([]any, 0, len(dims)+4)
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		var r spendRow
		dest = append(dest, &r.Currency, &r.Spend, &r.Storage, &r.GBMonths)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("spend: %w", err)
		}
		r.Group = map[string]string{}
		for i, d := range dims {
			r.Group[d] = vals[i]
		}
		r.PerGBMonth = ratio(r.Storage, r.GBMonths)
		out = append(out, r)
	}
	return out, rows.Err()
}

func queryRecovery(ctx context.Context, db *duck.DB, o *costOptions, cond string, args []any) ([]recoveryRow, error) {
	// Probe runs count within the same period as the lines.
	probeCond := strings.NewReplacer("period_start", "start_time").Replace(cond)
	q := fmt.Sprintf(`WITH spend AS (
			SELECT env, coalesce(dataset, '') AS dataset, currency, sum(billed_cost) AS spend
			FROM cost_lines WHERE %s AND env IS NOT NULL GROUP BY ALL
		), runs AS (
			SELECT env, dataset, count(*) AS runs, count(*) FILTER (success) AS ok,
				coalesce(sum(bytes_verified) FILTER (success), 0) AS verified
			FROM probes WHERE %s GROUP BY ALL
		)
		SELECT coalesce(s.env, r.env), coalesce(s.dataset, r.dataset), coalesce(s.currency, ''), coalesce(s.spend, 0),
			coalesce(r.runs, 0), coalesce(r.ok, 0), coalesce(r.verified, 0)
		FROM spend s FULL JOIN runs r ON s.env = r.env AND s.dataset = r.dataset
		ORDER BY 1, 2, 3`, cond, probeCond)
	rows, err := db.Query(ctx, q, append(slices.Clone(args), args...)...)
	if err != nil {
		return nil, fmt.Errorf("recovery: %w", err)
	}
	defer rows.Close()
	var out []recoveryRow
	for rows.Next() {
		var r recoveryRow
		if err := rows.Scan(&r.Env, &r.Dataset, &r.Currency, &r.Spend, &r.Runs, &r.Restores, &r.VerifiedBytes); err != nil {
			return nil, fmt.Errorf("recovery: %w", err)
		}
		r.SuccessRate = ratio(float64(r.Restores), float64(r.Runs))
		if r.Currency != "" {
			r.PerRestore = ratio(r.Spend, float64(r.Restores))
			r.PerVerifiedGB = ratio(r.Spend, float64(r.VerifiedBytes)/bytesPerGB)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func queryAnomalies(ctx context.Context, db *duck.DB, cond string, args []any, threshold, minimum float64) ([]anomalyRow, error) {
	q := fmt.Sprintf(`WITH monthly AS (
			SELECT date_trunc('month', period_start) AS m, coalesce(env, '') AS env, coalesce(dataset, '') AS dataset,
				category, currency, sum(billed_cost) AS spend
			FROM cost_lines WHERE %s GROUP BY ALL
		), keys AS (SELECT DISTINCT env, dataset, category, currency FROM monthly),
		months AS (SELECT DISTINCT m FROM monthly),
		grid AS (
			SELECT months.m, keys.*, coalesce(monthly.spend, 0) AS spend
			FROM months CROSS JOIN keys
			LEFT JOIN monthly USING (m, env, dataset, category, currency)
		), compared AS (
			SELECT *, lag(spend) OVER (PARTITION BY env, dataset, category, currency ORDER BY m) AS prev FROM grid
		)
		SELECT strftime(m, '%%Y-%%m'), env, dataset, category, currency, prev, spend FROM compared
		WHERE prev IS NOT NULL AND abs(spend - prev) >= ? AND (prev = 0 OR abs(spend - prev) / prev >= ?)
		ORDER BY 1, 2, 3, 4`, cond)
	rows, err := db.Query(ctx, q, append(slices.Clone(args), minimum, threshold)...)
	if err != nil {
		return nil, fmt.Errorf("anomalies: %w", err)
	}
	defer rows.Close()
	var out []anomalyRow
	for rows.Next() {
		var r anomalyRow
		if err := rows.Scan(&r.Month, &r.Env, &r.Dataset, &r.Category, &r.Currency, &r.Previous, &r.Spend); err != nil {
			return nil, fmt.Errorf("anomalies: %w", err)
		}
		r.Change = r.Spend - r.Previous
		out = append(out, r)
	}
	return out, rows.Err()
}

func queryEarlyDelete(ctx context.Context, db *duck.DB, cond string, args []any) ([]earlyDeleteRow, error) {
	q := fmt.Sprintf(`SELECT strftime(period_start, '%%Y-%%m'), coalesce(env, ''), coalesce(dataset, ''), coalesce(storage_class, ''), currency,
			coalesce(sum(billed_cost) FILTER (category = 'early_delete'), 0) AS fees,
			coalesce(sum(billed_cost) FILTER (category = 'storage'), 0)
		FROM cost_lines WHERE %s GROUP BY ALL HAVING fees <> 0 ORDER BY 1, 2, 3, 4`, cond)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("early deletes: %w", err)
	}
	defer rows.Close()
	var out []earlyDeleteRow
	for rows.Next() {
		var r earlyDeleteRow
		if err := rows.Scan(&r.Month, &r.Env, &r.Dataset, &r.Class, &r.Currency, &r.Fees, &r.Storage); err != nil {
			return nil, fmt.Errorf("early deletes: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// queryRequests sums the request_counts view (the newest row of each
// counted period) by month, origin, env, dataset, operation and currency.
// A period's cost is estimated for every origin but bill, so a group's
// cost is estimated when any of its rows' is.
func queryRequests(ctx context.Context, db *duck.DB, cond string, args []any) ([]requestRow, error) {
	q := fmt.Sprintf(`WITH latest AS (
			SELECT * FROM request_counts WHERE %s
			QUALIFY row_number() OVER (PARTITION BY origin, source, env, dataset, resource, operation, period_start, period_end ORDER BY collected_at DESC) = 1
		)
		SELECT strftime(period_start, '%%Y-%%m'), origin, coalesce(env, ''), coalesce(dataset, ''), operation, coalesce(currency, ''),
			sum(count), sum(cost), coalesce(bool_or(cost_estimated), false)
		FROM latest GROUP BY ALL ORDER BY 1, 2, 3, 4, 5, 6`, cond)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer rows.Close()
	var out []requestRow
	for rows.Next() {
		var r requestRow
		var cost sql.NullFloat64
		if err := rows.Scan(&r.Month, &r.Origin, &r.Env, &r.Dataset, &r.Operation, &r.Currency, &r.Requests, &cost, &r.Estimated); err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
		if cost.Valid && r.Currency != "" {
			r.Cost = &cost.Float64
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func sqlString(s string) string { return billing.SQLString(s) }

// money writes an amount with its currency's two decimals, or, for the
// fractions of a cent bills are full of, as many as three significant
// digits need, in plain decimals (0.0000648, never 6.48e-05).
func money(v float64) string {
	switch a := math.Abs(v); {
	case a == 0:
		return "0.00"
	case a < 0.01:
		s := strconv.FormatFloat(v, 'f', 2-int(math.Floor(math.Log10(a))), 64)
		return strings.TrimRight(s, "0")
	}
	return formatMoney(v)
}

func optMoney(v *float64) string {
	if v == nil {
		return "-"
	}
	return money(*v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeCost(g *globals, o *costOptions, rep *costReport) error {
	if o.format == "json" {
		for _, s := range []*[]spendRow{&rep.Spend} {
			if *s == nil {
				*s = []spendRow{}
			}
		}
		if rep.Recovery == nil {
			rep.Recovery = []recoveryRow{}
		}
		if rep.Anomalies == nil {
			rep.Anomalies = []anomalyRow{}
		}
		if rep.EarlyDelete == nil {
			rep.EarlyDelete = []earlyDeleteRow{}
		}
		if rep.Requests == nil {
			rep.Requests = []requestRow{}
		}
		return writeJSON(g.stdout, rep)
	}
	machine := o.format == "csv"
	var parts []func() (string, *table)
	want := func(v string) bool { return o.view == "all" || o.view == v }
	if want("spend") {
		parts = append(parts, func() (string, *table) { return "Spend (billed)", spendTable(rep, machine) })
	}
	if want("recovery") {
		parts = append(parts, func() (string, *table) { return "Spend beside verified restores", recoveryTable(rep, machine) })
	}
	if want("anomalies") {
		parts = append(parts, func() (string, *table) {
			return fmt.Sprintf("Month-over-month changes of at least %.0f%% and %s", o.anomaly*100, money(o.anomalyMin)), anomalyTable(rep, machine)
		})
	}
	if want("early-delete") {
		parts = append(parts, func() (string, *table) {
			return "Early-delete fees (data moved or deleted before its class's minimum duration)", earlyDeleteTable(rep, machine)
		})
	}
	if want("requests") {
		parts = append(parts, func() (string, *table) {
			return "API requests (~: cost estimated from the price table; the bills' is billed)", requestTable(rep, machine)
		})
	}
	for i, p := range parts {
		title, t := p()
		if machine {
			return t.writeCSV(g.stdout)
		}
		if i > 0 {
			if _, err := fmt.Fprintln(g.stdout); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(g.stdout, title); err != nil {
			return err
		}
		if len(t.rows) == 0 {
			if _, err := fmt.Fprintln(g.stdout, "  none"); err != nil {
				return err
			}
			continue
		}
		if err := t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout)); err != nil {
			return err
		}
	}
	return nil
}

// datasetMinWrap is the narrowest a dataset column of analyze cost gets:
// dataset names (LeadConceptInfinity) have no blanks to wrap at.
const datasetMinWrap = 8

func spendTable(rep *costReport, machine bool) *table {
	// Dataset names are the one free-form text: they wrap rather than
	// push the table past the terminal's width.
	t := &table{right: map[int]bool{}, wrap: map[int]bool{}, minWrap: datasetMinWrap}
	for i, d := range rep.By {
		t.header = append(t.header, strings.ToUpper(d))
		t.wrap[i] = d == "dataset"
	}
	n := len(rep.By)
	t.header = append(t.header, "CUR", "SPEND", "GB-MONTHS", "PER GB-MO")
	for i := n + 1; i < n+4; i++ {
		t.right[i] = true
	}
	for _, r := range rep.Spend {
		var cells []string
		for _, d := range rep.By {
			if machine {
				cells = append(cells, r.Group[d])
			} else {
				cells = append(cells, dash(r.Group[d]))
			}
		}
		gbm := strconv.FormatFloat(r.GBMonths, 'f', 2, 64)
		if machine {
			per := ""
			if r.PerGBMonth != nil {
				per = strconv.FormatFloat(*r.PerGBMonth, 'g', -1, 64)
			}
			cells = append(cells, r.Currency, strconv.FormatFloat(r.Spend, 'g', -1, 64), strconv.FormatFloat(r.GBMonths, 'g', -1, 64), per)
		} else {
			per := "-"
			if r.PerGBMonth != nil {
				per = strconv.FormatFloat(*r.PerGBMonth, 'g', 3, 64)
			}
			cells = append(cells, r.Currency, money(r.Spend), gbm, per)
		}
		t.add(cells...)
	}
	if machine {
		for i := range t.header {
			t.header[i] = strings.ToLower(strings.ReplaceAll(t.header[i], " ", "_"))
		}
		t.header[n], t.header[n+1], t.header[n+2], t.header[n+3] = "currency", "spend", "gb_months", "cost_per_gb_month"
	}
	return t
}

func recoveryTable(rep *costReport, machine bool) *table {
	t := &table{
		header: []string{"ENV", "DATASET", "SPEND", "OK/RUNS", "OK %", "PER OK", "VERIFIED", "PER GB"},
		right:  map[int]bool{2: true, 3: true, 4: true, 5: true, 6: true, 7: true},
		wrap:   map[int]bool{1: true}, minWrap: datasetMinWrap,
	}
	for _, r := range rep.Recovery {
		if machine {
			f := func(p *float64) string {
				if p == nil {
					return ""
				}
				return strconv.FormatFloat(*p, 'g', -1, 64)
			}
			t.add(r.Env, r.Dataset, r.Currency, strconv.FormatFloat(r.Spend, 'g', -1, 64), strconv.FormatInt(r.Runs, 10),
				strconv.FormatInt(r.Restores, 10), f(r.SuccessRate), f(r.PerRestore), strconv.FormatInt(r.VerifiedBytes, 10), f(r.PerVerifiedGB))
			continue
		}
		rate := "-"
		if r.SuccessRate != nil {
			rate = fmt.Sprintf("%.0f%%", *r.SuccessRate*100)
		}
		spend := "-"
		if r.Currency != "" {
			spend = money(r.Spend) + " " + r.Currency
		}
		t.add(r.Env, dash(r.Dataset), spend, fmt.Sprintf("%d/%d", r.Restores, r.Runs), rate, optMoney(r.PerRestore),
			policy.FormatBytes(r.VerifiedBytes), optMoney(r.PerVerifiedGB))
	}
	if machine {
		t.header = []string{"env", "dataset", "currency", "spend", "probe_runs", "verified_restores", "success_rate", "cost_per_verified_restore", "verified_bytes", "cost_per_verified_gb"}
	}
	return t
}

func anomalyTable(rep *costReport, machine bool) *table {
	t := &table{
		header: []string{"MONTH", "ENV", "DATASET", "CATEGORY", "CUR", "BEFORE", "SPEND", "CHANGE"},
		right:  map[int]bool{5: true, 6: true, 7: true},
		wrap:   map[int]bool{2: true}, minWrap: datasetMinWrap,
	}
	for _, r := range rep.Anomalies {
		if machine {
			t.add(r.Month, r.Env, r.Dataset, r.Category, r.Currency, strconv.FormatFloat(r.Previous, 'g', -1, 64),
				strconv.FormatFloat(r.Spend, 'g', -1, 64), strconv.FormatFloat(r.Change, 'g', -1, 64))
			continue
		}
		change := "new"
		if r.Previous != 0 {
			change = fmt.Sprintf("%+.0f%%", r.Change/r.Previous*100)
		}
		t.add(r.Month, dash(r.Env), dash(r.Dataset), r.Category, r.Currency, money(r.Previous), money(r.Spend), change)
	}
	if machine {
		t.header = []string{"month", "env", "dataset", "category", "currency", "previous", "spend", "change"}
	}
	return t
}

func earlyDeleteTable(rep *costReport, machine bool) *table {
	t := &table{
		header: []string{"MONTH", "ENV", "DATASET", "CLASS", "MIN DAYS", "CUR", "FEES", "STORAGE"},
		right:  map[int]bool{4: true, 6: true, 7: true},
		wrap:   map[int]bool{2: true}, minWrap: datasetMinWrap,
	}
	for _, r := range rep.EarlyDelete {
		days := "-"
		if r.MinStorageDays > 0 {
			days = strconv.FormatFloat(r.MinStorageDays, 'f', -1, 64)
		}
		if machine {
			t.add(r.Month, r.Env, r.Dataset, r.Class, strconv.FormatFloat(r.MinStorageDays, 'f', -1, 64), r.Currency,
				strconv.FormatFloat(r.Fees, 'g', -1, 64), strconv.FormatFloat(r.Storage, 'g', -1, 64))
			continue
		}
		t.add(r.Month, dash(r.Env), dash(r.Dataset), dash(r.Class), days, r.Currency, money(r.Fees), money(r.Storage))
	}
	if machine {
		t.header = []string{"month", "env", "dataset", "storage_class", "min_storage_days", "currency", "early_delete_fees", "storage_spend"}
	}
	return t
}

func requestTable(rep *costReport, machine bool) *table {
	t := &table{
		header: []string{"MONTH", "ORIGIN", "ENV", "DATASET", "OPERATION", "REQUESTS", "CUR", "COST"},
		right:  map[int]bool{5: true, 7: true},
		wrap:   map[int]bool{3: true, 4: true}, minWrap: datasetMinWrap,
	}
	for _, r := range rep.Requests {
		if machine {
			cost := ""
			if r.Cost != nil {
				cost = strconv.FormatFloat(*r.Cost, 'g', -1, 64)
			}
			t.add(r.Month, r.Origin, r.Env, r.Dataset, r.Operation, strconv.FormatFloat(r.Requests, 'g', -1, 64), r.Currency, cost, strconv.FormatBool(r.Estimated))
			continue
		}
		cost := "-"
		if r.Cost != nil {
			cost = money(*r.Cost)
			if r.Estimated {
				cost = "~" + cost
			}
		}
		t.add(r.Month, r.Origin, dash(r.Env), dash(r.Dataset), dash(r.Operation), strconv.FormatFloat(r.Requests, 'f', -1, 64), dash(r.Currency), cost)
	}
	if machine {
		t.header = []string{"month", "origin", "env", "dataset", "operation", "requests", "currency", "cost", "cost_estimated"}
	}
	return t
}

// billedRates returns, per storage class, what the bills charged per
// GB-month of storage over the lines of [from, to): the tiering advice's
// storage prices when a bill is present.
func billedRates(ctx context.Context, db *duck.DB, from, to time.Time) (map[string]float64, error) {
	if !db.Has(duck.TableCostLines) {
		return nil, nil
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`SELECT storage_class, sum(billed_cost) / sum(quantity)
		FROM cost_lines WHERE category = 'storage' AND unit = %s AND storage_class IS NOT NULL AND period_start >= ? AND period_start < ?
		GROUP BY ALL HAVING sum(quantity) > 0 AND sum(billed_cost) > 0`, sqlString(billing.UnitGBMonth)), from, to)
	if err != nil {
		return nil, fmt.Errorf("billed storage rates: %w", err)
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var class string
		var rate sql.NullFloat64
		if err := rows.Scan(&class, &rate); err != nil {
			return nil, err
		}
		if rate.Valid {
			out[class] = rate.Float64
		}
	}
	return out, rows.Err()
}
