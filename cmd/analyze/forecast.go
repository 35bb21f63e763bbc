package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/duck"
	"github.com/restorable/restorable/internal/policy"
)

// predictionLevel is the coverage of the prediction interval.
const predictionLevel = 0.95

// minForecastDays is the least number of days fitted before a trend is
// projected: two weeks see a weekly backup cycle twice, where a few days
// would turn one full backup into a slope and extrapolate it for months.
const minForecastDays = 14

type forecastOptions struct {
	env      string
	at       string
	horizon  string
	fit      string
	releases int
	format   string
	svg      string
}

func forecastCommand(app *kingpin.Application, g *globals) subcommand {
	o := &forecastOptions{}
	c := app.Command("forecast", "Forecast the storage each environment and storage class needs: a linear trend with a 95% prediction interval, and a release-wave model.")
	c.Flag("env", "Only this environment.").StringVar(&o.env)
	c.Flag("at", "Forecast from the history as it was at this time.").Default("now").StringVar(&o.at)
	c.Flag("horizon", "How far ahead to forecast.").Default("180d").StringVar(&o.horizon)
	c.Flag("fit", "How much history the trend is fitted to.").Default("90d").StringVar(&o.fit)
	c.Flag("releases", "Releases planned within the horizon (default: the rate observed over the fit period).").Default("-1").IntVar(&o.releases)
	enumFlag(c.Flag("format", "Output format.").Default("table"), &o.format, "table", "json", "csv", "markdown")
	c.Flag("svg", "Also draw the history and the forecast as an SVG chart into this file.").PlaceHolder("FILE").StringVar(&o.svg)
	return subcommand{clause: c, run: func(ctx context.Context, g *globals) (int, error) { return runForecast(ctx, g, o) }}
}

// forecast is the outlook of one environment and storage class.
type forecast struct {
	Env          string    `json:"env"`
	StorageClass string    `json:"storage_class"`
	Basis        string    `json:"basis"`
	Days         int64     `json:"days_fitted"`
	From         time.Time `json:"fitted_from"`
	To           time.Time `json:"fitted_to"`
	StoredBytes  float64   `json:"stored_bytes"`
	LogicalBytes float64   `json:"logical_bytes"`
	// SlopeBytesPerDay, Intercept and R2 are regr_slope, regr_intercept
	// and regr_r2 of stored bytes over days since From.
	SlopeBytesPerDay float64 `json:"slope_bytes_per_day"`
	Intercept        float64 `json:"intercept_bytes"`
	// EnoughHistory says whether Days reaches minForecastDays. Without
	// it R2, TrendBytes, TrendLow, TrendHigh and WaveBytes are null, and
	// Note says why.
	EnoughHistory bool     `json:"enough_history"`
	Note          string   `json:"note,omitempty"`
	R2            *float64 `json:"r2"`
	HorizonDays   float64  `json:"horizon_days"`
	TrendBytes    *float64 `json:"trend_bytes"`
	// TrendLow and TrendHigh bound the 95% prediction interval.
	TrendLow  *float64 `json:"trend_low_bytes"`
	TrendHigh *float64 `json:"trend_high_bytes"`

	DedupRatio       float64 `json:"dedup_ratio,omitempty"`
	CompressionRatio float64 `json:"compression_ratio,omitempty"`
	EffectiveRatio   float64 `json:"effective_ratio,omitempty"`
	// ReleasesSeen is how many releases first appeared in the fit period,
	// BytesPerRelease the mean stored bytes added per release, and
	// ReleasesPlanned how many the wave assumes.
	ReleasesSeen    int      `json:"releases_seen"`
	BytesPerRelease float64  `json:"bytes_per_release"`
	ReleasesPlanned int      `json:"releases_planned"`
	WaveBytes       *float64 `json:"wave_bytes"`

	points []duck.DailyPoint
	trend  duck.Trend
}

func runForecast(ctx context.Context, g *globals, o *forecastOptions) (int, error) {
	cfg, err := g.config()
	if err != nil {
		return exitError, err
	}
	at, err := parseTime(o.at, g.now())
	if err != nil {
		return exitError, fmt.Errorf("--at: %w", err)
	}
	horizon, err := config.ParseDuration(o.horizon)
	if err != nil || horizon <= 0 {
		return exitError, fmt.Errorf("--horizon: %q is not a positive duration such as 180d", o.horizon)
	}
	fit, err := config.ParseDuration(o.fit)
	if err != nil || fit < 48*time.Hour {
		return exitError, fmt.Errorf("--fit: %q is not a duration of at least 2d", o.fit)
	}
	db, err := g.open(ctx, cfg)
	if err != nil {
		return exitError, err
	}
	defer db.Close()
	if !db.Has(duck.TableRepositories) {
		if err := db.Require(duck.TableBackups); err != nil {
			return exitError, err
		}
	}
	fcs, err := computeForecasts(ctx, db, o.env, at, horizon, fit, o.releases)
	if err != nil {
		return exitError, err
	}
	if len(fcs) == 0 {
		return exitError, fmt.Errorf("history at %s has no storage figures up to %s%s", db.Root(), at.Format(time.RFC3339), envSuffix(o.env))
	}
	if o.svg != "" {
		if err := os.WriteFile(o.svg, []byte(forecastSVG(fcs, at)), 0o644); err != nil {
			return exitError, fmt.Errorf("write chart: %w", err)
		}
	}
	if err := writeForecasts(g, o.format, fcs, at, horizon); err != nil {
		return exitError, fmt.Errorf("write forecast: %w", err)
	}
	return exitOK, nil
}

func envSuffix(env string) string {
	if env == "" {
		return ""
	}
	return " in environment " + env
}

// computeForecasts fits every environment and storage class of the
// history, projects it horizon ahead and adds the release wave.
func computeForecasts(ctx context.Context, db *duck.DB, env string, at time.Time, horizon, fit time.Duration, planned int) ([]*forecast, error) {
	if err := db.BuildDaily(ctx, at); err != nil {
		return nil, err
	}
	points, err := db.Daily(ctx, env)
	if err != nil {
		return nil, err
	}
	trends, err := db.Trends(ctx, env, at.Add(-fit), at)
	if err != nil {
		return nil, err
	}
	ratios, err := db.Ratios(ctx, at)
	if err != nil {
		return nil, err
	}
	releases, err := db.Releases(ctx, at)
	if err != nil {
		return nil, err
	}
	type key struct{ env, class string }
	byKey := map[key][]duck.DailyPoint{}
	for _, p := range points {
		k := key{p.Env, p.StorageClass}
		byKey[k] = append(byKey[k], p)
	}
	var out []*forecast
	for _, t := range trends {
		pts := byKey[key{t.Env, t.StorageClass}]
		if len(pts) == 0 || t.N == 0 {
			continue
		}
		last := pts[len(pts)-1]
		f := &forecast{
			Env: t.Env, StorageClass: t.StorageClass, Basis: "repositories", Days: t.N, From: t.First, To: t.Last,
			StoredBytes: last.StoredBytes, LogicalBytes: last.LogicalBytes,
			SlopeBytesPerDay: t.Slope, Intercept: t.Intercept,
			points: pts, trend: t,
		}
		if last.FromBackups {
			f.Basis = "backups"
		}
		f.HorizonDays = at.Sub(t.Last).Hours()/24 + horizon.Hours()/24
		f.EnoughHistory = t.N >= minForecastDays
		if f.EnoughHistory {
			trend, lo, hi := predict(t, f.HorizonDays)
			f.R2, f.TrendBytes, f.TrendLow, f.TrendHigh = &t.R2, &trend, lo, hi
		} else {
			f.Note = fmt.Sprintf("not enough history: %d of the %d days a forecast needs", t.N, minForecastDays)
		}
		if last.StoredBytes > 0 && last.LogicalBytes > 0 {
			f.EffectiveRatio = last.LogicalBytes / last.StoredBytes
		}
		for _, r := range ratios {
			if r.Env == t.Env && r.StorageClass == t.StorageClass {
				f.DedupRatio, f.CompressionRatio = r.Dedup, r.Compression
			}
		}
		f.releaseWave(releases, at, fit, horizon, planned)
		out = append(out, f)
	}
	return out, nil
}

// predict projects the trend h days beyond its last fitted day, with the
// prediction interval of a new observation:
// ŷ ± t(0.975, n-2) · s · sqrt(1 + 1/n + (x0 - x̄)² / Sxx).
func predict(t duck.Trend, h float64) (float64, *float64, *float64) {
	x0 := t.Last.Sub(t.First).Hours()/24 + h
	y := t.Intercept + t.Slope*x0
	if t.N < 3 || t.Sxx <= 0 {
		return y, nil, nil
	}
	n := float64(t.N)
	s2 := math.Max(0, (t.Syy-t.Slope*t.Sxy)/(n-2))
	se := math.Sqrt(s2) * math.Sqrt(1+1/n+(x0-t.AvgX)*(x0-t.AvgX)/t.Sxx)
	q := tQuantile(1-(1-predictionLevel)/2, n-2)
	lo, hi := y-q*se, y+q*se
	return y, &lo, &hi
}

// releaseWave measures what each release added: the growth of logical
// bytes from one release's first sighting to the next's, turned into
// stored bytes with the observed effective ratio (deduplication times
// compression), or the growth of stored bytes where logical bytes are
// unknown. The mean times the planned releases is the wave.
func (f *forecast) releaseWave(releases []duck.ReleaseStart, at time.Time, fit, horizon time.Duration, planned int) {
	valueAt := func(day time.Time) (stored, logical float64, ok bool) {
		d := day.UTC().Truncate(24 * time.Hour)
		for i := len(f.points) - 1; i >= 0; i-- {
			if !f.points[i].Day.After(d) {
				return f.points[i].StoredBytes, f.points[i].LogicalBytes, true
			}
		}
		return 0, 0, false
	}
	var starts []time.Time
	for _, r := range releases {
		if r.Env == f.Env {
			starts = append(starts, r.FirstSeen)
		}
	}
	var sumStored, sumLogical float64
	pairs := 0
	for i := 0; i+1 < len(starts); i++ {
		s0, l0, ok0 := valueAt(starts[i])
		s1, l1, ok1 := valueAt(starts[i+1])
		if !ok0 || !ok1 {
			continue
		}
		sumStored += s1 - s0
		sumLogical += l1 - l0
		pairs++
	}
	for _, s := range starts {
		if !s.Before(at.Add(-fit)) && !s.After(at) {
			f.ReleasesSeen++
		}
	}
	f.ReleasesPlanned = planned
	if planned < 0 {
		f.ReleasesPlanned = int(math.Round(float64(f.ReleasesSeen) * horizon.Hours() / fit.Hours()))
	}
	if pairs > 0 {
		f.BytesPerRelease = sumStored / float64(pairs)
		if f.EffectiveRatio > 0 && sumLogical != 0 {
			f.BytesPerRelease = sumLogical / float64(pairs) / f.EffectiveRatio
		}
	}
	if f.EnoughHistory {
		wave := f.StoredBytes + float64(f.ReleasesPlanned)*f.BytesPerRelease
		f.WaveBytes = &wave
	}
}

func writeForecasts(g *globals, format string, fcs []*forecast, at time.Time, horizon time.Duration) error {
	if format == "json" {
		return writeJSON(g.stdout, map[string]any{"at": at, "horizon": config.Duration(horizon).String(), "prediction_level": predictionLevel, "forecasts": fcs})
	}
	t := &table{
		header: []string{"ENV", "CLASS", "BASIS", "DAYS", "STORED", "GROWTH/DAY", "R2", "TREND +" + config.Duration(horizon).String(), "95% INTERVAL", "RELEASES", "PER RELEASE", "WAVE", "RATIO"},
		right:  map[int]bool{3: true, 4: true, 5: true, 6: true, 7: true, 9: true, 10: true, 11: true, 12: true},
	}
	machine := format != "table"
	size := func(v float64) string {
		if machine {
			return strconv.FormatFloat(v, 'f', 0, 64)
		}
		return policy.FormatBytes(int64(math.Round(v)))
	}
	// orNone writes an optional size; "-" where there is no forecast.
	orNone := func(v *float64) string {
		if v == nil {
			if machine {
				return ""
			}
			return "-"
		}
		return size(math.Max(0, *v))
	}
	var short []string
	for _, f := range fcs {
		interval := orNone(nil)
		if f.TrendLow != nil {
			interval = size(math.Max(0, *f.TrendLow)) + " – " + size(math.Max(0, *f.TrendHigh))
			if machine {
				interval = size(*f.TrendLow) + ".." + size(*f.TrendHigh)
			}
		}
		ratio := ""
		switch {
		case f.DedupRatio > 0 || f.CompressionRatio > 0:
			ratio = fmt.Sprintf("%.2f×%.2f", orOne(f.DedupRatio), orOne(f.CompressionRatio))
		case f.EffectiveRatio > 0:
			ratio = fmt.Sprintf("%.2f", f.EffectiveRatio)
		}
		class := f.StorageClass
		if class == "" && !machine {
			class = "-"
		}
		r2 := orNone(nil)
		if f.R2 != nil {
			r2 = fmt.Sprintf("%.3f", *f.R2)
		}
		if !f.EnoughHistory {
			short = append(short, fmt.Sprintf("%s %s (%d days)", f.Env, orDash(f.StorageClass), f.Days))
		}
		t.add(f.Env, class, f.Basis, strconv.FormatInt(f.Days, 10), size(f.StoredBytes), size(f.SlopeBytesPerDay),
			r2, orNone(f.TrendBytes), interval,
			fmt.Sprintf("%d/%d", f.ReleasesSeen, f.ReleasesPlanned), size(f.BytesPerRelease), orNone(f.WaveBytes), ratio)
	}
	switch format {
	case "csv":
		t.header = []string{"env", "storage_class", "basis", "days_fitted", "stored_bytes", "slope_bytes_per_day", "r2", "trend_bytes", "trend_interval_bytes", "releases_seen/planned", "bytes_per_release", "wave_bytes", "ratio"}
		return t.writeCSV(g.stdout)
	case "markdown":
		return t.writeMarkdown(g.stdout)
	}
	if err := t.writeText(g.stdout, g.colour(g.stdout), g.width(g.stdout)); err != nil {
		return err
	}
	if len(short) > 0 {
		if _, err := fmt.Fprintf(g.stdout, "\nNot enough history for a forecast (at least %d days fitted): %s.\n", minForecastDays, strings.Join(short, ", ")); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(g.stdout, "\nFrom %s, %s ahead. TREND: least squares over the fit period with its %.0f%% prediction interval. WAVE: stored now plus planned releases (RELEASES seen/planned) times the mean stored bytes each release added. RATIO: deduplication×compression, or logical/stored.\n",
		at.Format(time.RFC3339), config.Duration(horizon), predictionLevel*100)
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orOne(v float64) float64 {
	if v <= 0 {
		return 1
	}
	return v
}
