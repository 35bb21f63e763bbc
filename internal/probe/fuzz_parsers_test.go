package probe

import (
	"encoding/json"
	"maps"
	"reflect"
	"strings"
	"testing"
)

// FuzzParseConninfo checks that parsing a PostgreSQL connection string
// never panics, that what it parses survives being written back with
// conninfoString (which pg_dump and pgx then read), and that any password
// quoted the way conninfoString quotes it comes back unchanged and never
// shows up in an error.
func FuzzParseConninfo(f *testing.F) {
	for _, s := range []string{
		"host=127.0.0.1 port=5432 dbname=app user=postgres",
		"host=h password='it\\'s a secret' sslmode=require",
		"postgres://u:p%40ss@h1:5432,h2:5433/db?sslmode=require&application_name=x",
		"postgresql://[::1]:5432/db",
		"host = h   dbname='a b'",
		"host=h nonsense=1",
		"password='unterminated",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseConninfo(s)
		if err == nil {
			back, err := parseConninfo(conninfoString(m))
			if err != nil {
				t.Fatalf("%q parsed to %v, written back as %q, which does not parse: %v", s, m, conninfoString(m), err)
			}
			if !maps.Equal(m, back) {
				t.Fatalf("%q parsed to %v, but written back and read again it is %v", s, m, back)
			}
		}
		if len(s) < 6 || strings.ContainsAny(s, "\x00") {
			return
		}
		quoted := "host=h password='" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`) + "' dbname=d"
		m, err = parseConninfo(quoted)
		if err != nil {
			if strings.Contains(err.Error(), s) {
				t.Fatalf("the error %q quotes the password", err)
			}
			t.Fatalf("a quoted password %q does not parse: %v", s, err)
		}
		if m["password"] != s {
			t.Fatalf("password %q came back as %q", s, m["password"])
		}
	})
}

// FuzzParseChecksums checks that reading a checksums file never panics,
// that what it accepts has the fields a probe relies on, and that it reads
// back the same after being written.
func FuzzParseChecksums(f *testing.F) {
	for _, s := range []string{
		`{"format":1,"engine":"mysql","algorithm":"md5-60-concat-sum","database":"shop","taken_at":"2026-05-01T03:00:00Z","schema_fingerprint":"sha256:00","schema":["table t BASE TABLE"],"tables":[{"name":"t","rows":2,"sum":"123456789012345678901234567890"}]}`,
		`{"format":1,"engine":"postgres","algorithm":"x","tables":[{"name":"a","rows":-1,"sum":"","method":"m"}]}`,
		`{"format":2,"engine":"mysql","algorithm":"x"}`,
		`{"format":1}`,
		`[]`,
		`{"format":1,"engine":"mysql","algorithm":"x","taken_at":"yesterday"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseChecksums(data)
		if err != nil {
			return
		}
		if c.Format != ChecksumsFormat || c.Engine == "" || c.Algorithm == "" {
			t.Fatalf("accepted %q without format, engine and algorithm: %+v", data, c)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("accepted %q but cannot write it back: %v", data, err)
		}
		again, err := ParseChecksums(out)
		if err != nil {
			t.Fatalf("accepted %q, but not its own output %q: %v", data, out, err)
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("%q read back as %+v, was %+v", data, again, c)
		}
	})
}
