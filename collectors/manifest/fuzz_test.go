package manifest

import (
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// The manifest parser never panics, and every record it accepts is within
// the documented bounds: it has an id, env and dataset, valid type and
// status, an end not before its start, and an error text of at most
// MaxErrorBytes plus the cut marker. ndjson picks the file format (.ndjson
// or .json). The seed corpus is in testdata/fuzz/FuzzParseFile.
func FuzzParseFile(f *testing.F) {
	src := &config.Source{Name: "ci", Env: "prod"}
	f.Fuzz(func(t *testing.T, ndjson bool, data []byte) {
		name := "a.json"
		if ndjson {
			name = "a.ndjson"
		}
		p := &parser{src: src, now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
		cat := &model.Catalog{}
		if err := parseFile(name, data, p, cat); err != nil {
			return
		}
		for _, r := range cat.Repositories {
			if r.Name == "" || len(r.Name) > MaxFieldBytes || r.Env == "" {
				t.Fatalf("accepted a repository beyond its bounds: %+v", r)
			}
		}
		for _, b := range cat.Backups {
			if b.ID == "" || b.Env == "" || b.Dataset == "" || !b.Type.Valid() || !b.Status.Valid() {
				t.Fatalf("accepted an incomplete backup: %+v", b)
			}
			if !b.End.IsZero() && b.End.Before(b.Start) {
				t.Fatalf("accepted a backup that ends before it starts: %+v", b)
			}
			if len(b.Error) > MaxErrorBytes+len(truncationMarker)+20 {
				t.Fatalf("accepted an error text of %d bytes", len(b.Error))
			}
			if len(b.ID) > MaxFieldBytes || len(b.Tags) > MaxTags+len(src.Labels) || len(b.Details().Paths) > MaxPaths {
				t.Fatalf("accepted a backup beyond the field limits: id %d bytes, %d tags, %d paths", len(b.ID), len(b.Tags), len(b.Details().Paths))
			}
		}
	})
}
