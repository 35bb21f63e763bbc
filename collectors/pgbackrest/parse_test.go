package pgbackrest

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// observed is the fixed collection time of the tests.
func observed() time.Time { return time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC) }

func testSource() *config.Source {
	return &config.Source{Name: "payments-db", Type: config.TypePgBackRest, Env: "prod", PgBackRest: &config.PgBackRestOptions{}}
}

// catalogOf parses a fixture and maps it as a source reading one stanza
// (qualify false) or several.
func catalogOf(t *testing.T, fixture string, src *config.Source, qualify bool) *model.Catalog {
	t.Helper()
	stanzas, err := parseInfo(readFixture(t, fixture))
	if err != nil {
		t.Fatalf("parse %s: %v", fixture, err)
	}
	m := &mapper{src: src, opts: src.PgBackRest, qualify: qualify, observedAt: observed()}
	return m.catalog(stanzas)
}

func TestHealthyStanza(t *testing.T) {
	cat := catalogOf(t, "healthy.json", testSource(), false)
	const full = "20261125-201458F"
	want := []struct {
		id, parent, release string
		typ                 model.BackupType
		start, end          int64
		logical, stored     int64
		lsnStart, lsnStop   string
		walStart, walStop   string
	}{
		{full, "", "v1.4", model.BackupFull, 1795637698, 1795637701, 23320377, 23320377, "0/2000028", "0/2000100", "000000010000000000000002", "000000010000000000000002"},
		{full + "_20261125-201501I", full, "", model.BackupIncr, 1795637701, 1795637703, 23385913, 803082, "0/4000028", "0/4000100", "000000010000000000000004", "000000010000000000000004"},
		{full + "_20261125-201504D", full, "v1.5", model.BackupDiff, 1795637704, 1795637705, 23451449, 868618, "0/6000028", "0/6000100", "000000010000000000000006", "000000010000000000000006"},
	}
	if len(cat.Backups) != len(want) {
		t.Fatalf("got %d backups, want %d", len(cat.Backups), len(want))
	}
	for i, w := range want {
		b := cat.Backups[i]
		if b.ID != w.id || b.Parent != w.parent || b.Release != w.release || b.Type != w.typ {
			t.Errorf("backup %d: id %q parent %q release %q type %q, want %q %q %q %q", i, b.ID, b.Parent, b.Release, b.Type, w.id, w.parent, w.release, w.typ)
		}
		if !b.Start.Equal(time.Unix(w.start, 0)) || !b.End.Equal(time.Unix(w.end, 0)) || b.Start.Location() != time.UTC {
			t.Errorf("%s: start %v end %v, want unix %d..%d in UTC", b.ID, b.Start, b.End, w.start, w.end)
		}
		if b.LogicalBytes != w.logical || b.StoredBytes != w.stored {
			t.Errorf("%s: logical %d stored %d, want %d %d", b.ID, b.LogicalBytes, b.StoredBytes, w.logical, w.stored)
		}
		if b.Details().LSNStart != w.lsnStart || b.Details().LSNStop != w.lsnStop || b.Details().WALStart != w.walStart || b.Details().WALStop != w.walStop {
			t.Errorf("%s: lsn %s..%s wal %s..%s", b.ID, b.Details().LSNStart, b.Details().LSNStop, b.Details().WALStart, b.Details().WALStop)
		}
		if b.Source != "payments-db" || b.Env != "prod" || b.Dataset != "demo" || b.Status != model.StatusSucceeded || !b.Good() {
			t.Errorf("%s: source %q env %q dataset %q status %q", b.ID, b.Source, b.Env, b.Dataset, b.Status)
		}
		if b.Details().Agent != "pgbackrest" || b.Details().AgentVersion != "2.45" || b.Location != "repo1" || b.Encrypted {
			t.Errorf("%s: agent %s %s location %s encrypted %v", b.ID, b.Details().Agent, b.Details().AgentVersion, b.Location, b.Encrypted)
		}
	}
	if got := cat.Backups[0].Tags; got["ticket"] != "OPS-1" || got["release"] != "v1.4" {
		t.Errorf("annotations are not tags: %v", got)
	}
	if cat.Backups[1].Tags != nil {
		t.Errorf("backup without annotations or labels has tags %v", cat.Backups[1].Tags)
	}

	if len(cat.Repositories) != 1 {
		t.Fatalf("got %d repositories, want 1", len(cat.Repositories))
	}
	r := cat.Repositories[0]
	stored := int64(23320377 + 803082 + 868618)
	if r.Name != "demo" || r.Dataset != "demo" || r.Location != "repo1" || !r.ObservedAt.Equal(observed()) {
		t.Errorf("repository %+v", r)
	}
	if !r.Healthy || r.StatusCode != 0 || r.Status != "ok" || r.BackupLocked || r.RestoreLocked {
		t.Errorf("repository health: healthy %v code %d %q locks %v/%v", r.Healthy, r.StatusCode, r.Status, r.BackupLocked, r.RestoreLocked)
	}
	if r.WALMin != "000000010000000000000001" || r.WALMax != "000000010000000000000006" {
		t.Errorf("WAL range %s..%s", r.WALMin, r.WALMax)
	}
	if r.StoredBytes != stored || r.LogicalBytes != 23451449 {
		t.Errorf("repository stored %d logical %d, want %d 23451449", r.StoredBytes, r.LogicalBytes, stored)
	}
	// compress-type=none: the repository holds the database byte for byte.
	if r.CompressionRatio != 1 {
		t.Errorf("compression ratio %v, want 1", r.CompressionRatio)
	}
	wantDedup := float64(23320377+23385913+23451449) / float64(stored)
	if math.Abs(r.DedupRatio-wantDedup) > 1e-9 {
		t.Errorf("dedup ratio %v, want %v", r.DedupRatio, wantDedup)
	}
}

func TestBackupWithErrors(t *testing.T) {
	cat := catalogOf(t, "error-backup.json", testSource(), false)
	if len(cat.Backups) != 2 {
		t.Fatalf("got %d backups, want 2", len(cat.Backups))
	}
	full, incr := cat.Backups[0], cat.Backups[1]
	if full.Status != model.StatusSucceeded || full.Error != "" {
		t.Errorf("full: status %q error %q", full.Status, full.Error)
	}
	if incr.Status != model.StatusFailed || incr.Good() || !strings.Contains(incr.Error, "page checksum") {
		t.Errorf("backup with error=true: status %q error %q, want failed with a reason", incr.Status, incr.Error)
	}
	if incr.Parent != full.ID {
		t.Errorf("incr parent %q, want %q", incr.Parent, full.ID)
	}
	if r := cat.Repositories[0]; !r.Healthy {
		t.Errorf("pgBackRest reports the stanza ok, got unhealthy %+v", r)
	}
}

func TestStanzaStatus(t *testing.T) {
	tests := []struct {
		fixture     string
		repo        string
		healthy     bool
		code        int
		message     string
		backupLock  bool
		restoreLock bool
		walMin      string
		backups     int
	}{
		{"missing-stanza-path.json", "demo", false, 1, "missing stanza path", false, false, "", 0},
		{"no-backups.json", "demo", false, 2, "no valid backups", false, false, "", 0},
		{"lock-held.json", "demo", true, 0, "ok", true, false, "000000010000000000000001", 3},
		{"newer-2.5x.json", "app", true, 0, "ok", true, false, "000000010000000000000001", 3},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			cat := catalogOf(t, tt.fixture, testSource(), false)
			if len(cat.Backups) != tt.backups || len(cat.Repositories) != 1 {
				t.Fatalf("got %d backups, %d repositories", len(cat.Backups), len(cat.Repositories))
			}
			r := cat.Repositories[0]
			if r.Name != tt.repo || r.Healthy != tt.healthy || r.StatusCode != tt.code || r.Status != tt.message {
				t.Errorf("repository %s healthy %v code %d %q, want %s %v %d %q", r.Name, r.Healthy, r.StatusCode, r.Status, tt.repo, tt.healthy, tt.code, tt.message)
			}
			if r.BackupLocked != tt.backupLock || r.RestoreLocked != tt.restoreLock {
				t.Errorf("locks backup %v restore %v, want %v %v", r.BackupLocked, r.RestoreLocked, tt.backupLock, tt.restoreLock)
			}
			if r.WALMin != tt.walMin {
				t.Errorf("WAL min %q, want %q", r.WALMin, tt.walMin)
			}
		})
	}
}

func TestNewerOutputShape(t *testing.T) {
	cat := catalogOf(t, "newer-2.5x.json", testSource(), false)
	b := cat.Backups[0]
	if b.Details().AgentVersion != "2.54.2" || b.Details().LSNStart != "A/10000028" || b.StoredBytes != 23320377 || !b.Encrypted {
		t.Errorf("backup %+v", b)
	}
	if tags := cat.Backups[1].Tags; tags != nil {
		t.Errorf("an empty annotation gave tags %v", tags)
	}
	r := cat.Repositories[0]
	// Block-incremental repositories leave out the backup set size, so
	// neither ratio can be known; zero means "not reported".
	if r.CompressionRatio != 0 || r.DedupRatio != 0 || r.StoredBytes == 0 {
		t.Errorf("repository ratios %v %v stored %d", r.CompressionRatio, r.DedupRatio, r.StoredBytes)
	}
}

func TestMultipleRepositories(t *testing.T) {
	cat := catalogOf(t, "multi-repo.json", testSource(), false)
	if len(cat.Backups) != 5 || len(cat.Repositories) != 2 {
		t.Fatalf("got %d backups, %d repositories", len(cat.Backups), len(cat.Repositories))
	}
	for _, b := range cat.Backups {
		wantRepo, wantEnc := "repo1", false
		if b.ID == "20261125-201647F" {
			wantRepo, wantEnc = "repo2", true
		}
		if b.Location != wantRepo || b.Encrypted != wantEnc {
			t.Errorf("%s: location %s encrypted %v, want %s %v", b.ID, b.Location, b.Encrypted, wantRepo, wantEnc)
		}
	}
	r1, r2 := cat.Repositories[0], cat.Repositories[1]
	if r1.Name != "demo/repo1" || r2.Name != "demo/repo2" || !r1.Healthy || !r2.Healthy {
		t.Errorf("repositories %s %v, %s %v", r1.Name, r1.Healthy, r2.Name, r2.Healthy)
	}
	if r1.WALMin != "000000010000000000000001" || r2.WALMin != "000000010000000000000009" || r2.WALMax != "00000001000000000000000A" {
		t.Errorf("WAL ranges %s..%s and %s..%s", r1.WALMin, r1.WALMax, r2.WALMin, r2.WALMax)
	}
	if r2.StoredBytes != cat.Backups[4].StoredBytes || r2.LogicalBytes != cat.Backups[4].LogicalBytes {
		t.Errorf("repo2 sizes %d %d are not its one backup's", r2.StoredBytes, r2.LogicalBytes)
	}

	cat = catalogOf(t, "mixed-status.json", testSource(), false)
	r1, r2 = cat.Repositories[0], cat.Repositories[1]
	if !r1.Healthy || r2.Healthy || r2.StatusCode != 1 || r2.Status != "missing stanza path" {
		t.Errorf("mixed status: repo1 %v, repo2 %v %d %q", r1.Healthy, r2.Healthy, r2.StatusCode, r2.Status)
	}
}

func TestAllStanzasQualifyIDs(t *testing.T) {
	cat := catalogOf(t, "all-stanzas.json", testSource(), true)
	seen := map[string]bool{}
	for _, b := range cat.Backups {
		if seen[b.Key()] {
			t.Errorf("duplicate key %q", b.Key())
		}
		seen[b.Key()] = true
		if !strings.HasPrefix(b.ID, b.Dataset+"/") {
			t.Errorf("id %q does not name its stanza %s", b.ID, b.Dataset)
		}
		if b.Type != model.BackupFull && !strings.HasPrefix(b.Parent, b.Dataset+"/") {
			t.Errorf("parent %q of %s is not qualified", b.Parent, b.ID)
		}
	}
	if len(cat.Backups) != 5 || len(cat.Repositories) != 2 || cat.Repositories[0].Name != "broken" || cat.Repositories[1].Name != "demo" {
		t.Errorf("got %d backups and repositories %v", len(cat.Backups), cat.Repositories)
	}
}

func TestSourceSettingsApply(t *testing.T) {
	src := testSource()
	src.Env = ""
	src.Classification = "pii"
	src.DatasetFrom = "tag:ticket"
	src.Labels = map[string]string{"team": "payments", "ticket": "from-label"}
	src.PgBackRest = &config.PgBackRestOptions{StorageClass: "STANDARD_IA", Region: "eu-west-1", Encrypted: true, KeyID: "arn:aws:kms:eu-west-1:111122223333:key/k", Immutable: true}
	cat := catalogOf(t, "healthy.json", src, false)
	full, incr := cat.Backups[0], cat.Backups[1]
	if full.Dataset != "OPS-1" || incr.Dataset != "demo" {
		t.Errorf("dataset_from tag:ticket: %q and %q, want the annotation, else the stanza", full.Dataset, incr.Dataset)
	}
	if full.Tags["team"] != "payments" || full.Tags["ticket"] != "OPS-1" || incr.Tags["ticket"] != "from-label" {
		t.Errorf("tags %v / %v: labels apply, annotations win", full.Tags, incr.Tags)
	}
	for _, b := range cat.Backups {
		if b.Env != "" || b.Classification != "pii" || b.StorageClass != "STANDARD_IA" || b.Region != "eu-west-1" ||
			!b.Encrypted || b.KeyID == "" || !b.Immutable {
			t.Errorf("%s: source settings not applied: %+v", b.ID, b)
		}
	}
	if r := cat.Repositories[0]; r.StorageClass != "STANDARD_IA" || r.Region != "eu-west-1" || r.Env != "" {
		t.Errorf("repository %+v", r)
	}

	src = testSource()
	src.Env = ""
	src.Dataset = "payments"
	data := bytes.Replace(readFixture(t, "healthy.json"), []byte(`"ticket": "OPS-1"`), []byte(`"env": "staging"`), 1)
	stanzas, err := parseInfo(data)
	if err != nil {
		t.Fatal(err)
	}
	cat = (&mapper{src: src, opts: src.PgBackRest, observedAt: observed()}).catalog(stanzas)
	if cat.Backups[0].Env != "staging" || cat.Backups[0].Dataset != "payments" || cat.Repositories[0].Dataset != "payments" {
		t.Errorf("env annotation / fixed dataset: %+v", cat.Backups[0])
	}
}

func TestParseInfoRejectsBadOutput(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"empty output", "  \n", "empty output"},
		{"error text", "ERROR: [055]: unable to open missing file", "expected a JSON array"},
		{"object", `{"name":"demo"}`, "expected a JSON array"},
		{"truncated", string(readFixture(t, "truncated.json")), "truncated JSON"},
		{"syntax", "[\n{\"name\":\"demo\",}\n]", "line 2"},
		{"wrong field type", `[{"name":"demo","backup":[{"label":"x","type":"full","timestamp":{"start":"yesterday"}}]}]`, "timestamp.start"},
		{"no name", `[{"backup":[]}]`, "name is missing"},
		{"no label", `[{"name":"demo","backup":[{"type":"full","timestamp":{"start":1}}]}]`, "label is missing"},
		{"unknown type", `[{"name":"demo","backup":[{"label":"x","type":"block","timestamp":{"start":1}}]}]`, `type "block"`},
		{"no start", `[{"name":"demo","backup":[{"label":"x","type":"full"}]}]`, "timestamp.start is missing"},
		{"stop before start", `[{"name":"demo","backup":[{"label":"x","type":"full","timestamp":{"start":10,"stop":5}}]}]`, "before timestamp.start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseInfo([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseInfoEmptyAndUnknownFields(t *testing.T) {
	stanzas, err := parseInfo(readFixture(t, "empty.json"))
	if err != nil || len(stanzas) != 0 {
		t.Errorf("empty array: %v, %d stanzas", err, len(stanzas))
	}
	data := `[{"name":"s","future":{"x":[1,2]},"backup":[{"label":"L","type":"full","timestamp":{"start":1,"stop":2},` +
		`"annotation":null,"prior":null,"reference":null,"error-list":["base/1/3351"],"new-thing":true}],"repo":[{"key":1,"cipher":"none","status":{"code":0,"message":"ok"},"extra":1}]}]`
	stanzas, err = parseInfo([]byte(data))
	if err != nil || len(stanzas) != 1 || len(stanzas[0].Backup) != 1 {
		t.Fatalf("unknown fields: %v %+v", err, stanzas)
	}
}

// BenchmarkParseInfo measures parsing and mapping a stanza with a year of
// daily backups plus hourly incrementals of the last week.
func BenchmarkParseInfo(b *testing.B) {
	const n = 365 + 7*24
	var buf bytes.Buffer
	buf.WriteString(`[{"name":"big","cipher":"none","status":{"code":0,"message":"ok","lock":{"backup":{"held":false}}},` +
		`"db":[{"id":1,"repo-key":1,"system-id":7712205167832772019,"version":"15"}],` +
		`"archive":[{"database":{"id":1,"repo-key":1},"id":"15-1","min":"000000010000000000000001","max":"0000000100000004000000FF"}],` +
		`"repo":[{"key":1,"cipher":"none","status":{"code":0,"message":"ok"}}],"backup":[`)
	for i := range n {
		if i > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `{"annotation":{"release":"v1.%d"},"archive":{"start":"0000000100000000000000%02X","stop":"0000000100000000000000%02X"},`+
			`"backrest":{"format":5,"version":"2.45"},"database":{"id":1,"repo-key":1},"error":false,`+
			`"info":{"delta":803082,"repository":{"delta":803082,"size":23385913},"size":23385913},`+
			`"label":"L%d","lsn":{"start":"0/4000028","stop":"0/4000100"},"prior":"L0","reference":["L0"],`+
			`"timestamp":{"start":%d,"stop":%d},"type":"incr"}`, i%50, i%256, i%256, i, 1795637701+i*3600, 1795637703+i*3600)
	}
	buf.WriteString(`]}]`)
	data := buf.Bytes()
	src := testSource()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		stanzas, err := parseInfo(data)
		if err != nil {
			b.Fatal(err)
		}
		cat := (&mapper{src: src, opts: src.PgBackRest, observedAt: observed()}).catalog(stanzas)
		if len(cat.Backups) != n {
			b.Fatalf("got %d backups", len(cat.Backups))
		}
	}
}
