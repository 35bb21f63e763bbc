// Package keytemplate maps object keys to the facts a backup's key holds
// (environment, dataset, release, time, type) through a template such as
// "{env}/{dataset}/{release}/{time}.dump".
//
// A template is literal text with placeholders in braces. Each placeholder
// matches one or more characters other than "/", so it never spans two
// levels of a key; the literal text between placeholders must match
// exactly. The placeholders are:
//
//	{env}      the environment
//	{dataset}  the dataset
//	{release}  the release label
//	{type}     the backup type (full, diff, incr, snapshot, logical, wal)
//	{time}     the time of the backup, in one of the formats of TimeFormats
//	{id}       a part of the key that identifies the backup (informational)
//	{_}        any text, ignored
//	{**}       any text, "/" included (only as the last placeholder)
//
// Each named placeholder may appear at most once.
package keytemplate

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Fields are the facts one key holds; empty when the template has no such
// placeholder.
type Fields struct {
	Env, Dataset, Release, Type, ID string
	// Time is the parsed {time}, UTC; zero when the template has none.
	Time time.Time
	// At says where Env, Dataset, Release and Type lie in the key, so
	// that a caller holding the key needs no copy of them.
	At Spans
}

// Spans are byte offsets [start, end) in a key: Env is
// key[At.Env[0]:At.Env[1]]; [0, 0] for a field the template lacks.
type Spans struct {
	Env, Dataset, Release, Type [2]int
}

// Template is a compiled key template.
type Template struct {
	text   string
	re     *regexp.Regexp
	names  []string
	prefix string
}

var placeholders = map[string]bool{"env": true, "dataset": true, "release": true, "type": true, "time": true, "id": true, "_": true, "**": true}

// Parse compiles a template. It fails on an unknown or repeated
// placeholder, an unclosed brace, two placeholders with nothing between
// them (where one ends would be a guess) and {**} anywhere but last.
func Parse(text string) (*Template, error) {
	if text == "" {
		return nil, errors.New("empty key template")
	}
	var b strings.Builder
	b.WriteString("^")
	t := &Template{text: text}
	seen := map[string]bool{}
	rest := text
	lastWasPlaceholder := false
	literalSeen := false
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return nil, fmt.Errorf("key template %q: \"}\" without \"{\"", text)
		}
		if open < 0 {
			b.WriteString(regexp.QuoteMeta(rest))
			if !literalSeen {
				t.prefix += rest
			}
			break
		}
		if open > 0 {
			b.WriteString(regexp.QuoteMeta(rest[:open]))
			if !literalSeen {
				t.prefix += rest[:open]
			}
			lastWasPlaceholder = false
		}
		literalSeen = true
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("key template %q: \"{\" without \"}\"", text)
		}
		name := rest[open+1 : open+end]
		if !placeholders[name] {
			return nil, fmt.Errorf("key template %q: unknown placeholder {%s} (use env, dataset, release, type, time, id, _ or **)", text, name)
		}
		if lastWasPlaceholder {
			return nil, fmt.Errorf("key template %q: {%s} follows another placeholder with nothing between them", text, name)
		}
		if name != "_" && seen[name] {
			return nil, fmt.Errorf("key template %q: {%s} appears twice", text, name)
		}
		seen[name] = true
		rest = rest[open+end+1:]
		if name == "**" {
			if strings.Contains(rest, "{") {
				return nil, fmt.Errorf("key template %q: {**} must be the last placeholder", text)
			}
			b.WriteString("(.+?)")
		} else {
			b.WriteString("([^/]+?)")
		}
		t.names = append(t.names, name)
		lastWasPlaceholder = true
	}
	b.WriteString("$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, fmt.Errorf("key template %q: %v", text, err)
	}
	t.re = re
	return t, nil
}

// String returns the template as written.
func (t *Template) String() string { return t.text }

// Has reports whether the template has the named placeholder.
func (t *Template) Has(name string) bool {
	for _, n := range t.names {
		if n == name {
			return true
		}
	}
	return false
}

// Prefix is the literal text before the first placeholder: every key the
// template matches starts with it, so a listing can start there.
func (t *Template) Prefix() string { return t.prefix }

// MismatchError says that a key does not fit a template, and why.
type MismatchError struct {
	Key, Template, Reason string
}

func (e *MismatchError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("key %q does not match key_template %q", e.Key, e.Template)
	}
	return fmt.Sprintf("key %q does not match key_template %q: %s", e.Key, e.Template, e.Reason)
}

// Match maps a key to its fields. A key that does not fit is a
// *MismatchError naming the key and the template.
func (t *Template) Match(key string) (Fields, error) {
	m := t.re.FindStringSubmatchIndex(key)
	if m == nil {
		return Fields{}, &MismatchError{Key: key, Template: t.text}
	}
	var f Fields
	for i, name := range t.names {
		at := [2]int{m[2*i+2], m[2*i+3]}
		v := key[at[0]:at[1]]
		switch name {
		case "env":
			f.Env, f.At.Env = v, at
		case "dataset":
			f.Dataset, f.At.Dataset = v, at
		case "release":
			f.Release, f.At.Release = v, at
		case "type":
			f.Type, f.At.Type = v, at
		case "id":
			f.ID = v
		case "time":
			tm, err := ParseTime(v)
			if err != nil {
				return Fields{}, &MismatchError{Key: key, Template: t.text, Reason: err.Error()}
			}
			f.Time = tm
		}
	}
	return f, nil
}

// TimeFormats are the layouts {time} accepts, tried in order (Go layouts;
// Z is UTC, and times without a zone are UTC). Unix epoch seconds (10
// digits) are accepted too.
var TimeFormats = []string{
	time.RFC3339Nano,       // 2024-05-01T13:04:05.123Z, 2024-05-01T13:04:05+02:00
	"2006-01-02T15-04-05Z", // 2024-05-01T13-04-05Z (colons are awkward in keys)
	"2006-01-02T15-04-05",  // 2024-05-01T13-04-05
	"2006-01-02T15-04Z",    // 2024-05-01T13-04Z (the S3 Inventory folder format)
	"20060102T150405Z",     // 20240501T130405Z (ISO 8601 basic)
	"20060102T150405",      // 20240501T130405
	"20060102-150405",      // 20240501-130405
	"2006-01-02_15-04-05",  // 2024-05-01_13-04-05
	"2006-01-02T15:04:05",  // 2024-05-01T13:04:05
	"2006-01-02 15:04:05",  // 2024-05-01 13:04:05
	"20060102150405",       // 20240501130405
	"2006-01-02",           // 2024-05-01
	"20060102",             // 20240501
}

// ParseTime reads a {time} value in one of TimeFormats or as Unix seconds.
func ParseTime(v string) (time.Time, error) {
	if len(v) == 10 && isDigits(v) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	for _, layout := range TimeFormats {
		if !mayParse(layout, v) {
			continue
		}
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("{time} %q is not a time in a known format (RFC 3339, 2006-01-02T15-04-05Z, 20060102T150405Z, 2006-01-02, Unix seconds, ...)", v)
}

// mayParse reports whether time.Parse(layout, v) can succeed, from v's
// length and punctuation alone, so that ParseTime does not try (and make
// an error of) every layout before the one a key uses: a million keys of
// the fifth layout made some 860 MB of errors. It never rules out a
// layout that would parse v (TestParseTimeSkipsOnlyImpossibleLayouts):
// RFC 3339 needs a colon; the other layouts have fixed widths, but for the
// hour ("15"), which time.Parse also reads as one digit, and for a
// fraction after the seconds ("05"), which it accepts unasked.
func mayParse(layout, v string) bool {
	if layout == time.RFC3339Nano {
		return strings.IndexByte(v, ':') >= 0
	}
	least := len(layout)
	if strings.Contains(layout, "15") {
		least--
	}
	if strings.Contains(layout, "05") && strings.ContainsAny(v, ".,") {
		return len(v) >= least
	}
	return len(v) == len(layout) || len(v) == least
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
