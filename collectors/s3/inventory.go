package s3

import (
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"
)

// manifest is an S3 Inventory report's manifest.json, as the S3 user
// guide documents it.
type manifest struct {
	SourceBucket      string `json:"sourceBucket"`
	DestinationBucket string `json:"destinationBucket"`
	Version           string `json:"version"`
	CreationTimestamp string `json:"creationTimestamp"`
	FileFormat        string `json:"fileFormat"`
	FileSchema        string `json:"fileSchema"`
	Files             []struct {
		Key         string `json:"key"`
		Size        int64  `json:"size"`
		MD5Checksum string `json:"MD5checksum"`
	} `json:"files"`
}

// reportFolder is the name of a report's dated folder:
// YYYY-MM-DDTHH-MMZ.
var reportFolder = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$`)

// parseManifest reads a manifest and checks that it describes the bucket.
func parseManifest(data []byte, bucket string) (*manifest, error) {
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest.json: %w", err)
	}
	if m.SourceBucket != "" && m.SourceBucket != bucket {
		return nil, fmt.Errorf("manifest.json describes bucket %q, not %q", m.SourceBucket, bucket)
	}
	switch strings.ToUpper(m.FileFormat) {
	case "CSV", "PARQUET":
	case "ORC":
		return nil, errors.New("manifest.json: ORC inventory reports are not read; configure the inventory with CSV or Parquet output")
	default:
		return nil, fmt.Errorf("manifest.json: unknown fileFormat %q", m.FileFormat)
	}
	if strings.EqualFold(m.FileFormat, "CSV") && m.FileSchema == "" {
		return nil, errors.New("manifest.json: no fileSchema, so the CSV columns are unknown")
	}
	return &m, nil
}

// csvColumns maps the CSV fileSchema ("Bucket, Key, Size, ...") to the
// position of each field.
func csvColumns(schema string) map[string]int {
	cols := map[string]int{}
	for i, f := range strings.Split(schema, ",") {
		cols[strings.ToLower(strings.TrimSpace(f))] = i
	}
	return cols
}

// inventoryRow collects the fields of one inventory record by their
// lower-case CSV names (parquet names are mapped to the same).
type inventoryRow struct {
	key, size, lastModified, storageClass, encryption, lockMode, retainUntil string
	isLatest, isDeleteMarker                                                 string
}

// set sets the field a report column names (a CSV fileSchema name in
// lower case, or a Parquet column through parquetNames); other columns
// are not read.
func (r *inventoryRow) set(name, v string) {
	switch name {
	case "key":
		r.key = v
	case "size":
		r.size = v
	case "lastmodifieddate":
		r.lastModified = v
	case "storageclass":
		r.storageClass = v
	case "encryptionstatus":
		r.encryption = v
	case "objectlockmode":
		r.lockMode = v
	case "objectlockretainuntildate":
		r.retainUntil = v
	case "islatest":
		r.isLatest = v
	case "isdeletemarker":
		r.isDeleteMarker = v
	}
}

// toObject turns a row into an object; ok is false for rows that are not
// the current version of an object (older versions, delete markers).
func (r *inventoryRow) toObject() (object, bool, error) {
	if strings.EqualFold(r.isLatest, "false") || strings.EqualFold(r.isDeleteMarker, "true") {
		return object{}, false, nil
	}
	o := object{Key: r.key, StorageClass: r.storageClass, Encryption: r.encryption, LockMode: r.lockMode}
	if r.size != "" {
		n, err := strconv.ParseInt(r.size, 10, 64)
		if err != nil {
			return object{}, false, fmt.Errorf("key %q: size %q is not a number", r.key, r.size)
		}
		o.Size = n
	}
	var err error
	if o.LastModified, err = inventoryTime(r.lastModified); err != nil {
		return object{}, false, fmt.Errorf("key %q: LastModifiedDate: %w", r.key, err)
	}
	if o.RetainUntil, err = inventoryTime(r.retainUntil); err != nil {
		return object{}, false, fmt.Errorf("key %q: ObjectLockRetainUntilDate: %w", r.key, err)
	}
	return o, true, nil
}

// inventoryTime reads a CSV date (2024-05-01T13:04:05.000Z) or a Parquet
// timestamp in milliseconds.
func inventoryTime(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(ms).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a time", v)
	}
	return t.UTC(), nil
}

// readCSV reads a gzip-compressed CSV inventory data file, calling fn
// with each current object. Keys in CSV reports are URL-encoded.
func readCSV(r io.Reader, schema string, fn func(object) error) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("gunzip: %w", err)
	}
	defer zr.Close() //nolint:errcheck // read-only; a corrupt stream fails the reads
	cols := csvColumns(schema)
	keyAt, ok := cols["key"]
	if !ok {
		return errors.New("fileSchema has no Key column")
	}
	type field struct {
		name string
		at   int
	}
	fields := make([]field, 0, len(cols))
	for name, at := range cols {
		fields = append(fields, field{name, at})
	}
	cr := csv.NewReader(zr)
	cr.FieldsPerRecord = len(cols)
	cr.ReuseRecord = true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read CSV: %w", err)
		}
		var row inventoryRow
		for _, c := range fields {
			row.set(c.name, rec[c.at])
		}
		if row.key, err = url.QueryUnescape(rec[keyAt]); err != nil {
			return fmt.Errorf("key %q is not URL-encoded as S3 Inventory writes keys: %w", rec[keyAt], err)
		}
		o, ok, err := row.toObject()
		if err != nil {
			return err
		}
		if ok {
			if err := fn(o); err != nil {
				return err
			}
		}
	}
}

// parquetNames maps the column names of Parquet inventory reports to the
// CSV field names.
var parquetNames = map[string]string{
	"key": "key", "size": "size", "last_modified_date": "lastmodifieddate", "storage_class": "storageclass",
	"encryption_status": "encryptionstatus", "object_lock_mode": "objectlockmode",
	"object_lock_retain_until_date": "objectlockretainuntildate", "is_latest": "islatest", "is_delete_marker": "isdeletemarker",
}

// readParquet reads a Parquet inventory data file, calling fn with each
// current object. Columns are found by name in the file's own schema, so
// a report with more or fewer optional fields reads the same.
func readParquet(r io.ReaderAt, size int64, fn func(object) error) error {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return fmt.Errorf("open Parquet: %w", err)
	}
	index := map[int]string{}
	for i, path := range f.Schema().Columns() {
		if len(path) == 1 {
			if name, ok := parquetNames[path[0]]; ok {
				index[i] = name
			}
		}
	}
	found := false
	for _, n := range index {
		found = found || n == "key"
	}
	if !found {
		return errors.New("the Parquet file has no key column")
	}
	rows := make([]parquet.Row, 256)
	for _, rg := range f.RowGroups() {
		rr := rg.Rows()
		for {
			n, err := rr.ReadRows(rows)
			for _, row := range rows[:n] {
				var ir inventoryRow
				for _, v := range row {
					name, ok := index[v.Column()]
					if !ok || v.IsNull() {
						continue
					}
					ir.set(name, parquetString(v))
				}
				o, ok, cerr := ir.toObject()
				if cerr != nil {
					_ = rr.Close()
					return cerr
				}
				if ok {
					if ferr := fn(o); ferr != nil {
						_ = rr.Close()
						return ferr
					}
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = rr.Close()
				return fmt.Errorf("read Parquet rows: %w", err)
			}
		}
		if err := rr.Close(); err != nil {
			return fmt.Errorf("read Parquet rows: %w", err)
		}
	}
	return nil
}

// parquetString renders a Parquet value as the CSV report would hold it
// (booleans as true/false, numbers in decimal, strings as they are).
func parquetString(v parquet.Value) string {
	switch v.Kind() {
	case parquet.Boolean:
		return strconv.FormatBool(v.Boolean())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	default:
		return string(v.ByteArray())
	}
}
