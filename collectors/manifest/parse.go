package manifest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

// Record kinds: a record describes a backup unless its kind says it
// describes the repository backups are stored in.
const (
	KindBackup     = "backup"
	KindRepository = "repository"
)

// Record is one backup, or one repository, as a manifest file describes
// it. The field names are the documented format (docs/manifest.md,
// docs/manifest.schema.json).
type Record struct {
	// Kind is "backup" (the default, so that manifests written before
	// repository records existed keep their meaning) or "repository".
	Kind string `json:"kind"`
	// Name, ObservedAt, DedupRatio, CompressionRatio, Healthy and
	// BackupLocked belong to repository records.
	Name             string  `json:"name"`
	ObservedAt       string  `json:"observed_at"`
	DedupRatio       float64 `json:"dedup_ratio"`
	CompressionRatio float64 `json:"compression_ratio"`
	Healthy          *bool   `json:"healthy"`
	BackupLocked     bool    `json:"backup_locked"`

	Env            string            `json:"env"`
	Dataset        string            `json:"dataset"`
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Release        string            `json:"release"`
	Parent         string            `json:"parent"`
	Start          string            `json:"start"`
	End            string            `json:"end"`
	Status         string            `json:"status"`
	Error          string            `json:"error"`
	LogicalBytes   int64             `json:"logical_bytes"`
	StoredBytes    int64             `json:"stored_bytes"`
	FileCount      int64             `json:"file_count"`
	Location       string            `json:"location"`
	StorageClass   string            `json:"storage_class"`
	Region         string            `json:"region"`
	Encrypted      bool              `json:"encrypted"`
	KeyID          string            `json:"key_id"`
	Immutable      bool              `json:"immutable"`
	RetainUntil    string            `json:"retain_until"`
	Checksum       string            `json:"checksum"`
	Agent          string            `json:"agent"`
	AgentVersion   string            `json:"agent_version"`
	Classification string            `json:"classification"`
	Tags           map[string]string `json:"tags"`
	// Paths are the absolute roots the backup was taken of and, if the
	// producer knows them, entries below them: see model.BackupDetail.Paths.
	Paths []string `json:"paths"`
}

// document is the object form of a .json manifest file.
type document struct {
	Backups []Record `json:"backups"`
}

// ChecksumAlgorithms are the checksum algorithms a manifest may name.
var ChecksumAlgorithms = []string{"sha256", "sha512", "sha1", "md5"}

// parseFile decodes one manifest file and appends its records to cat: a
// .json file holds one record, an array of records or {"backups": [...]};
// any other file is NDJSON, one record per line. Errors name the line of
// the offending record.
func parseFile(name string, data []byte, p *parser, cat *model.Catalog) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil
	}
	if strings.HasSuffix(name, ".json") {
		return parseJSON(name, trimmed, p, cat)
	}
	// One decoder for the whole file: a decoder per line would allocate
	// its buffers a hundred thousand times for a large catalog.
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	for {
		start := skipSpace(data, int(dec.InputOffset()))
		line := 1 + bytes.Count(data[:start], []byte("\n"))
		var r Record
		err := dec.Decode(&r)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, jsonErr(data[start:], err))
		}
		if end := int(dec.InputOffset()); bytes.Contains(data[start:end], []byte("\n")) {
			return fmt.Errorf("%s:%d: a record spans several lines: NDJSON has one record per line", name, line)
		}
		if err := p.add(&r, cat); err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
	}
}

// add checks a decoded record and appends it to cat as a backup or a
// repository.
func (p *parser) add(r *Record, cat *model.Catalog) error {
	switch r.Kind {
	case "", KindBackup:
		b, err := p.backup(r)
		if err != nil {
			return err
		}
		cat.Backups = append(cat.Backups, b)
	case KindRepository:
		repo, err := p.repository(r)
		if err != nil {
			return err
		}
		cat.Repositories = append(cat.Repositories, repo)
	default:
		return fmt.Errorf("kind: %q is not one of backup, repository", r.Kind)
	}
	return nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

func parseJSON(name string, data []byte, p *parser, cat *model.Catalog) error {
	var recs []Record
	switch data[0] {
	case '[':
		if err := strictUnmarshal(data, &recs); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	case '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(data, &probe); err != nil {
			return fmt.Errorf("%s: %w", name, jsonErr(data, err))
		}
		if _, ok := probe["backups"]; ok {
			var doc document
			if err := strictUnmarshal(data, &doc); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			recs = doc.Backups
		} else {
			var r Record
			if err := strictUnmarshal(data, &r); err != nil {
				return fmt.Errorf("%s: backup 0: %w", name, err)
			}
			recs = []Record{r}
		}
	default:
		return fmt.Errorf("%s: expected a JSON object or array, found %q", name, data[:1])
	}
	for i := range recs {
		if err := p.add(&recs[i], cat); err != nil {
			what := "backup"
			if recs[i].Kind == KindRepository {
				what = "repository record"
			}
			return fmt.Errorf("%s: %s %d: %w", name, what, i, err)
		}
	}
	return nil
}

// jsonErr adds the line of a syntax error, which encoding/json reports as a
// byte offset.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("line %d: %w", line, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated JSON: %w", err)
	}
	return err
}

func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonErr(data, err)
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// parser turns records into model backups for one source.
type parser struct {
	src *config.Source
	// now, when set, makes "now" and "now-26h" valid times (the demo).
	now time.Time
	// observedAt is the time of a repository record that names none:
	// the collection's.
	observedAt time.Time
}

// record decodes and checks one record, for tests of single records.
func (p *parser) record(raw []byte) (model.Backup, error) {
	var r Record
	if err := strictUnmarshal(raw, &r); err != nil {
		return model.Backup{}, err
	}
	return p.backup(&r)
}

// The bounds of a record's fields. A record is a description of one
// backup, so a field longer than this is a writer's mistake; it is refused
// rather than cut, because a cut id or dataset would silently name another
// backup. The error text is the exception: it is cut to MaxErrorBytes,
// because the failure it reports matters more than the whole of it, and
// one 50 MB stack trace must not be copied into every history row.
const (
	MaxFieldBytes    = 1 << 10 // env, dataset, id, release, key_id, agent, ... and each tag key
	MaxLongBytes     = 4 << 10 // location, each path and each tag value
	MaxErrorBytes    = 4 << 10 // error, cut beyond this
	MaxTags          = 64
	MaxPaths         = 256
	truncationMarker = " … [cut by restorable: %d bytes in the manifest]"
)

// checkLimits refuses a record with a field beyond its bound and cuts its
// error text to MaxErrorBytes.
func checkLimits(r *Record) error {
	for _, f := range []struct {
		name, v string
		max     int
	}{
		{"env", r.Env, MaxFieldBytes}, {"dataset", r.Dataset, MaxFieldBytes}, {"id", r.ID, MaxFieldBytes},
		{"type", r.Type, MaxFieldBytes}, {"release", r.Release, MaxFieldBytes}, {"parent", r.Parent, MaxFieldBytes},
		{"start", r.Start, MaxFieldBytes}, {"end", r.End, MaxFieldBytes}, {"status", r.Status, MaxFieldBytes},
		{"location", r.Location, MaxLongBytes}, {"storage_class", r.StorageClass, MaxFieldBytes},
		{"region", r.Region, MaxFieldBytes}, {"key_id", r.KeyID, MaxFieldBytes}, {"retain_until", r.RetainUntil, MaxFieldBytes},
		{"checksum", r.Checksum, MaxFieldBytes}, {"agent", r.Agent, MaxFieldBytes}, {"agent_version", r.AgentVersion, MaxFieldBytes},
		{"classification", r.Classification, MaxFieldBytes},
	} {
		if len(f.v) > f.max {
			return fieldLimit(f.name, len(f.v), f.max)
		}
	}
	if len(r.Tags) > MaxTags {
		return runx.Errorf(runx.KindLimit, "tags: %d tags, more than the limit of %d", len(r.Tags), MaxTags)
	}
	for k, v := range r.Tags {
		if len(k) > MaxFieldBytes {
			return fieldLimit("tags key", len(k), MaxFieldBytes)
		}
		if len(v) > MaxLongBytes {
			return fieldLimit("tags."+k, len(v), MaxLongBytes)
		}
	}
	if len(r.Paths) > MaxPaths {
		return runx.Errorf(runx.KindLimit, "paths: %d paths, more than the limit of %d", len(r.Paths), MaxPaths)
	}
	for i, v := range r.Paths {
		if len(v) > MaxLongBytes {
			return fieldLimit(fmt.Sprintf("paths[%d]", i), len(v), MaxLongBytes)
		}
	}
	r.Error = cutError(r.Error)
	return nil
}

func fieldLimit(name string, n, max int) error {
	return runx.Errorf(runx.KindLimit, "%s: %d bytes, more than the limit of %s", name, n, runx.FormatBytes(int64(max)))
}

// cutError cuts an error text longer than MaxErrorBytes at a character
// boundary and says how long it was.
func cutError(s string) string {
	if len(s) <= MaxErrorBytes {
		return s
	}
	cut := MaxErrorBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf(truncationMarker, len(s))
}

// repository checks a decoded repository record and turns it into a
// model repository. Fields that only describe a backup are refused, so
// that a backup written with "kind": "repository" by mistake is not
// silently half-read.
func (p *parser) repository(r *Record) (model.Repository, error) {
	if len(r.Name) > MaxFieldBytes || len(r.ObservedAt) > MaxFieldBytes {
		return model.Repository{}, fieldLimit("name or observed_at", max(len(r.Name), len(r.ObservedAt)), MaxFieldBytes)
	}
	if err := checkLimits(r); err != nil {
		return model.Repository{}, err
	}
	repo := model.Repository{
		Source: p.src.Name, Env: cmp.Or(r.Env, p.src.Env), Dataset: cmp.Or(r.Dataset, p.src.Dataset), Name: r.Name,
		Location: r.Location, StorageClass: r.StorageClass, Region: r.Region,
		StoredBytes: r.StoredBytes, LogicalBytes: r.LogicalBytes, DedupRatio: r.DedupRatio, CompressionRatio: r.CompressionRatio,
		Status: r.Error, BackupLocked: r.BackupLocked,
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"id", r.ID != ""}, {"type", r.Type != ""}, {"release", r.Release != ""}, {"parent", r.Parent != ""},
		{"start", r.Start != ""}, {"end", r.End != ""}, {"status", r.Status != ""}, {"file_count", r.FileCount != 0},
		{"encrypted", r.Encrypted}, {"key_id", r.KeyID != ""}, {"immutable", r.Immutable}, {"retain_until", r.RetainUntil != ""},
		{"checksum", r.Checksum != ""}, {"agent", r.Agent != ""}, {"agent_version", r.AgentVersion != ""},
		{"classification", r.Classification != ""}, {"tags", r.Tags != nil}, {"paths", r.Paths != nil},
	} {
		if f.set {
			return repo, fmt.Errorf("%s: describes a backup, not a repository record", f.name)
		}
	}
	switch {
	case repo.Name == "":
		return repo, errors.New("name: required for a repository record")
	case r.Healthy == nil:
		return repo, errors.New("healthy: required for a repository record (true, or false with the problem in error)")
	case repo.Env == "":
		return repo, errors.New("env: required (or set env on the source)")
	case repo.StoredBytes < 0 || repo.LogicalBytes < 0 || repo.DedupRatio < 0 || repo.CompressionRatio < 0:
		return repo, errors.New("sizes and ratios must not be negative")
	}
	repo.Healthy = *r.Healthy
	if !repo.Healthy {
		repo.StatusCode = 1
	}
	var err error
	if repo.ObservedAt, err = p.time("observed_at", r.ObservedAt, true); err != nil {
		return repo, err
	}
	if repo.ObservedAt.IsZero() {
		repo.ObservedAt = p.observedAt
	}
	return repo, nil
}

// backup checks a decoded record and turns it into a model backup.
func (p *parser) backup(r *Record) (model.Backup, error) {
	if err := checkLimits(r); err != nil {
		return model.Backup{}, err
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"name", r.Name != ""}, {"observed_at", r.ObservedAt != ""}, {"dedup_ratio", r.DedupRatio != 0},
		{"compression_ratio", r.CompressionRatio != 0}, {"healthy", r.Healthy != nil}, {"backup_locked", r.BackupLocked},
	} {
		if f.set {
			return model.Backup{}, fmt.Errorf(`%s: describes a repository: add "kind": "repository"`, f.name)
		}
	}
	b := model.Backup{
		Source: p.src.Name, Env: r.Env, Dataset: r.Dataset, ID: r.ID,
		Type: model.BackupType(r.Type), Release: r.Release, Parent: r.Parent,
		Status: model.Status(r.Status), Error: r.Error,
		LogicalBytes: r.LogicalBytes, StoredBytes: r.StoredBytes,
		Location: r.Location, StorageClass: r.StorageClass, Region: r.Region,
		Encrypted: r.Encrypted, KeyID: r.KeyID, Immutable: r.Immutable,
		Classification: r.Classification,
	}
	b.SetDetails(model.BackupDetail{FileCount: r.FileCount, Checksum: r.Checksum, Agent: r.Agent, AgentVersion: r.AgentVersion, Paths: r.Paths})
	if b.Env == "" {
		b.Env = p.src.Env
	}
	if b.Dataset == "" {
		b.Dataset = p.src.Dataset
	}
	if b.Classification == "" {
		b.Classification = p.src.Classification
	}
	if b.Status == "" {
		b.Status = model.StatusSucceeded
	}
	if len(r.Tags) > 0 || len(p.src.Labels) > 0 {
		b.Tags = make(map[string]string, len(r.Tags)+len(p.src.Labels))
		for k, v := range p.src.Labels {
			b.Tags[k] = v
		}
		for k, v := range r.Tags {
			b.Tags[k] = v
		}
	}
	var err error
	if b.Start, err = p.time("start", r.Start, false); err != nil {
		return b, err
	}
	if b.End, err = p.time("end", r.End, b.Status == model.StatusRunning); err != nil {
		return b, err
	}
	if b.RetainUntil, err = p.time("retain_until", r.RetainUntil, true); err != nil {
		return b, err
	}
	switch {
	case b.ID == "":
		return b, errors.New("id: required")
	case b.Env == "":
		return b, errors.New("env: required (or set env on the source)")
	case b.Dataset == "":
		return b, errors.New("dataset: required (or set dataset on the source)")
	case !b.Type.Valid():
		return b, fmt.Errorf("type: %q is not one of full, diff, incr, snapshot, logical, wal", r.Type)
	case !b.Status.Valid():
		return b, fmt.Errorf("status: %q is not one of succeeded, failed, partial, running", r.Status)
	case !b.End.IsZero() && b.End.Before(b.Start):
		return b, fmt.Errorf("end %s is before start %s", r.End, r.Start)
	case b.LogicalBytes < 0 || b.StoredBytes < 0 || r.FileCount < 0:
		return b, errors.New("sizes and counts must not be negative")
	}
	if r.Checksum != "" {
		if err := checkChecksum(r.Checksum); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (p *parser) time(field, v string, optional bool) (time.Time, error) {
	if v == "" {
		if optional {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("%s: required", field)
	}
	if !p.now.IsZero() {
		if rest, ok := strings.CutPrefix(v, "now"); ok {
			if rest == "" {
				return p.now, nil
			}
			sign := rest[0]
			d, err := config.ParseDuration(rest[1:])
			if err != nil || (sign != '-' && sign != '+') {
				return time.Time{}, fmt.Errorf("%s: %q is not now, now-DURATION or now+DURATION", field, v)
			}
			if sign == '-' {
				d = -d
			}
			return p.now.Add(d).Truncate(time.Second), nil
		}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not an RFC 3339 time such as 2026-05-01T02:00:00Z", field, v)
	}
	return t.UTC(), nil
}

func checkChecksum(c string) error {
	alg, hexDigest, ok := strings.Cut(c, ":")
	want := map[string]int{"sha256": 64, "sha512": 128, "sha1": 40, "md5": 32}
	n, known := want[alg]
	if !ok || !known {
		return fmt.Errorf("checksum: %q must be ALGORITHM:HEX with ALGORITHM one of %s", c, strings.Join(ChecksumAlgorithms, ", "))
	}
	if len(hexDigest) != n || strings.Trim(strings.ToLower(hexDigest), "0123456789abcdef") != "" {
		return fmt.Errorf("checksum: %s digest must be %d hex digits", alg, n)
	}
	return nil
}
