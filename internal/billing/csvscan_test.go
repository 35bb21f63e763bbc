package billing

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/restorable/restorable/internal/model"
)

// withBlockSize runs the test with blocks of n bytes.
func withBlockSize(t testing.TB, n int) {
	old := blockSize
	blockSize = n
	t.Cleanup(func() { blockSize = old })
}

// referenceRecords splits data with encoding/csv.
func referenceRecords(data []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

// blockRecords splits data as ScanCSV does: the header first, then
// blocks of whole records of blockSize bytes or more, each split record
// by record. Fields are copied out of the blocks, which are scrubbed.
func blockRecords(data []byte) ([][]string, error) {
	r := bytes.NewReader(data)
	header, rest, line, err := readHeader(r)
	if err != nil {
		if strings.HasPrefix(err.Error(), "empty file") {
			return nil, nil
		}
		return nil, err
	}
	out := [][]string{header}
	free := make(chan []byte, 2)
	free <- make([]byte, 0, blockSize)
	free <- make([]byte, 0, blockSize)
	ch := make(chan block)
	var readErr error
	go func() {
		defer close(ch)
		readErr = blocks(context.Background(), r, rest, line, free, ch)
	}()
	var splitErr error
	for b := range ch {
		d := b.data
		for len(d) > 0 && splitErr == nil {
			fields, n, err := splitRecord(d, nil)
			if err != nil {
				splitErr = err
				break
			}
			d = d[n:]
			if len(fields) > 0 {
				out = append(out, slices.Clone(fields))
				for i := range fields {
					out[len(out)-1][i] = strings.Clone(fields[i])
				}
			}
		}
		for i := range b.data {
			b.data[i] = 0xff
		}
		free <- b.data[:0]
	}
	if splitErr != nil {
		return out, splitErr
	}
	return out, readErr
}

// splitInputs are records encoding/csv reads in its own ways.
var splitInputs = []string{
	"a,b\n1,2\n",
	"a,b\r\n1,2\r\n",
	"a,b\n1,2",
	"a,b\n1,2\r",
	"a,b\n\n\n1,2\n\r\n3,4\n",
	"\n\na,b\n1,2\n",
	"a,b\n\"1,x\",\"2\"\"y\"\"\"\n",
	"a,b\n\"line\r\nbreak\",\"two\nlines\"\r\n",
	"a,b\n\"\",\n",
	"a,b\n,\n",
	"a,b\n1\n1,2,3\n",
	"a,b\n1\r2,3\r\r\n",
	"a,b\n\"q\"\r\n",
	"a,b\n\"q\"\r",
	"a,b\n\"r\rs\",t\n",
	"a,b\nx\"y,z\n",
	"a,b\n\"x\"y,z\n",
	"a,b\n\"open,z\n",
	"a,b\n\"x\"\rz\n",
	"\ufeffa,b\n1,2\n",
	"a,\"b\nc\"\n1,2\n",
	"a,b\n\"\"\"\",\"\"\"\"\"\"\"\"\n",
	"",
	"\n",
	"a",
}

// splitRecord and the blocks ScanCSV cuts split records as encoding/csv
// does, and fail where it fails, with blocks of every size from a few
// bytes (records longer than a block, blocks cut in quotes) up.
func TestSplitRecordsAgreeWithEncodingCSV(t *testing.T) {
	sample, err := os.ReadFile(curSample)
	if err != nil {
		t.Fatal(err)
	}
	inputs := append(slices.Clone(splitInputs), string(sample))
	for _, size := range []int{1, 7, 64, 4096, 4 << 20} {
		withBlockSize(t, size)
		for _, in := range inputs {
			checkSplit(t, []byte(in))
		}
	}
}

func checkSplit(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := referenceRecords(data)
	got, gotErr := blockRecords(data)
	if (wantErr != nil) != (gotErr != nil) {
		t.Fatalf("%q (blocks of %d): error %v, encoding/csv %v", data, blockSize, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	if len(want) == 0 {
		want = nil
	} else {
		// encoding/csv keeps a byte order mark; a bill's header drops it.
		want[0][0] = strings.TrimPrefix(want[0][0], "\ufeff")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%.200q (blocks of %d):\n got  %q\n want %q", data, blockSize, got, want)
	}
}

func FuzzSplitRecords(f *testing.F) {
	for _, in := range splitInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		withBlockSize(t, 5)
		checkSplit(t, data)
	})
}

// readCSVReference is the reader ScanCSV replaced: encoding/csv and the
// same normalisation, one record after another.
func readCSVReference(t *testing.T, data []byte, opts Options) *Bill {
	t.Helper()
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	p, err := newPlan(opts.Format, slices.Clone(header))
	if err != nil {
		t.Fatal(err)
	}
	b := &Bill{Format: p.format}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return b
		}
		if err != nil {
			t.Fatal(err)
		}
		b.Stats.Rows++
		if len(row) != len(header) {
			rejectRow(&b.Stats, RejectColumns)
			continue
		}
		if l, ok := keepLine(p, row, nil, opts, &b.Stats); ok {
			b.Lines = append(b.Lines, l)
		}
	}
}

// ScanCSV keeps, rejects and counts the lines the record-by-record
// reader does, line for line, whatever the number of workers and the
// size of the blocks; and the lines own their text: the blocks they were
// read from are overwritten as soon as their worker is done.
func TestScanCSVAgreesWithRecordByRecord(t *testing.T) {
	scrub = true
	t.Cleanup(func() { scrub = false })
	for _, file := range []string{curSample, focusSample, "testdata/messy-focus.csv"} {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		opts := Options{Source: "s"}
		want := readCSVReference(t, data, opts)
		for _, tc := range []struct{ workers, block int }{{1, 4 << 20}, {3, 4096}, {4, 100}} {
			withBlockSize(t, tc.block)
			var mu sync.Mutex
			var got []model.CostLine
			busy := make([]bool, tc.workers)
			format, stats, err := ScanCSV(context.Background(), bytes.NewReader(data), ScanOptions{Options: opts, Workers: tc.workers}, func(w int, lines []model.CostLine) error {
				mu.Lock()
				if busy[w] {
					t.Errorf("worker %d called twice at once", w)
				}
				busy[w] = true
				mu.Unlock()
				defer func() { mu.Lock(); busy[w] = false; mu.Unlock() }()
				mu.Lock()
				got = append(got, lines...)
				mu.Unlock()
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if format != want.Format || !reflect.DeepEqual(stats, want.Stats) {
				t.Fatalf("%s, %d workers: %s %+v, want %s %+v", file, tc.workers, format, stats, want.Format, want.Stats)
			}
			// Let the other blocks be scrubbed too.
			sortLines(got)
			sortLines(want.Lines)
			if !reflect.DeepEqual(got, want.Lines) {
				for i := range got {
					if !reflect.DeepEqual(got[i], want.Lines[i]) {
						t.Fatalf("%s, %d workers, blocks of %d: line %d\n got  %+v\n want %+v", file, tc.workers, tc.block, i, got[i], want.Lines[i])
					}
				}
				t.Fatalf("%s: %d lines, want %d", file, len(got), len(want.Lines))
			}
		}
	}
}

func sortLines(ls []model.CostLine) {
	slices.SortFunc(ls, func(a, b model.CostLine) int { return strings.Compare(a.LineID, b.LineID) })
}

// A malformed record fails the scan with its line, as the first error of
// the file, whichever worker met it; an error of emit is returned as it is.
func TestScanCSVErrors(t *testing.T) {
	sample, err := os.ReadFile(curSample)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(sample), "\n")
	bad := slices.Clone(lines)
	bad[700] = "x\"y," + bad[700]
	bad[900] = "\"x\"y," + bad[900]
	withBlockSize(t, 4096)
	_, _, err = ScanCSV(context.Background(), strings.NewReader(strings.Join(bad, "")), ScanOptions{Workers: 3}, func(int, []model.CostLine) error { return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "line 701: ") || !errors.Is(err, errBareQuote) {
		t.Errorf("error %v, want line 701: bare quote", err)
	}
	stop := errors.New("disk full")
	_, _, err = ScanCSV(context.Background(), bytes.NewReader(sample), ScanOptions{Workers: 2}, func(int, []model.CostLine) error { return stop })
	if !errors.Is(err, stop) || err.Error() != "disk full" {
		t.Errorf("error %v, want the emit error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := ScanCSV(ctx, bytes.NewReader(sample), ScanOptions{Workers: 2}, func(int, []model.CostLine) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled scan: %v", err)
	}
	for _, in := range []string{"", "\n\n"} {
		if _, _, err := ScanCSV(context.Background(), strings.NewReader(in), ScanOptions{}, func(int, []model.CostLine) error { return nil }); err == nil || err.Error() != "empty file: no header" {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// BenchmarkScanCSV reads the legacy CUR sample repeated to about 100 MB,
// on every CPU.
func BenchmarkScanCSV(b *testing.B) {
	sample, err := os.ReadFile(curSample)
	if err != nil {
		b.Fatal(err)
	}
	header, body, _ := bytes.Cut(sample, []byte{'\n'})
	data := append(append([]byte(nil), header...), '\n')
	for len(data) < 100<<20 {
		data = append(data, body...)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ScanCSV(context.Background(), bytes.NewReader(data), ScanOptions{}, func(int, []model.CostLine) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
