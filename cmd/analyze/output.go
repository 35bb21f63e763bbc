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
	// paint colours a cell on a terminal; nil paints nothing.
	paint func(row, col int, s string) string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// writeText writes the columns aligned with two spaces between them. The
// last column is not padded, so long text does not drag trailing blanks.
func (t *table) writeText(w io.Writer, colour bool) error {
	widths := make([]int, len(t.header))
	for i, h := range t.header {
		widths[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row int, cells []string) string {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			if colour && row >= 0 && t.paint != nil {
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
		if _, err := io.WriteString(w, line(i, r)); err != nil {
			return err
		}
	}
	return nil
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
