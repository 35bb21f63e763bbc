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
// class, stacked. From the top of a panel: its title and a summary line,
// the plot, the date labels and the axis title, then a two-row legend.
const (
	chartWidth   = 760
	chartMarginL = 90
	chartMarginR = 24
	panelHeadH   = 52
	plotHeight   = 170
	panelFootH   = 96
	panelHeight  = panelHeadH + plotHeight + panelFootH
	// dateLabelGap is how far apart two date labels must be not to
	// overlap: a date is about 62 pixels wide at the chart's font size, and
	// the middle label is centred on its tick.
	dateLabelGap = 104
)

// Colours of the chart's series.
const (
	colourObserved = "#4e79a7"
	colourTrend    = "#e15759"
	colourWave     = "#f28e2b"
)

// forecastSVG draws each forecast's daily history (solid), and where the
// history is long enough for a forecast, its trend through the horizon
// (dashed), the prediction interval (band) and the release wave (dot at
// the horizon), with a legend that says what each is. It is plain SVG,
// readable in any browser and embeddable in reports.
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
	end := f.points[len(f.points)-1].Day
	if at.After(end) {
		end = at
	}
	if f.EnoughHistory {
		end = f.trend.Last.Add(time.Duration(f.HorizonDays * 24 * float64(time.Hour)))
	}
	span := end.Sub(first).Hours() / 24
	if span <= 0 {
		span = 1
	}
	ymax := 0.0
	for _, p := range f.points {
		ymax = math.Max(ymax, p.StoredBytes)
	}
	for _, v := range []*float64{f.TrendBytes, f.WaveBytes, f.TrendHigh} {
		if v != nil {
			ymax = math.Max(ymax, *v)
		}
	}
	if ymax <= 0 {
		ymax = 1
	}
	ymax *= 1.05
	plotTop := top + panelHeadH
	plotW := float64(chartWidth - chartMarginL - chartMarginR)
	x := func(t time.Time) float64 { return chartMarginL + plotW*t.Sub(first).Hours()/24/span }
	y := func(v float64) float64 { return plotTop + plotHeight*(1-math.Max(0, v)/ymax) }
	text := func(xPos, yPos float64, attrs, s string) {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f"%s>%s</text>`+"\n", xPos, yPos, attrs, html.EscapeString(s))
	}

	text(chartMarginL, top+18, ` font-size="13" font-weight="bold"`, fmt.Sprintf("%s · %s (from %s)", f.Env, orDash(f.StorageClass), f.Basis))
	if f.EnoughHistory {
		var fit []string
		if f.TrendLow != nil {
			fit = append(fit, fmt.Sprintf("%.0f%%: %s – %s", predictionLevel*100, formatSize(f.TrendLow), formatSize(f.TrendHigh)))
		}
		fit = append(fit, fmt.Sprintf("R² %.2f", *f.R2), fmt.Sprintf("%d days fitted", f.Days))
		text(chartMarginL, top+36, ` fill="#333"`, fmt.Sprintf("By %s: trend %s (%s), release wave %s",
			end.UTC().Format(time.DateOnly), formatSize(f.TrendBytes), strings.Join(fit, ", "), formatSize(f.WaveBytes)))
	} else {
		text(chartMarginL, top+36, ` fill="#a33"`, fmt.Sprintf("Not enough history for a forecast: %d of the %d days needed. Only what was recorded is drawn.", f.Days, minForecastDays))
	}

	// Axes, their ticks and titles.
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", chartMarginL, y(0), chartWidth-chartMarginR, y(0))
	fmt.Fprintf(b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>`+"\n", chartMarginL, y(ymax), chartMarginL, y(0))
	for _, frac := range []float64{0, 0.5, 1} {
		v := ymax / 1.05 * frac
		text(chartMarginL-6, y(v)+4, ` text-anchor="end"`, policy.FormatBytes(int64(v)))
	}
	fmt.Fprintf(b, `<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle" fill="#555">stored bytes</text>`+"\n", plotTop+plotHeight/2)
	// The first and last dates sit inside the plot's ends; the date of
	// --at only where it leaves room for both.
	text(x(first), y(0)+16, ` text-anchor="start"`, first.UTC().Format(time.DateOnly))
	if !end.Equal(first) {
		text(x(end), y(0)+16, ` text-anchor="end"`, end.UTC().Format(time.DateOnly))
	}
	if x(at)-x(first) >= dateLabelGap && x(end)-x(at) >= dateLabelGap {
		text(x(at), y(0)+16, ` text-anchor="middle"`, at.UTC().Format(time.DateOnly))
	}
	text(chartMarginL+plotW/2, y(0)+32, ` text-anchor="middle" fill="#555"`, "date (UTC)")
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#999" stroke-dasharray="2 3"/>`+"\n", x(at), y(ymax), x(at), y(0))

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
		fmt.Fprintf(b, `<polygon points="%s" fill="%s" fill-opacity="0.15" stroke="none"/>`+"\n", strings.Join(append(upper, lower...), " "), colourObserved)
	}
	// Observed history; a dot per day as well when there are too few days
	// for a line to show.
	var pts []string
	for _, p := range f.points {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.Day), y(p.StoredBytes)))
		if len(f.points) < 3 {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", x(p.Day), y(p.StoredBytes), colourObserved)
		}
	}
	fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colourObserved)
	if f.TrendBytes != nil {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4"/>`+"\n",
			x(f.trend.First), y(f.trend.Intercept), x(end), y(*f.TrendBytes), colourTrend)
	}
	if f.WaveBytes != nil {
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>release wave: %s</title></circle>`+"\n", x(end), y(*f.WaveBytes), colourWave, formatSize(f.WaveBytes))
	}

	// Legend: what each mark means, in two rows under the date axis.
	row1, row2 := y(0)+56, y(0)+76
	cols := []float64{chartMarginL, chartMarginL + 250, chartMarginL + 480}
	legendItem(b, cols[0], row1, "line", colourObserved, "stored bytes at the end of each day")
	legendItem(b, cols[2], row2, "now", "#999", "--at: "+at.UTC().Format(time.DateOnly))
	if !f.EnoughHistory {
		return
	}
	legendItem(b, cols[1], row1, "dashed", colourTrend, fmt.Sprintf("trend: least squares over %d days", f.Days))
	if f.TrendLow != nil {
		legendItem(b, cols[2], row1, "band", colourObserved, fmt.Sprintf("%.0f%% prediction interval", predictionLevel*100))
	}
	legendItem(b, cols[0], row2, "dot", colourWave, fmt.Sprintf("release wave: now + %d releases × %s", f.ReleasesPlanned, policy.FormatBytes(int64(math.Round(f.BytesPerRelease)))))
}

// legendItem draws a mark of kind (line, dashed, band, dot or now) and its
// label, with the label's baseline at y.
func legendItem(b *strings.Builder, x, y float64, kind, colour, label string) {
	switch kind {
	case "line", "dashed":
		dash := ""
		if kind == "dashed" {
			dash = ` stroke-dasharray="6 4"`
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"%s/>`+"\n", x, y-4, x+20, y-4, colour, dash)
	case "band":
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="20" height="10" fill="%s" fill-opacity="0.15"/>`+"\n", x, y-9, colour)
	case "dot":
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="%s"/>`+"\n", x+10, y-4, colour)
	case "now":
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-dasharray="2 3"/>`+"\n", x+10, y-11, x+10, y+2, colour)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x+26, y, html.EscapeString(label))
}

// formatSize writes an optional size in binary units.
func formatSize(v *float64) string {
	if v == nil {
		return "-"
	}
	return policy.FormatBytes(int64(math.Round(math.Max(0, *v))))
}
