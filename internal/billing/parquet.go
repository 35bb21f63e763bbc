package billing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/restorable/restorable/internal/model"
)

// ParquetColumns returns the column paths of a Parquet file, joined by
// dots (product.key_value.key).
func ParquetColumns(r io.ReaderAt, size int64) ([]string, error) {
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("open parquet: %w", err)
	}
	var cols []string
	for _, path := range pf.Schema().Columns() {
		cols = append(cols, strings.Join(path, "."))
	}
	return cols, nil
}

// parquetBatch is how many kept lines ScanParquet hands emit at once.
const parquetBatch = 4096

// ScanParquet reads a Parquet bill (FOCUS or CUR 2.0) and calls emit with
// its kept lines, a batch at a time, in the order of the file; the lines
// are normalised and attributed as ScanCSV does, and the slice is reused
// once emit returns. Flat columns are read as text; map columns (CUR 2.0
// product and resource_tags, a FOCUS Tags map) by key: product.region is
// key region of product. It returns the bill's format and the counts of
// its rows; an error of emit stops it.
func ScanParquet(ctx context.Context, r io.ReaderAt, size int64, opts Options, emit func(lines []model.CostLine) error) (string, Stats, error) {
	var stats Stats
	pf, err := parquet.OpenFile(r, size)
	if err != nil {
		return "", stats, fmt.Errorf("open parquet: %w", err)
	}
	leaves := pf.Schema().Columns()
	// Flat columns come first in the header; map keys the formats read
	// (product.region) after them.
	type mapLeaf struct {
		name  string
		isKey bool
	}
	var header []string
	flat := map[int]int{}
	maps := map[int]mapLeaf{}
	kinds := make([]parquet.Node, len(leaves))
	for _, path := range leaves {
		leaf, ok := pf.Schema().Lookup(path...)
		if !ok {
			continue
		}
		kinds[leaf.ColumnIndex] = leaf.Node
		switch {
		case len(path) == 1:
			flat[leaf.ColumnIndex] = len(header)
			header = append(header, path[0])
		case len(path) == 3 && (path[2] == "key" || path[2] == "value"):
			maps[leaf.ColumnIndex] = mapLeaf{name: path[0], isKey: path[2] == "key"}
		}
	}
	flatCount := len(header)
	virtual := map[string]int{}
	for _, spec := range columns {
		for _, cs := range spec {
			for _, c := range cs {
				if m, k, ok := strings.Cut(c, "."); ok && !strings.HasPrefix(c, constPrefix) {
					if _, seen := virtual[m+"."+k]; !seen {
						virtual[m+"."+k] = len(header)
						header = append(header, m+"."+k)
					}
				}
			}
		}
	}
	p, err := newPlan(opts.Format, header[:flatCount])
	if err != nil {
		return "", stats, err
	}
	if p, err = newPlan(p.format, header); err != nil {
		return "", stats, err
	}
	tagMap := ""
	switch p.format {
	case FormatCUR2:
		tagMap = cur2TagMap
	case FormatFOCUS:
		tagMap = "Tags"
	}
	var kept []model.CostLine
	row := make([]string, len(header))
	buf := make([]parquet.Row, 256)
	// entries holds, per map column, the keys and values of one row.
	type entries struct{ keys, vals []string }
	perMap := map[string]*entries{}
	for _, m := range maps {
		if perMap[m.name] == nil {
			perMap[m.name] = &entries{}
		}
	}
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			if err := ctx.Err(); err != nil {
				_ = rows.Close()
				return "", stats, err
			}
			n, err := rows.ReadRows(buf)
			for _, pr := range buf[:n] {
				clear(row)
				for _, e := range perMap {
					e.keys, e.vals = e.keys[:0], e.vals[:0]
				}
				for _, v := range pr {
					c := v.Column()
					if j, ok := flat[c]; ok {
						row[j] = valueText(v, kinds[c])
						continue
					}
					ml, ok := maps[c]
					if !ok {
						continue
					}
					// An empty map has one null key; a null value keeps
					// its place beside its key.
					e := perMap[ml.name]
					if ml.isKey {
						if !v.IsNull() {
							e.keys = append(e.keys, valueText(v, kinds[c]))
						}
					} else {
						e.vals = append(e.vals, valueText(v, kinds[c]))
					}
				}
				var tags map[string]string
				for name, e := range perMap {
					for i, k := range e.keys {
						val := ""
						if i < len(e.vals) {
							val = e.vals[i]
						}
						if name == tagMap {
							if val != "" {
								if tags == nil {
									tags = map[string]string{}
								}
								tags[k] = val
							}
							continue
						}
						if j, ok := virtual[name+"."+k]; ok {
							row[j] = val
						}
					}
				}
				stats.Rows++
				if l, ok := keepLine(p, row, tags, opts, &stats); ok {
					kept = append(kept, l)
				}
			}
			if len(kept) >= parquetBatch {
				if err := emit(kept); err != nil {
					_ = rows.Close()
					return "", stats, err
				}
				kept = kept[:0]
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rows.Close()
				return "", stats, fmt.Errorf("read rows: %w", err)
			}
		}
		if err := rows.Close(); err != nil {
			return "", stats, fmt.Errorf("read rows: %w", err)
		}
	}
	if len(kept) > 0 {
		if err := emit(kept); err != nil {
			return "", stats, err
		}
	}
	return p.format, stats, nil
}

// valueText writes a Parquet value as the text a CSV export would hold:
// timestamps in RFC 3339 (UTC), dates, decimals and numbers in full.
func valueText(v parquet.Value, n parquet.Node) string {
	if v.IsNull() {
		return ""
	}
	var lt *format.LogicalType
	if n != nil {
		lt = n.Type().LogicalType()
	}
	switch {
	case lt != nil && lt.Timestamp != nil:
		var t time.Time
		switch u := lt.Timestamp.Unit; {
		case u.Millis != nil:
			t = time.UnixMilli(v.Int64())
		case u.Nanos != nil:
			t = time.Unix(0, v.Int64())
		default:
			t = time.UnixMicro(v.Int64())
		}
		return t.UTC().Format(time.RFC3339Nano)
	case lt != nil && lt.Date != nil:
		return time.Unix(int64(v.Int32())*86400, 0).UTC().Format(time.DateOnly)
	case lt != nil && lt.Decimal != nil:
		var i big.Int
		switch v.Kind() {
		case parquet.Int32:
			i.SetInt64(int64(v.Int32()))
		case parquet.Int64:
			i.SetInt64(v.Int64())
		default:
			b := v.ByteArray()
			i.SetBytes(b)
			if len(b) > 0 && b[0]&0x80 != 0 {
				i.Sub(&i, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
			}
		}
		f := new(big.Float).SetInt(&i)
		f.Quo(f, new(big.Float).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(lt.Decimal.Scale)), nil)))
		return f.Text('g', 20)
	}
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	}
	return v.String()
}
