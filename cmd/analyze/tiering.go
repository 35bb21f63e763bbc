package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
)

// Billing conventions of the cost model: a month is 30 days, a GB is 2^30
// bytes (as AWS bills GB-months).
const (
	daysPerMonth = 30.0
	bytesPerGB   = 1 << 30
)

type tieringOptions struct {
	env        string
	at         string
	prices     string
	minAge     string
	horizon    string
	objectSize int64
	by         string
	format     string
	billed     bool
}

func tieringCommand(app *kingpin.Application, g *globals) subcommand {
	o := &tieringOptions{}
	c := app.Command("tiering", "List retained backups that could move to a colder storage class, with what moving saves net of minimum storage durations, early-delete fees, transition requests and per-object overhead.")
	c.Flag("env", "Only this environment.").StringVar(&o.env)
	c.Flag("at", "Advise on the state the history records at this time.").Default("now").StringVar(&o.at)
	c.Flag("prices", "Price table (YAML or JSON) replacing the built-in one (see docs/analyze.md).").PlaceHolder("FILE").StringVar(&o.prices)
	c.Flag("min-age", "Only backups at least this old (default: the environment's archive_after, 90d).").StringVar(&o.minAge)
	c.Flag("horizon", "Period savings are counted over when a backup's expiry is unknown (no retention.max_age).").Default("365d").StringVar(&o.horizon)
	c.Flag("object-size", "Typical object size on storage in bytes (restic packs, pgBackRest bundles), to count objects for per-object costs.").Default(strconv.Itoa(16 << 20)).Int64Var(&o.objectSize)
	c.Flag("billed-prices", "Use the storage rates the bills charged (cost_lines of the 90 days before --at) in place of the price table's, for the classes the bills price.").Default("true").BoolVar(&o.billed)
	enumFlag(c.Flag("by", "One row per dataset and transition, or per backup.").Default("dataset"), &o.by, "dataset", "backup")
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown")
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runTiering(ctx, g, o) }}
}

// move is the advice for one backup: the cheapest way to keep it until it
// expires.
type move struct {
	Env          string    `json:"env"`
	Source       string    `json:"source"`
	Dataset      string    `json:"dataset"`
	Backup       string    `json:"backup,omitempty"`
	Backups      int       `json:"backups"`
	End          time.Time `json:"end,omitzero"`
	From         string    `json:"from"`
	To           string    `json:"to"`
	StoredBytes  int64     `json:"stored_bytes"`
	Objects      int64     `json:"objects"`
	PeriodDays   float64   `json:"period_days"`
	ExpiryKnown  bool      `json:"expiry_known"`
	MonthlyFrom  float64   `json:"monthly_cost_from"`
	MonthlyTo    float64   `json:"monthly_cost_to"`
	Transition   float64   `json:"transition_cost"`
	EarlyDelete  float64   `json:"early_delete_fee"`
	Net          float64   `json:"net_saving"`
	MonthlyNet   float64   `json:"monthly_net_saving"`
	RestoreHours float64   `json:"restore_hours,omitempty"`
	OverRTO      bool      `json:"restore_over_rto,omitempty"`
}

func runTiering(ctx context.Context, g *globals, o *tieringOptions) (int, error) {
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	if cfg == nil {
		// Without a configuration every environment has the defaults:
		// archive_after 90d and no known expiry.
		cfg = &config.Config{Environments: map[string]*config.Environment{}}
	}
	prices, err := loadPrices(o.prices)
	if err != nil {
		return exitError, err
	}
	at, err := parseTime(o.at, g.now())
	if err != nil {
		return exitError, fmt.Errorf("--at: %w", err)
	}
	horizon, err := config.ParseDuration(o.horizon)
	if err != nil || horizon <= 0 {
		return exitError, fmt.Errorf("--horizon: %q is not a positive duration", o.horizon)
	}
	var minAge time.Duration
	if o.minAge != "" {
		if minAge, err = config.ParseDuration(o.minAge); err != nil {
			return exitError, fmt.Errorf("--min-age: %w", err)
		}
	}
	if o.objectSize <= 0 {
		return exitError, fmt.Errorf("--object-size: must be positive")
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	if err := db.Require(duck.TableBackups); err != nil {
		return exitError, err
	}
	if o.billed {
		if err := useBilledRates(ctx, db, prices, at); err != nil {
			return exitError, err
		}
	}
	if err := db.BuildState(ctx, at); err != nil {
		return exitError, err
	}
	adv := advisor{prices: prices, at: at, horizon: horizon, minAge: minAge, objectSize: o.objectSize, cfg: cfg}
	var moves []move
	err = db.EachSeries(ctx, func(bs []model.Backup) error {
		if o.env != "" && bs[0].Env != o.env {
			return nil
		}
		moves = append(moves, adv.series(bs)...)
		return nil
	})
	if err != nil {
		return exitError, err
	}
	if o.by == "dataset" {
		moves = byDataset(moves)
	}
	slices.SortStableFunc(moves, func(a, b move) int { return cmp.Compare(b.Net, a.Net) })
	if err := writeTiering(g, o.format, prices, at, moves); err != nil {
		return exitError, fmt.Errorf("write tiering advice: %w", err)
	}
	return exitOK, nil
}

// billedRateWindow is how far back the bills' storage rates are read.
const billedRateWindow = 90 * 24 * time.Hour

// useBilledRates replaces the storage price of each class the bills of
// the window before at charged for by the billed rate (billed cost per
// GB-month), and says so in the table's source.
func useBilledRates(ctx context.Context, db *duck.DB, prices *priceTable, at time.Time) error {
	rates, err := billedRates(ctx, db, at.Add(-billedRateWindow), at)
	if err != nil {
		return err
	}
	var used []string
	for class, rate := range rates {
		if name, c := prices.Class(class); c != nil {
			c.StorageGBMonth = rate
			used = append(used, fmt.Sprintf("%s %.5g", name, rate))
		}
	}
	if len(used) > 0 {
		slices.Sort(used)
		prices.Source += fmt.Sprintf("; storage per GB-month billed in the 90 days before %s (cost_lines): %s", at.Format(time.DateOnly), strings.Join(used, ", "))
	}
	return nil
}

// advisor prices moving backups between storage classes.
type advisor struct {
	prices     *priceTable
	cfg        *config.Config
	at         time.Time
	horizon    time.Duration
	minAge     time.Duration
	objectSize int64
}

// series advises on the backups of one series. The newest good backup is
// never moved: it is the one a restore needs fast.
func (a *advisor) series(bs []model.Backup) []move {
	var newest *model.Backup
	for i := range bs {
		if bs[i].Good() && (newest == nil || bs[i].End.After(newest.End)) {
			newest = &bs[i]
		}
	}
	var out []move
	for i := range bs {
		b := &bs[i]
		if !b.Good() || b == newest || b.StoredBytes <= 0 {
			continue
		}
		if m, ok := a.best(b); ok {
			out = append(out, m)
		}
	}
	return out
}

// best returns the colder class that saves most over the backup's
// remaining life, when one saves anything.
func (a *advisor) best(b *model.Backup) (move, bool) {
	fromName, from := a.prices.Class(b.StorageClass)
	if from == nil {
		return move{}, false
	}
	env := a.cfg.Environments[b.Env]
	minAge := a.minAge
	if minAge == 0 {
		minAge = config.DefaultArchiveAfter.D()
		if env != nil && env.ArchiveAfter > 0 {
			minAge = env.ArchiveAfter.D()
		}
	}
	age := a.at.Sub(b.End)
	if age < minAge {
		return move{}, false
	}
	// The period the move pays off in: until the backup expires when the
	// retention says when, else the horizon.
	period, known := a.horizon.Hours()/24, false
	if env != nil && env.Retention.MaxAge > 0 {
		period = math.Max(0, (env.Retention.MaxAge.D()-age).Hours()/24)
		known = true
	}
	objects := int64(math.Ceil(float64(b.StoredBytes) / float64(a.objectSize)))
	ageDays := age.Hours() / 24
	var best move
	found := false
	for _, toName := range sortedClasses(a.prices) {
		to := a.prices.Classes[toName]
		if to.StorageGBMonth >= from.StorageGBMonth || toName == fromName {
			continue
		}
		m := move{
			Env: b.Env, Source: b.Source, Dataset: b.Dataset, Backup: b.ID, Backups: 1, End: b.End,
			From: fromName, To: toName, StoredBytes: b.StoredBytes, Objects: objects,
			PeriodDays: period, ExpiryKnown: known, RestoreHours: to.RestoreHours,
		}
		m.MonthlyFrom = a.monthlyCost(from, b.StoredBytes, objects)
		m.MonthlyTo = a.monthlyCost(to, b.StoredBytes, objects)
		m.Transition = float64(objects) / 1000 * to.TransitionPer1000
		// Leaving the current class before its minimum duration is billed
		// as if the backup had stayed; so is expiring in the new class
		// before its minimum.
		if rest := from.MinStorageDays - ageDays; rest > 0 {
			m.EarlyDelete += m.MonthlyFrom * rest / daysPerMonth
		}
		if known && period < to.MinStorageDays {
			m.EarlyDelete += m.MonthlyTo * (to.MinStorageDays - period) / daysPerMonth
		}
		m.Net = (m.MonthlyFrom-m.MonthlyTo)*period/daysPerMonth - m.Transition - m.EarlyDelete
		if period > 0 {
			m.MonthlyNet = m.Net / (period / daysPerMonth)
		}
		if env != nil && env.RTO > 0 && to.RestoreHours > env.RTO.D().Hours() {
			m.OverRTO = true
		}
		if m.Net > 0 && (!found || m.Net > best.Net) {
			best, found = m, true
		}
	}
	return best, found
}

// monthlyCost is what keeping a backup in a class costs a month: its
// bytes (each object billed at least at the class's minimum size) and the
// per-object overhead, part of it at the standard class's rate.
func (a *advisor) monthlyCost(c *classPrice, stored, objects int64) float64 {
	billed := math.Max(float64(stored), float64(objects)*c.MinObjectBytes)
	cost := billed / bytesPerGB * c.StorageGBMonth
	cost += float64(objects) * c.OverheadBytes / bytesPerGB * c.StorageGBMonth
	if std := a.prices.Classes[a.prices.StandardClass]; std != nil {
		cost += float64(objects) * c.OverheadStandardBytes / bytesPerGB * std.StorageGBMonth
	}
	return cost
}

func sortedClasses(p *priceTable) []string {
	names := make([]string, 0, len(p.Classes))
	for n := range p.Classes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// byDataset sums the moves of each dataset and transition.
func byDataset(moves []move) []move {
	type key struct{ env, source, dataset, from, to string }
	idx := map[key]int{}
	var out []move
	for _, m := range moves {
		k := key{m.Env, m.Source, m.Dataset, m.From, m.To}
		i, ok := idx[k]
		if !ok {
			m.Backup, m.End = "", time.Time{}
			idx[k] = len(out)
			out = append(out, m)
			continue
		}
		s := &out[i]
		s.Backups++
		s.StoredBytes += m.StoredBytes
		s.Objects += m.Objects
		s.MonthlyFrom += m.MonthlyFrom
		s.MonthlyTo += m.MonthlyTo
		s.Transition += m.Transition
		s.EarlyDelete += m.EarlyDelete
		s.Net += m.Net
		s.MonthlyNet += m.MonthlyNet
		s.PeriodDays = math.Max(s.PeriodDays, m.PeriodDays)
		s.ExpiryKnown = s.ExpiryKnown && m.ExpiryKnown
		s.OverRTO = s.OverRTO || m.OverRTO
	}
	return out
}

func writeTiering(g *globals, format string, prices *priceTable, at time.Time, moves []move) error {
	var total move
	for _, m := range moves {
		total.Backups += m.Backups
		total.StoredBytes += m.StoredBytes
		total.MonthlyNet += m.MonthlyNet
		total.Transition += m.Transition
		total.EarlyDelete += m.EarlyDelete
		total.Net += m.Net
	}
	if format == "json" {
		if moves == nil {
			moves = []move{}
		}
		return writeJSON(g.stdout, map[string]any{
			"at": at, "prices": map[string]string{"date": prices.Date, "source": prices.Source, "currency": prices.Currency},
			"moves": moves,
			"total": map[string]any{"backups": total.Backups, "stored_bytes": total.StoredBytes, "monthly_net_saving": total.MonthlyNet,
				"transition_cost": total.Transition, "early_delete_fee": total.EarlyDelete, "net_saving": total.Net},
		})
	}
	machine := format != "table"
	t := &table{
		header: []string{"ENV", "SOURCE", "DATASET", "BACKUPS", "FROM", "TO", "STORED", "PERIOD", "MONTHLY NET", "ONE-TIME", "NET", "NOTE"},
		right:  map[int]bool{3: true, 6: true, 7: true, 8: true, 9: true, 10: true},
		// Notes wrap to narrow the table; csv and json keep them whole.
		wrap: map[int]bool{11: true},
	}
	for _, m := range moves {
		what := strconv.Itoa(m.Backups)
		if m.Backup != "" {
			what = m.Backup
		}
		stored := policy.FormatBytes(m.StoredBytes)
		period := fmt.Sprintf("%.0fd", m.PeriodDays)
		if machine {
			stored = strconv.FormatInt(m.StoredBytes, 10)
			period = strconv.FormatFloat(m.PeriodDays, 'f', 1, 64)
		}
		note := ""
		if !m.ExpiryKnown {
			note = "expiry unknown: over --horizon"
		}
		if m.OverRTO {
			note = joinNote(note, fmt.Sprintf("restore waits %.0fh, over the RTO", m.RestoreHours))
		}
		t.add(m.Env, m.Source, m.Dataset, what, m.From, m.To, stored, period,
			formatMoney(m.MonthlyNet), formatMoney(m.Transition+m.EarlyDelete), formatMoney(m.Net), note)
	}
	switch format {
	case "csv":
		t.header = []string{"env", "source", "dataset", "backups", "from", "to", "stored_bytes", "period_days", "monthly_net_saving", "one_time_cost", "net_saving", "note"}
		return t.writeCSV(g.stdout)
	case "markdown":
		if _, err := fmt.Fprintf(g.stdout, "Prices of %s (%s, %s).\n\n", prices.Date, prices.Currency, prices.Source); err != nil {
			return err
		}
		return t.writeMarkdown(g.stdout)
	}
	if len(moves) == 0 {
		_, err := fmt.Fprintf(g.stdout, "No backup would save anything by moving to a colder class at %s (prices of %s, %s).\n", at.Format(time.RFC3339), prices.Date, prices.Currency)
		return err
	}
	if err := t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout)); err != nil {
		return err
	}
	_, err := fmt.Fprintf(g.stdout, "\n%d backups, %s: %s %s a month net, %s %s over their remaining life after %s one-time costs (transitions, early deletes).\nPrices of %s in %s: %s\n",
		total.Backups, policy.FormatBytes(total.StoredBytes), formatMoney(total.MonthlyNet), prices.Currency,
		formatMoney(total.Net), prices.Currency, formatMoney(total.Transition+total.EarlyDelete), prices.Date, prices.Currency, prices.Source)
	return err
}

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
