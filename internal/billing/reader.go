package billing

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

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

// checkEvery is how many rows are read between checks of the context.
const checkEvery = 4096

// ReadCSV reads a CSV bill (FOCUS or legacy CUR), gzip-compressed when
// gz is set. The first row is the header.
func ReadCSV(ctx context.Context, r io.Reader, gz bool, opts Options) (*Bill, error) {
	if gz {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("read gzip: %w", err)
		}
		defer zr.Close() //nolint:errcheck // read-only
		r = zr
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty file: no header")
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	header = append([]string(nil), header...)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	p, err := newPlan(opts.Format, header)
	if err != nil {
		return nil, err
	}
	b := &Bill{Format: p.format}
	for n := 0; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			line, _ := cr.FieldPos(0)
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		b.Stats.Rows++
		if len(row) != len(header) {
			b.reject(RejectColumns)
			continue
		}
		b.add(p, row, nil, opts)
	}
	return b, nil
}

func (b *Bill) reject(reason string) {
	if b.Stats.Rejected == nil {
		b.Stats.Rejected = map[string]int{}
	}
	b.Stats.Rejected[reason]++
}

func (b *Bill) add(p *plan, row []string, mapTags map[string]string, opts Options) {
	l, o := p.line(row, mapTags)
	switch {
	case o.outOfScope:
		b.Stats.OutOfScope++
	case o.reason != "":
		b.reject(o.reason)
	default:
		l.Source = opts.Source
		Attribute(&l, opts.Attribution)
		b.Lines = append(b.Lines, l)
		b.Stats.Kept++
	}
}
