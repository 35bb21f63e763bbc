package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// table is rows of text cells under a header, written aligned for a
// terminal, as CSV or as Markdown.
type table struct {
	header []string
	rows   [][]string
	// right marks columns aligned to the right (numbers).
	right map[int]bool
	// wrap marks the columns of long text that writeText may narrow to fit
	// a width, wrapping their cells over several lines.
	wrap map[int]bool
	// paint colours a cell on a terminal; nil paints nothing.
	paint func(row, col int, s string) string
	// details returns labelled texts written beneath a row, indented under
	// the second column and wrapped to the width: room for long texts that
	// would make a column too wide. nil writes none.
	details func(row int) []detail
	// minWrap is the narrowest the wrapped columns get; zero is
	// minWrapWidth. Columns of names without blanks (datasets) may go
	// narrower: they break inside the name whatever the width.
	minWrap int
}

// detail is a labelled text writeText puts beneath a row.
type detail struct{ label, text string }

// minWrapWidth is the narrowest a wrapped column gets: narrower, a cell
// would break inside most words.
const minWrapWidth = 16

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// writeText writes the columns aligned with two spaces between them. The
// last column is not padded, so long text does not drag trailing blanks.
// When the table is wider than width (zero: no limit), the widest wrapped
// columns are narrowed, down to minWrapWidth, and their cells wrapped at
// blanks onto continuation lines; a table that still does not fit is
// written as narrow as it gets.
func (t *table) writeText(w io.Writer, colour bool, width int) error {
	widths := t.fit(width)
	line := func(row int, cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", max(0, widths[i]-utf8.RuneCountInString(c)))
			if colour && row >= 0 && t.paint != nil && c != "" {
				c = t.paint(row, i, c)
			}
			switch {
			case t.right[i]:
				b.WriteString(pad + c)
			case i == len(cells)-1:
				b.WriteString(c)
			default:
				b.WriteString(c + pad)
			}
			if i < len(cells)-1 {
				b.WriteString("  ")
			}
		}
		return strings.TrimRight(b.String(), " ") + "\n"
	}
	header := line(-1, t.header)
	if colour {
		header = bold(strings.TrimSuffix(header, "\n")) + "\n"
	}
	if _, err := io.WriteString(w, header); err != nil {
		return err
	}
	for i, r := range t.rows {
		for _, cells := range t.wrapRow(r, widths) {
			if _, err := io.WriteString(w, line(i, cells)); err != nil {
				return err
			}
		}
		if t.details == nil {
			continue
		}
		if err := writeDetails(w, t.details(i), widths[0]+2, width); err != nil {
			return err
		}
	}
	return nil
}

// writeDetails writes labelled texts indented by indent, the texts lined
// up after the longest label and wrapped to width (zero: no limit), but
// never narrower than minWrapWidth.
func writeDetails(w io.Writer, ds []detail, indent, width int) error {
	labelWidth := 0
	for _, d := range ds {
		labelWidth = max(labelWidth, utf8.RuneCountInString(d.label))
	}
	textIndent := indent + labelWidth + 2
	textWidth := 0
	if width > 0 {
		textWidth = max(minWrapWidth, width-textIndent)
	}
	var b strings.Builder
	for _, d := range ds {
		for j, l := range wrapText(d.text, textWidth) {
			label := ""
			if j == 0 {
				label = d.label
			}
			b.WriteString(strings.Repeat(" ", indent) + label + strings.Repeat(" ", textIndent-indent-utf8.RuneCountInString(label)) + l + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// fit returns the width of each column: the widest cell's, with the
// widest wrapped columns narrowed one character at a time until the table
// fits width or every wrapped column is down to minWrapWidth (t.minWrap
// when set).
func (t *table) fit(width int) []int {
	least := minWrapWidth
	if t.minWrap > 0 {
		least = t.minWrap
	}
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	if width <= 0 {
		return widths
	}
	total := 2 * (len(widths) - 1)
	for _, n := range widths {
		total += n
	}
	for total > width {
		widest := -1
		for i, n := range widths {
			if t.wrap[i] && n > least && (widest < 0 || n > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
		total--
	}
	return widths
}

// wrapRow returns the lines one row takes: its cells, with the cells of
// wrapped columns cut to their column's width.
func (t *table) wrapRow(cells []string, widths []int) [][]string {
	cut := make([][]string, len(cells))
	lines := 1
	for i, c := range cells {
		if t.wrap[i] {
			cut[i] = wrapText(c, widths[i])
		} else {
			cut[i] = []string{c}
		}
		lines = max(lines, len(cut[i]))
	}
	out := make([][]string, lines)
	for l := range out {
		out[l] = make([]string, len(cells))
		for i := range cells {
			if l < len(cut[i]) {
				out[l][i] = cut[i][l]
			}
		}
	}
	return out
}

// wrapText breaks s into lines of at most width characters, at blanks
// where it can and inside a word longer than a line where it must.
func wrapText(s string, width int) []string {
	if width <= 0 || utf8.RuneCountInString(s) <= width {
		return []string{s}
	}
	var lines []string
	var cur []rune
	for _, word := range strings.Fields(s) {
		wr := []rune(word)
		if len(cur) > 0 && len(cur)+1+len(wr) <= width {
			cur = append(append(cur, ' '), wr...)
			continue
		}
		if len(cur) > 0 {
			lines = append(lines, string(cur))
			cur = nil
		}
		for len(wr) > width {
			lines = append(lines, string(wr[:width]))
			wr = wr[width:]
		}
		cur = wr
	}
	if len(cur) > 0 {
		lines = append(lines, string(cur))
	}
	return lines
}

func (t *table) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.rows); err != nil {
		return err
	}
	return cw.Error()
}

func (t *table) writeMarkdown(w io.Writer) error {
	esc := func(s string) string {
		return strings.NewReplacer("|", `\|`, "\n", "<br>").Replace(s)
	}
	var b strings.Builder
	b.WriteString("|")
	for _, h := range t.header {
		b.WriteString(" " + esc(h) + " |")
	}
	b.WriteString("\n|")
	for i := range t.header {
		if t.right[i] {
			b.WriteString("---:|")
		} else {
			b.WriteString("---|")
		}
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ANSI colours for terminals.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func bold(s string) string { return ansiBold + s + ansiReset }

func paint(code, s string) string { return code + s + ansiReset }

// formatMoney writes an amount of the price table's currency with cents,
// or fractions of a cent for small amounts.
func formatMoney(v float64) string {
	switch a := abs(v); {
	case a == 0:
		return "0.00"
	case a < 0.01:
		return fmt.Sprintf("%.4f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
