package billing

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// CSV bills are read plain or gzipped (by their name), and a bill in
// another compression is refused by name rather than read as text.
func TestFileColumns(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var gz strings.Builder
	z := gzip.NewWriter(&gz)
	if _, err := z.Write([]byte("a,b\r\n1,2\n")); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path   string
		header []string
		err    string
	}{
		{write("plain.csv", []byte("a,b\n1,2\n")), []string{"a", "b"}, ""},
		{write("bill.csv.GZ", []byte(gz.String())), []string{"a", "b"}, ""},
		{write("bill.csv.zst", []byte("a,b\n")), nil, ".zst compression is not read: decompress the bill, or gzip it"},
		{write("bad.csv.gz", []byte("a,b\n1,2,3,4,5,6\n")), nil, "read gzip: gzip: invalid header"},
		{write("oneline.csv", []byte("x,y")), []string{"x", "y"}, ""},
	} {
		header, err := withFile(tc.path, FileColumns)
		if (err == nil) != (tc.err == "") || err != nil && err.Error() != tc.err || !slices.Equal(header, tc.header) {
			t.Errorf("%s: %q %v, want %q %q", filepath.Base(tc.path), header, err, tc.header, tc.err)
		}
	}
}
