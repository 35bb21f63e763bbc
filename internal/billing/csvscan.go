package billing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/restorable/restorable/internal/model"
)

// The CSV reader here splits records as encoding/csv does with
// FieldsPerRecord -1 (RFC 4180: quoted fields, "" for a quote, line breaks
// inside quotes, \r\n read as \n, blank lines skipped), and fails on what
// encoding/csv fails on: a quote inside an unquoted field, text after a
// closing quote, a quote never closed. It is several times faster than
// encoding/csv, and it splits a file into blocks of whole records that
// several goroutines read at once: a bill is mostly one format's many
// columns, of which a line needs a few.

var (
	errBareQuote = errors.New(`bare " in non-quoted field`)
	errQuote     = errors.New(`extraneous or missing " in quoted field`)
)

const (
	bytesOf1 = 0x0101010101010101
	low7     = 0x7f7f7f7f7f7f7f7f
)

// zeroBytes sets the high bit of each byte of x that is zero, and no
// other bit.
func zeroBytes(x uint64) uint64 { return ^(((x & low7) + low7) | x | low7) }

// nextSpecial returns the index in b, from i, of the first comma, quote or
// line feed, or len(b): eight bytes a step.
func nextSpecial(b []byte, i int) int {
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := zeroBytes(w^(bytesOf1*',')) | zeroBytes(w^(bytesOf1*'"')) | zeroBytes(w^(bytesOf1*'\n')); m != 0 {
			return i + bits.TrailingZeros64(m)>>3
		}
		i += 8
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == ',' || c == '"' || c == '\n' {
			return i
		}
	}
	return len(b)
}

// view is b as a string without a copy: valid while b is not changed.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// splitRecord splits the first record of b into fields, appended to
// fields[:0], and returns them and how many bytes of b the record and the
// blank lines before it took. b holds whole records: it ends after a line
// feed or at the end of the input. No fields and n == len(b) mean b held
// blank lines only. A field is a view of b unless it had to be unescaped.
func splitRecord(b []byte, fields []string) ([]string, int, error) {
	fields = fields[:0]
	i := 0
	for i < len(b) {
		switch {
		case b[i] == '\n':
			i++
			continue
		case b[i] == '\r' && (i+1 == len(b) || b[i+1] == '\n'):
			i++
			continue
		}
		break
	}
	if i == len(b) {
		return fields, i, nil
	}
	for {
		if i < len(b) && b[i] == '"' {
			j, start := i+1, i+1
			var buf []byte
			for {
				k := bytes.IndexByte(b[j:], '"')
				if k < 0 {
					return fields, 0, errQuote
				}
				j += k
				if j+1 < len(b) && b[j+1] == '"' {
					buf = append(buf, b[start:j+1]...)
					j += 2
					start = j
					continue
				}
				break
			}
			seg := b[start:j]
			if buf == nil && bytes.IndexByte(seg, '\r') < 0 {
				fields = append(fields, view(seg))
			} else {
				s := string(append(buf, seg...))
				fields = append(fields, strings.ReplaceAll(s, "\r\n", "\n"))
			}
			i = j + 1
			switch {
			case i == len(b):
				return fields, i, nil
			case b[i] == ',':
				i++
				continue
			case b[i] == '\n':
				return fields, i + 1, nil
			case b[i] == '\r' && i+1 == len(b):
				return fields, i + 1, nil
			case b[i] == '\r' && b[i+1] == '\n':
				return fields, i + 2, nil
			}
			return fields, 0, errQuote
		}
		j := nextSpecial(b, i)
		if j < len(b) && b[j] == '"' {
			return fields, 0, errBareQuote
		}
		if j < len(b) && b[j] == ',' {
			fields = append(fields, view(b[i:j]))
			i = j + 1
			continue
		}
		f := b[i:j]
		if n := len(f); n > 0 && f[n-1] == '\r' {
			f = f[:n-1]
		}
		fields = append(fields, view(f))
		if j < len(b) {
			j++
		}
		return fields, j, nil
	}
}

// blockSize is how many bytes of a file a worker reads at once (tests
// make it small).
var blockSize = 4 << 20

// block is a run of whole records of a file and the number of the line
// it starts on.
type block struct {
	data []byte
	line int
}

// blocks reads r and sends it as blocks of whole records, each cut after
// a line feed outside quotes: a quote count that is even before it. Free
// buffers come from free. It returns the read error, if any.
func blocks(ctx context.Context, r io.Reader, first []byte, line int, free chan []byte, out chan<- block) error {
	carry := first
	for eof := false; !eof; {
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		buf = append(buf[:0], carry...)
		// Fill the buffer, growing it while it holds no whole record.
		for {
			if len(buf) == cap(buf) {
				buf = append(buf, 0)[:len(buf)]
			}
			n, err := io.ReadFull(r, buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				eof = true
			} else if err != nil {
				return err
			}
			if eof {
				break
			}
			if cut := recordsEnd(buf); cut > 0 {
				carry = append(carry[:0:0], buf[cut:]...)
				buf = buf[:cut]
				break
			}
		}
		if eof {
			carry = nil
		}
		b := block{data: buf, line: line}
		line += bytes.Count(buf, []byte{'\n'})
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// recordsEnd returns the length of the longest prefix of b that ends
// after a line feed outside quotes, or 0. b starts at a record.
func recordsEnd(b []byte) int {
	end := len(b)
	quotes := -1
	for {
		nl := bytes.LastIndexByte(b[:end], '\n')
		if nl < 0 {
			return 0
		}
		if quotes < 0 {
			quotes = bytes.Count(b[:nl], []byte{'"'})
		} else {
			quotes -= bytes.Count(b[nl:end], []byte{'"'})
		}
		if quotes%2 == 0 {
			return nl + 1
		}
		end = nl
	}
}

// ScanOptions say how ScanCSV reads a bill.
type ScanOptions struct {
	Options
	// Workers is how many goroutines split and normalise records at
	// once; zero is one per CPU.
	Workers int
}

// scrub, in tests, overwrites each block when its worker is done with it,
// so that a line that kept a view of the input shows it.
var scrub = false

// ScanCSV reads a CSV bill (FOCUS or legacy CUR, not compressed; the
// first record is the header) and calls emit with the kept lines of each
// block of records, from opts.Workers goroutines at once: worker is the
// caller's number (0 ≤ worker < opts.Workers), never used by two calls at
// a time. The lines are normalised and attributed as the exporter's
// billing sources do; their text shares no memory with the input, but the
// slice is reused once emit returns. It returns the bill's format and the
// counts of the rows it read. A malformed record (as encoding/csv
// decides) fails the scan, naming its line; an error of emit stops it.
func ScanCSV(ctx context.Context, r io.Reader, opts ScanOptions, emit func(worker int, lines []model.CostLine) error) (string, Stats, error) {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	header, first, lines, err := readHeader(r)
	if err != nil {
		return "", Stats{}, err
	}
	p, err := newPlan(opts.Format, header)
	if err != nil {
		return "", Stats{}, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	free := make(chan []byte, 2*workers+1)
	for range cap(free) {
		free <- make([]byte, 0, blockSize)
	}
	work := make(chan block, workers)
	var readErr error
	go func() {
		defer close(work)
		readErr = blocks(ctx, r, first, lines, free, work)
	}()
	stats := make([]Stats, workers)
	errs := make([]lineError, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s := &scanner{plan: p.clone(), opts: opts.Options, stats: &stats[w]}
			for b := range work {
				if errs[w].err == nil {
					errs[w] = s.block(b)
					if errs[w].err == nil && len(s.lines) > 0 {
						if err := emit(w, s.lines); err != nil {
							errs[w] = lineError{line: b.line, err: err, emit: true}
						}
					}
					if errs[w].err != nil {
						cancel(errs[w].err)
					}
				}
				if scrub {
					for i := range b.data {
						b.data[i] = 0xff
					}
				}
				free <- b.data[:0]
			}
		})
	}
	wg.Wait()
	var firstErr *lineError
	for i := range errs {
		if e := &errs[i]; e.err != nil && (firstErr == nil || e.line < firstErr.line) {
			firstErr = e
		}
	}
	if firstErr != nil {
		if firstErr.emit {
			return "", Stats{}, firstErr.err
		}
		return "", Stats{}, fmt.Errorf("line %d: %w", firstErr.line, firstErr.err)
	}
	if readErr != nil {
		if c := context.Cause(ctx); c != nil {
			return "", Stats{}, c
		}
		return "", Stats{}, fmt.Errorf("read: %w", readErr)
	}
	var total Stats
	for _, s := range stats {
		total.Add(s)
	}
	return p.format, total, nil
}

// lineError is an error of the record that starts on line.
type lineError struct {
	line int
	err  error
	emit bool
}

// readHeader reads the first record of r and returns its fields (the
// byte order mark dropped), the bytes read after it and the number of the
// line after it.
func readHeader(r io.Reader) (header []string, rest []byte, line int, err error) {
	buf := make([]byte, 0, 64<<10)
	line = 1
	for eof := false; ; {
		end := recordsEnd(buf)
		if eof {
			end = len(buf)
		}
		if end > 0 {
			fields, used, err := splitRecord(buf[:end], nil)
			if err != nil {
				return nil, nil, 0, fmt.Errorf("read header: %w", err)
			}
			line += bytes.Count(buf[:used], []byte{'\n'})
			if len(fields) > 0 {
				header = make([]string, len(fields))
				for i, f := range fields {
					header[i] = strings.Clone(f)
				}
				header[0] = strings.TrimPrefix(header[0], "\ufeff")
				return header, buf[used:], line, nil
			}
			buf = buf[used:] // blank lines
			continue
		}
		if eof {
			return nil, nil, 0, errors.New("empty file: no header")
		}
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(rerr, io.EOF) {
			eof = true
		} else if rerr != nil {
			return nil, nil, 0, fmt.Errorf("read header: %w", rerr)
		}
	}
}

// scanner is one worker of ScanCSV.
type scanner struct {
	plan   *plan
	opts   Options
	stats  *Stats
	fields []string
	lines  []model.CostLine
	own    map[string]string
}

// block normalises the records of b into s.lines.
func (s *scanner) block(b block) lineError {
	s.lines = s.lines[:0]
	data := b.data
	for len(data) > 0 {
		fields, n, err := splitRecord(data, s.fields)
		s.fields = fields
		if err != nil {
			done := len(b.data) - len(data)
			return lineError{line: b.line + bytes.Count(b.data[:done], []byte{'\n'}) + skipped(data), err: err}
		}
		data = data[n:]
		if len(fields) == 0 {
			continue
		}
		s.stats.Rows++
		if len(fields) != s.plan.width {
			rejectRow(s.stats, RejectColumns)
			continue
		}
		if l, ok := keepLine(s.plan, fields, nil, s.opts, s.stats); ok {
			s.keep(&l)
			s.lines = append(s.lines, l)
		}
	}
	return lineError{}
}

// skipped is the number of blank lines at the start of b.
func skipped(b []byte) int {
	n := 0
	for _, c := range b {
		switch c {
		case '\n':
			n++
		case '\r':
		default:
			return n
		}
	}
	return n
}

// keep gives the line's text its own memory: the few distinct values of
// a bill's text columns (services, accounts, usage types, buckets) are
// copied once each, the rest once a line.
func (s *scanner) keep(l *model.CostLine) {
	if s.own == nil || len(s.own) > 1<<16 {
		s.own = make(map[string]string)
	}
	own := func(v *string) {
		if *v == "" {
			return
		}
		c, ok := s.own[*v]
		if !ok {
			c = strings.Clone(*v)
			s.own[c] = c
		}
		*v = c
	}
	own(&l.Provider)
	own(&l.Service)
	own(&l.UsageType)
	own(&l.Account)
	own(&l.Region)
	own(&l.Resource)
	own(&l.Unit)
	own(&l.Currency)
	own(&l.Env)
	own(&l.Dataset)
	for k, v := range l.Tags {
		l.Tags[k] = strings.Clone(v)
	}
}

// CSVHeader reads the header of a CSV bill: its columns, without a byte
// order mark.
func CSVHeader(r io.Reader) ([]string, error) {
	h, _, _, err := readHeader(r)
	return h, err
}
