package history

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parquet-go/parquet-go"
)

// readColumns calls fn once for each row of the file at path with the values
// of the named columns, in the order of names. Only those columns are read.
//
// It reads column chunks directly rather than through a GenericReader of a
// smaller struct: parquet-go v0.27 turns every boolean to false when a
// GenericReader converts between schemas (parquet-go issue 468), and the
// removed column is a boolean.
func readColumns(path string, names []string, fn func(row []parquet.Value) error) error {
	return readColumnGroups(path, names, nil, fn)
}

// readColumnGroups is readColumns for the row groups that skip does not
// skip.
func readColumnGroups(path string, names []string, skip skipGroup, fn func(row []parquet.Value) error) (err error) {
	f, pf, err := openParquet(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close %s: %w", path, cerr)
		}
	}()
	index := make([]int, len(names))
	for i, name := range names {
		leaf, ok := pf.Schema().Lookup(name)
		if !ok {
			return fmt.Errorf("read %s: no column %s", path, name)
		}
		if leaf.MaxRepetitionLevel > 0 {
			return fmt.Errorf("read %s: column %s is repeated", path, name)
		}
		index[i] = leaf.ColumnIndex
	}
	row := make([]parquet.Value, len(names))
	cols := make([][]parquet.Value, len(names))
	for _, rg := range pf.RowGroups() {
		if skip != nil {
			skipped, err := skip(rg)
			if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
			if skipped {
				continue
			}
		}
		n := rg.NumRows()
		chunks := rg.ColumnChunks()
		for i, c := range index {
			vals, err := chunkValues(chunks[c], cols[i][:0])
			if err != nil {
				return fmt.Errorf("read column %s of %s: %w", names[i], path, err)
			}
			if int64(len(vals)) != n {
				return fmt.Errorf("read column %s of %s: %d values for %d rows", names[i], path, len(vals), n)
			}
			cols[i] = vals
		}
		for r := range n {
			for i := range cols {
				row[i] = cols[i][r]
			}
			if err := fn(row); err != nil {
				return err
			}
		}
	}
	return nil
}

// chunkValues appends every value of a column chunk to vals. Pages are not
// released back to parquet-go's pools, because byte-array values point into
// them.
func chunkValues(chunk parquet.ColumnChunk, vals []parquet.Value) ([]parquet.Value, error) {
	pages := chunk.Pages()
	defer pages.Close() //nolint:errcheck // closing a page iterator that only read
	buf := make([]parquet.Value, readBatch)
	for {
		p, err := pages.ReadPage()
		if errors.Is(err, io.EOF) {
			return vals, nil
		}
		if err != nil {
			return nil, err
		}
		vr := p.Values()
		for {
			k, err := vr.ReadValues(buf)
			vals = append(vals, buf[:k]...)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
}

// valueString is the text of a string value, empty for NULL.
func valueString(v parquet.Value) string {
	if v.IsNull() {
		return ""
	}
	return string(v.ByteArray())
}

// valueMicros is the time of a TIMESTAMP(MICROS) value, zero for NULL.
func valueMicros(v parquet.Value) time.Time {
	if v.IsNull() {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64()).UTC()
}
