package keytemplate

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	at := time.Date(2024, 5, 1, 13, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		tpl, key string
		want     Fields
	}{
		{"{env}/{dataset}/{release}/{time}.dump", "prod/payments/v1.4/2024-05-01T13:04:05Z.dump", Fields{Env: "prod", Dataset: "payments", Release: "v1.4", Time: at}},
		{"db/{dataset}-{time}.sql.gz", "db/orders-20240501T130405Z.sql.gz", Fields{Dataset: "orders", Time: at}},
		{"{_}/{dataset}/{type}/{id}.tar", "host1/files/incr/42.tar", Fields{Dataset: "files", Type: "incr", ID: "42"}},
		{"{dataset}/{**}", "app/a/b/c", Fields{Dataset: "app"}},
		{"{time}", "1714568645", Fields{Time: at}},
		{"x/{time}", "x/2024-05-01T15:04:05.000+02:00", Fields{Time: at}},
		{"x/{time}", "x/2024-05-01T13-04-05Z", Fields{Time: at}},
		{"x/{time}", "x/2024-05-01", Fields{Time: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		tpl, err := Parse(tc.tpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tpl, err)
		}
		got, err := tpl.Match(tc.key)
		at := got.At
		got.At = Spans{}
		if err != nil || got != tc.want {
			t.Errorf("%s on %s: %+v, %v; want %+v", tc.tpl, tc.key, got, err, tc.want)
		}
		// At locates each field in the key ([0 0], an empty part, for
		// the fields the template lacks).
		for _, f := range []struct {
			v  string
			at [2]int
		}{{got.Env, at.Env}, {got.Dataset, at.Dataset}, {got.Release, at.Release}, {got.Type, at.Type}} {
			if tc.key[f.at[0]:f.at[1]] != f.v || (f.v == "" && f.at != [2]int{}) {
				t.Errorf("%s on %s: field %q located at %v (%q)", tc.tpl, tc.key, f.v, f.at, tc.key[f.at[0]:f.at[1]])
			}
		}
	}
}

// A key that does not fit names the key and the template, and why when
// its {time} is not a time.
func TestMismatch(t *testing.T) {
	tpl, err := Parse("{env}/{dataset}/{time}.dump")
	if err != nil {
		t.Fatal(err)
	}
	for key, reason := range map[string]string{
		"prod/app/extra/2024-05-01.dump": "",
		"prod/app/yesterday.dump":        `{time} "yesterday" is not a time`,
		"prod/app/2024-05-01.tar":        "",
	} {
		_, err := tpl.Match(key)
		var me *MismatchError
		if !errors.As(err, &me) || me.Key != key || me.Template != tpl.String() {
			t.Fatalf("%s: %v", key, err)
		}
		msg := err.Error()
		if !strings.Contains(msg, `key "`+key+`" does not match key_template "{env}/{dataset}/{time}.dump"`) || !strings.Contains(msg, reason) {
			t.Errorf("%s: message %q", key, msg)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for tpl, want := range map[string]string{
		"":               "empty key template",
		"{env}/{when}":   "unknown placeholder {when}",
		"{env}{dataset}": "follows another placeholder",
		"{env}/{env}":    "appears twice",
		"{env}/{dataset": `"{" without "}"`,
		"env}/x":         `"}" without "{"`,
		"{**}/{dataset}": "{**} must be the last placeholder",
	} {
		_, err := Parse(tpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", tpl, err, want)
		}
	}
}

// Placeholders never match across "/", except {**}; the literal start is
// the listing prefix.
func TestLevelsAndPrefix(t *testing.T) {
	tpl, _ := Parse("dumps/{dataset}/{time}.dump")
	if tpl.Prefix() != "dumps/" {
		t.Errorf("prefix %q", tpl.Prefix())
	}
	if _, err := tpl.Match("dumps/a/b/2024-05-01.dump"); err == nil {
		t.Error("{dataset} matched across a /")
	}
	if p, _ := Parse("{env}/x"); p.Prefix() != "" {
		t.Errorf("prefix %q, want empty", p.Prefix())
	}
}

// parseTimeTryingAll is ParseTime without mayParse: every layout tried.
func parseTimeTryingAll(v string) (time.Time, bool) {
	if len(v) == 10 && isDigits(v) {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), true
		}
	}
	for _, layout := range TimeFormats {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// Skipping layouts by shape changes no answer: every value, including
// one-digit hours, fractions, offsets and near misses, reads as it did
// with every layout tried.
func TestParseTimeSkipsOnlyImpossibleLayouts(t *testing.T) {
	at := time.Date(2024, 5, 1, 13, 4, 5, 123456789, time.FixedZone("", 2*3600))
	var values []string
	for _, layout := range TimeFormats {
		values = append(values, at.Format(layout), time.Date(2024, 5, 1, 3, 4, 5, 0, time.UTC).Format(layout))
	}
	values = append(values, "2024-05-01T3-04-05Z", "2024-05-01T3:04:05", "2024-05-01 3:04:05", "20240501T30405Z",
		"2024-05-01T13:04:05Z", "2024-05-01T13:04:05.5+02:00", "2024-05-01t13:04:05z", "1714568645", "2024-13-01",
		"20240501T130405", "2024-05-01T13-04", "x", "", "2024-05-01T13:04", "20240501-13040", "2024-05-01T13-04-05.5Z",
		"2024-05-01T13-04-05,25Z", "20240501T130405.123Z", "20240501T30405.1", "2024-05-01 13:04:05.999", "20240501130405.5", "2024-05-01.5")
	for _, v := range values {
		got, err := ParseTime(v)
		want, ok := parseTimeTryingAll(v)
		if (err == nil) != ok || !got.Equal(want) {
			t.Errorf("%q: ParseTime %v, %v; every layout tried: %v, %v", v, got, err, want, ok)
		}
	}
}

func BenchmarkParseTime(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		if _, err := ParseTime("20240501T130405Z"); err != nil {
			b.Fatal(err)
		}
	}
}
