package main

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/policy"
)

// Layout of the forecast chart: one panel per environment and storage
// class, stacked.
const (
	chartWidth   = 760
	panelHeight  = 220
	chartMarginL = 90
	chartMarginR = 20
	panelMarginT = 36
	panelMarginB = 34
)

// forecastSVG draws each forecast's daily history (solid), its trend
// through the horizon (dashed), the prediction interval (band) and the
// release wave (dot at the horizon). It is plain SVG, readable in any
// browser and embeddable in reports.
func forecastSVG(fcs []*forecast, at time.Time) string {
	var b strings.Builder
	height := panelHeight * len(fcs)
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n", chartWidth, height, chartWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	for i, f := range fcs {
		drawPanel(&b, f, at, float64(i*panelHeight))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func drawPanel(b *strings.Builder, f *forecast, at time.Time, top float64) {
	first := f.points[0].Day
	end := f.trend.Last.Add(time.Duration(f.HorizonDays * 24 * float64(time.Hour)))
	span := end.Sub(first).Hours() / 24
	if span <= 0 {
		span = 1
	}
	ymax := 0.0
	for _, p := range f.points {
		ymax = math.Max(ymax, p.StoredBytes)
	}
	ymax = math.Max(ymax, math.Max(f.TrendBytes, f.WaveBytes))
	if f.TrendHigh != nil {
		ymax = math.Max(ymax, *f.TrendHigh)
	}
	if ymax <= 0 {
		ymax = 1
	}
	ymax *= 1.05
	plotW := float64(chartWidth - chartMarginL - chartMarginR)
	plotH := float64(panelHeight - panelMarginT - panelMarginB)
	x := func(t time.Time) float64 { return chartMarginL + plotW*t.Sub(first).Hours()/24/span }
	y := func(v float64) float64 { return top + panelMarginT + plotH*(1-math.Max(0, v)/ymax) }
	class := f.StorageClass
	if class == "" {
		class = "unknown class"
	}
	fmt.Fprintf(b, `<text x="%d" y="%.1f" font-size="13" font-weight="bold">%s</text>`+"\n", chartMarginL, top+20,
		html.EscapeString(fmt.Sprintf("%s · %s (from %s)", f.Env, class, f.Basis)))
	// Axes and labels.
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", chartMarginL, y(0), chartWidth-chartMarginR, y(0))
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", chartMarginL, y(ymax), chartMarginL, y(0))
	for _, frac := range []float64{0, 0.5, 1} {
		v := ymax / 1.05 * frac
		fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", chartMarginL-6, y(v)+4, policy.FormatBytes(int64(v)))
	}
	for _, t := range []time.Time{first, at, end} {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x(t), y(0)+16, t.UTC().Format(time.DateOnly))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ccc" stroke-dasharray="2 3"/>`+"\n", x(at), y(ymax), x(at), y(0))
	// Prediction band from the last fitted day to the horizon.
	if f.TrendLow != nil {
		var upper, lower []string
		steps := 24
		for i := 0; i <= steps; i++ {
			h := f.HorizonDays * float64(i) / float64(steps)
			_, lo, hi := predict(f.trend, h)
			t := f.trend.Last.Add(time.Duration(h * 24 * float64(time.Hour)))
			upper = append(upper, fmt.Sprintf("%.1f,%.1f", x(t), y(*hi)))
			lower = append([]string{fmt.Sprintf("%.1f,%.1f", x(t), y(*lo))}, lower...)
		}
		fmt.Fprintf(b, `<polygon points="%s" fill="#4e79a7" fill-opacity="0.15" stroke="none"/>`+"\n", strings.Join(append(upper, lower...), " "))
	}
	// Observed history.
	var pts []string
	for _, p := range f.points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Day), y(p.StoredBytes)))
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="#4e79a7" stroke-width="2"/>`+"\n", strings.Join(pts, " "))
	// Trend from the first fitted day to the horizon.
	t0 := f.trend.First
	y0 := f.trend.Intercept
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e15759" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n",
		x(t0), y(y0), x(end), y(f.TrendBytes))
	// Release wave at the horizon.
	fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#f28e2b"><title>release wave: %s</title></circle>`+"\n", x(end), y(f.WaveBytes), policy.FormatBytes(int64(f.WaveBytes)))
	fmt.Fprintf(b, `<text x="%d" y="%.1f" text-anchor="end" fill="#555">trend %s (R² %.2f) · wave %s</text>`+"\n", chartWidth-chartMarginR, top+20,
		policy.FormatBytes(int64(math.Max(0, f.TrendBytes))), f.R2, policy.FormatBytes(int64(f.WaveBytes)))
}
