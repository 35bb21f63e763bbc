package manifest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

const goodRecord = `{"dataset":"d","id":"%s","type":"full","start":"2026-11-21T01:00:00Z","end":"2026-11-21T01:10:00Z"%s}`

// collectWithin runs one collection of dir with a timeout of 2s (or what
// tune sets), and fails the test when the collection does not return soon
// after it: the regression these tests guard against is a collection that
// never returns.
func collectWithin(t *testing.T, dir string, tune func(*Collector)) (*model.Catalog, error) {
	return collectWithinTimeout(t, dir, 2*time.Second, tune)
}

func collectWithinTimeout(t *testing.T, dir string, timeout time.Duration, tune func(*Collector)) (*model.Catalog, error) {
	t.Helper()
	src := &config.Source{Name: "ci", Type: config.TypeManifest, Env: "prod", Manifest: &config.ManifestOptions{Dir: dir}}
	c, err := New(src, slog.New(slog.DiscardHandler), func() time.Time { return fixedNow })
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type result struct {
		cat *model.Catalog
		err error
	}
	done := make(chan result, 1)
	go func() {
		cat, err := c.Collect(ctx)
		done <- result{cat, err}
	}()
	select {
	case r := <-done:
		return r.cat, r.err
	case <-time.After(timeout + 20*time.Second):
		t.Fatalf("the collection did not return within 20s after its timeout of %s", timeout)
		return nil, nil
	}
}

func writeManifest(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A manifest that is not a regular file would block the open or never end
// (the FIFO and link to /dev/zero): it is refused at once with a
// message that says what it is.
func TestSpecialFilesAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name  string
		make  func(t *testing.T, path string)
		want  string
		errno bool
	}{
		{"fifo.ndjson", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "fifo.ndjson: it is a named pipe (FIFO), not a regular file", false},
		{"zero.json", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "zero.json: it is a character device, not a regular file", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeManifest(t, dir, "a.ndjson", fmt.Sprintf(goodRecord, "1", "")+"\n")
			tc.make(t, filepath.Join(dir, tc.name))
			cat, err := collectWithin(t, dir, nil)
			if err == nil {
				t.Fatalf("no error; catalog %+v", cat)
			}
			if runx.KindOf(err) != runx.KindIO || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v (%s), want kind io and %q", err, runx.KindOf(err), tc.want)
			}
		})
	}
}

// A link to a regular manifest is read as before.
func TestLinkToRegularFileIsRead(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	writeManifest(t, elsewhere, "real.ndjson", fmt.Sprintf(goodRecord, "1", "")+"\n")
	if err := os.Symlink(filepath.Join(elsewhere, "real.ndjson"), filepath.Join(dir, "a.ndjson")); err != nil {
		t.Fatal(err)
	}
	cat, err := collectWithin(t, dir, nil)
	if err != nil || len(cat.Backups) != 1 {
		t.Fatalf("link to a manifest: %v, %v", cat, err)
	}
}

// A manifest file larger than the limit is refused before it is read, with
// the limit in the message.
func TestFileSizeLimit(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, goodRecord+"\n", fmt.Sprint(i), "")
	}
	writeManifest(t, dir, "big.ndjson", b.String())
	_, err := collectWithin(t, dir, func(c *Collector) { c.maxFile = 1 << 10 })
	if runx.KindOf(err) != runx.KindLimit || !strings.Contains(err.Error(), "big.ndjson") || !strings.Contains(err.Error(), "more than the limit of 1 KiB per file") {
		t.Errorf("err = %v (%s), want a limit error naming the file and 1 KiB", err, runx.KindOf(err))
	}
	if _, err := collectWithin(t, dir, nil); err != nil {
		t.Errorf("the same file under the default limit: %v", err)
	}
}

// The case: one 50 MB error text made 601 MB of history. It is cut
// to MaxErrorBytes, and the record is kept with its status.
func TestLongErrorIsCut(t *testing.T) {
	dir := t.TempDir()
	// 50 MB, with two-byte characters where the cut falls.
	long := "a" + strings.Repeat("é", 3000) + strings.Repeat("x", 50<<20-6001)
	writeManifest(t, dir, "a.ndjson", fmt.Sprintf(goodRecord, "1", `,"status":"failed","error":"`+long+`"`)+"\n")
	// Reading 50 MB may take seconds on a busy machine.
	cat, err := collectWithinTimeout(t, dir, time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := cat.Backups[0]
	if b.Status != model.StatusFailed || len(b.Error) > MaxErrorBytes+100 {
		t.Fatalf("status %s, error of %d bytes; want failed and at most about %d bytes", b.Status, len(b.Error), MaxErrorBytes)
	}
	if !strings.HasPrefix(b.Error, "aéé") || !strings.HasSuffix(b.Error, fmt.Sprintf("[cut by restorable: %d bytes in the manifest]", len(long))) {
		t.Errorf("cut error starts %q and ends %q", b.Error[:10], b.Error[len(b.Error)-60:])
	}
	if !strings.Contains(b.Error, "é …") {
		t.Error("the error was not cut at a character boundary")
	}
}

// Every other field has a bound; a record beyond one is refused (a cut id
// would name another backup) with the field and the limit in the message.
func TestFieldLimits(t *testing.T) {
	p := &parser{src: &config.Source{Name: "ci", Env: "prod"}}
	manyTags := make([]string, MaxTags+1)
	for i := range manyTags {
		manyTags[i] = fmt.Sprintf(`"t%d":"v"`, i)
	}
	manyPaths := strings.Repeat(`"/p",`, MaxPaths) + `"/p"`
	for _, tc := range []struct{ extra, want string }{
		{`,"release":"` + strings.Repeat("v", MaxFieldBytes+1) + `"`, "release: 1025 bytes, more than the limit of 1 KiB"},
		{`,"location":"` + strings.Repeat("s", MaxLongBytes+1) + `"`, "location: 4097 bytes, more than the limit of 4 KiB"},
		{`,"tags":{` + strings.Join(manyTags, ",") + `}`, "tags: 65 tags, more than the limit of 64"},
		{`,"tags":{"k":"` + strings.Repeat("v", MaxLongBytes+1) + `"}`, "tags.k: 4097 bytes, more than the limit of 4 KiB"},
		{`,"paths":[` + manyPaths + `]`, "paths: 257 paths, more than the limit of 256"},
	} {
		_, err := p.record([]byte(fmt.Sprintf(goodRecord, "1", tc.extra)))
		if err == nil || err.Error() != tc.want || runx.KindOf(err) != runx.KindLimit {
			t.Errorf("got %v (%s), want %q of kind limit", err, runx.KindOf(err), tc.want)
		}
	}
	if _, err := p.record([]byte(fmt.Sprintf(goodRecord, strings.Repeat("i", MaxFieldBytes+1), ""))); err == nil || !strings.HasPrefix(err.Error(), "id: 1025 bytes") {
		t.Errorf("long id: %v", err)
	}
	if _, err := p.record([]byte(fmt.Sprintf(goodRecord, strings.Repeat("i", MaxFieldBytes), ""))); err != nil {
		t.Errorf("id at the limit: %v", err)
	}
}

// A field beyond its bound fails the collection with kind limit, naming the
// file and line.
func TestFieldLimitFailsCollectionWithKindLimit(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.ndjson", fmt.Sprintf(goodRecord, "1", "")+"\n"+fmt.Sprintf(goodRecord, "2", `,"region":"`+strings.Repeat("r", 2000)+`"`)+"\n")
	_, err := collectWithin(t, dir, nil)
	if runx.KindOf(err) != runx.KindLimit || !strings.Contains(err.Error(), "parse manifest a.ndjson:2: region: 2000 bytes, more than the limit of 1 KiB") {
		t.Errorf("err = %v (%s)", err, runx.KindOf(err))
	}
}

// Reading stops when the collection's context is done.
func TestReadsStopWithTheContext(t *testing.T) {
	dir := t.TempDir()
	writeManifest(t, dir, "a.ndjson", fmt.Sprintf(goodRecord, "1", "")+"\n")
	src := &config.Source{Name: "ci", Type: config.TypeManifest, Env: "prod", Manifest: &config.ManifestOptions{Dir: dir}}
	c, err := New(src, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if cat, err := c.Collect(ctx); runx.KindOf(err) != runx.KindCanceled {
		t.Errorf("collection with a cancelled context: %v, %v; want kind canceled", cat, err)
	}
	f, err := os.Open(filepath.Join(dir, "a.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // test
	if _, err := readManifest(ctx, f, "a.ndjson", MaxFileSize); runx.KindOf(err) != runx.KindCanceled {
		t.Errorf("read with a cancelled context: %v", err)
	}
	if _, err := countLines(ctx, f, "a.ndjson", MaxFileSize); runx.KindOf(err) != runx.KindCanceled {
		t.Errorf("count with a cancelled context: %v", err)
	}
}
