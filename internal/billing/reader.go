package billing

import (
	"context"
	"io"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// RejectColumns is the reason of a CSV row whose number of fields is not
// the header's. It is counted before the scope is known (such a row
// cannot be read), for every line of the file.
const RejectColumns = "wrong number of columns"

// Options say how a bill is read.
type Options struct {
	// Format is one of Formats; empty is auto.
	Format string
	// Source is the Source of every line.
	Source string
	// Attribution attributes lines to an env and a dataset; nil leaves
	// them unattributed.
	Attribution *config.CostAttribution
}

// Bill is what reading one bill produced.
type Bill struct {
	Format string
	Lines  []model.CostLine
	Stats  Stats
}

// ReadCSV reads a CSV bill (FOCUS or legacy CUR, not compressed; the
// first row is the header) as ScanCSV does, on one goroutine, and keeps
// the lines in the order of the file.
func ReadCSV(ctx context.Context, r io.Reader, opts Options) (*Bill, error) {
	return collect(func(emit func(int, []model.CostLine) error) (string, Stats, error) {
		return ScanCSV(ctx, r, ScanOptions{Options: opts, Workers: 1}, emit)
	})
}

// rejectRow counts a row rejected for reason.
func rejectRow(s *Stats, reason string) {
	if s.Rejected == nil {
		s.Rejected = map[string]int{}
	}
	s.Rejected[reason]++
}

// keepLine normalises one row and counts it in s: the line, attributed,
// when it is kept; false when it is out of scope or rejected.
func keepLine(p *plan, row []string, mapTags map[string]string, opts Options, s *Stats) (model.CostLine, bool) {
	l, o := p.line(row, mapTags)
	switch {
	case o.outOfScope:
		s.OutOfScope++
	case o.reason != "":
		rejectRow(s, o.reason)
	default:
		l.Source = opts.Source
		Attribute(&l, opts.Attribution)
		s.Kept++
		return l, true
	}
	return model.CostLine{}, false
}
