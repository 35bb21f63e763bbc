package s3

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/keytemplate"
	"github.com/restorable/restorable/internal/model"
)

// gather maps pages of objects as Collect does, page by page, and builds
// the catalog's backups.
func gather(t *testing.T, template string, pages ...[]object) ([]model.Backup, *mapper) {
	t.Helper()
	src := source("", "acme-backups", template, func(s *config.Source) { s.Env, s.Dataset = "prod", "db" })
	tpl, err := keytemplate.Parse(template)
	if err != nil {
		t.Fatal(err)
	}
	m := newMapper(src, src.S3, tpl, &bucketFacts{Bucket: "acme-backups", Region: "eu-west-1"})
	var chunks [][]entry
	total := 0
	for _, page := range pages {
		var chunk []entry
		for i := range page {
			e, ok, err := m.match(&page[i])
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				chunk = append(chunk, e)
			}
		}
		if len(chunk) > 0 {
			chunks = append(chunks, chunk)
			total += len(chunk)
		}
	}
	return m.backups(chunks, total), m
}

// Every time an object or its key gives comes back as it was, to the
// nanosecond, including those outside what 64 bits of nanoseconds hold (a
// retain-until date in year 9999, a key dated in year 1) and the zero
// time, which stays unknown.
func TestEntryTimes(t *testing.T) {
	epoch := time.Unix(0, 0).UTC()
	fine := time.Date(2024, 5, 1, 13, 4, 5, 123456789, time.UTC)
	forever := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
	for _, tc := range []struct {
		key                  string
		modified, retain     time.Time
		start, end, retained time.Time
	}{
		{"d/2024-05-01T13:04:05.123456789Z.dump", epoch, forever, fine, epoch, forever},
		{"d/0001-01-02.dump", fine, time.Time{}, time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC), fine, time.Time{}},
		{"d/1970-01-01.dump", time.Time{}, epoch, epoch, epoch, epoch},
		{"d/2262-04-12.dump", forever, fine, time.Date(2262, 4, 12, 0, 0, 0, 0, time.UTC), forever, fine},
	} {
		o := object{Key: tc.key, Size: 1, LastModified: tc.modified, LockMode: "COMPLIANCE", RetainUntil: tc.retain}
		got, _ := gather(t, "d/{time}.dump", []object{o})
		if len(got) != 1 {
			t.Fatalf("%s: %d backups", tc.key, len(got))
		}
		b := got[0]
		if b.Start != tc.start || b.End != tc.end || b.RetainUntil != tc.retained {
			t.Errorf("%s: start %v end %v retain until %v; want %v, %v, %v", tc.key, b.Start, b.End, b.RetainUntil, tc.start, tc.end, tc.retained)
		}
		if b.Immutable != !tc.retain.IsZero() {
			t.Errorf("%s: immutable %v with retain-until %v", tc.key, b.Immutable, tc.retain)
		}
	}
}

// Pages from several prefixes or inventory files arrive in any order and
// may interleave; the catalog is in key order all the same, and every
// backup's location, id and key fields are its own, also when the
// locations fill several chunks of text.
func TestCatalogOrderAndText(t *testing.T) {
	key := func(ds string, i int) string {
		return fmt.Sprintf("dumps/%s/%s/%s.dump", ds, strings.Repeat("r", 1+i%90)+fmt.Sprint(i), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour).Format("20060102T150405Z"))
	}
	var a, b, mixed []object
	for i := range 3000 {
		a = append(a, object{Key: key("a", i), Size: int64(i)})
		b = append(b, object{Key: key("b", i), Size: int64(i)})
	}
	for i := range 500 {
		mixed = append(mixed, object{Key: key("c", 2*i+1), Size: int64(2*i + 1)}, object{Key: key("c", 2*i), Size: int64(2 * i)})
	}
	slices.SortFunc(a, func(x, y object) int { return strings.Compare(x.Key, y.Key) })
	slices.SortFunc(b, func(x, y object) int { return strings.Compare(x.Key, y.Key) })
	for name, pages := range map[string][][]object{
		"disjoint runs in any order": {b[:1000], a[2000:], b[1000:], a[:2000]},
		"interleaved runs":           {a[:1500], b, a[1500:], mixed[:400], mixed[400:]},
	} {
		t.Run(name, func(t *testing.T) {
			got, m := gather(t, "dumps/{dataset}/{release}/{time}.dump", pages...)
			want := 0
			for _, p := range pages {
				want += len(p)
			}
			if len(got) != want {
				t.Fatalf("%d backups, want %d", len(got), want)
			}
			if len(m.text) < 2 {
				t.Errorf("locations in %d chunk of text; the test wants several", len(m.text))
			}
			for i := range got {
				b := &got[i]
				if i > 0 && got[i-1].ID >= b.ID {
					t.Fatalf("not in key order at %d: %s after %s", i, b.ID, got[i-1].ID)
				}
				parts := strings.Split(b.ID, "/")
				if b.Location != "s3://acme-backups/"+b.ID || b.Dataset != parts[1] || b.Release != parts[2] || b.Env != "prod" ||
					!strings.HasSuffix(b.Release, fmt.Sprint(b.StoredBytes)) {
					t.Fatalf("backup %+v", *b)
				}
			}
		})
	}
}

// The key's {type} is read whatever its case; the storage class,
// encryption status and lock mode of each object are its own.
func TestEntryTypeAndAttrs(t *testing.T) {
	day := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	got, m := gather(t, "{dataset}/{type}/{time}.dump", []object{
		{Key: "db/FULL/2024-05-01.dump", LastModified: day, StorageClass: "GLACIER", Encryption: "SSE-KMS"},
		{Key: "db/Incr/2024-05-02.dump", LastModified: day, Encryption: "NOT-SSE"},
		{Key: "db/incr/2024-05-03.dump", LastModified: day, StorageClass: "GLACIER", Encryption: "SSE-KMS"},
		{Key: "db/weekly/2024-05-04.dump", LastModified: day},
	})
	if len(got) != 3 || m.rejected != 1 || !strings.Contains(m.example.Error(), "{type} weekly is not one of") {
		t.Fatalf("%d backups, %d rejected (%v)", len(got), m.rejected, m.example)
	}
	for i, want := range []struct {
		typ       model.BackupType
		class     string
		encrypted bool
	}{{model.BackupFull, "GLACIER", true}, {model.BackupIncr, "STANDARD", false}, {model.BackupIncr, "GLACIER", true}} {
		if b := got[i]; b.Type != want.typ || b.StorageClass != want.class || b.Encrypted != want.encrypted {
			t.Errorf("%s: type %s class %s encrypted %v, want %+v", b.ID, b.Type, b.StorageClass, b.Encrypted, want)
		}
	}
	if len(m.attrList) != 2 {
		t.Errorf("%d distinct attributes kept for two combinations: %+v", len(m.attrList), m.attrList)
	}
}

// An entry is what a catalog costs per backup until its records are
// built (docs/collectors.md, Measured): 56 bytes besides its location.
func TestEntrySize(t *testing.T) {
	if got := reflect.TypeFor[entry]().Size(); got != 56 {
		t.Errorf("an entry is %d bytes, not the 56 the benchmark figures are measured with", got)
	}
}
