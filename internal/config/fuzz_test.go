package config

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// The seed corpora are in testdata/fuzz/<FuzzName>: the valid and invalid
// configurations of testdata and the cases of issues #9 and #10. Run one
// with, for example, go test -run '^$' -fuzz FuzzLoad ./internal/config.

// FuzzLoad feeds arbitrary bytes to the loader: it must return a
// configuration or an error naming the file, never panic, and a
// configuration it returns must hold what the exporter relies on.
func FuzzLoad(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if len(c.Environments) == 0 {
			t.Error("loaded without environments")
		}
		for name, e := range c.Environments {
			if e == nil || e.RPO <= 0 {
				t.Errorf("environment %q loaded as %+v", name, e)
			}
		}
		for name, cl := range c.Classifications {
			if cl == nil {
				t.Errorf("classification %q loaded as nil", name)
			}
		}
		for i, s := range c.Sources {
			if s == nil {
				t.Fatalf("sources[%d] loaded as nil", i)
			}
			if s.Timeout <= 0 {
				t.Errorf("source %s loaded with timeout %s", s.Name, s.Timeout)
			}
			if _, err := ParseSchedule(s.Interval); err != nil {
				t.Errorf("source %s loaded with interval %q: %v", s.Name, s.Interval, err)
			}
		}
		for i, p := range c.Probes {
			if p == nil {
				t.Fatalf("probes[%d] loaded as nil", i)
			}
			if p.Timeout <= 0 {
				t.Errorf("probe %s loaded with timeout %s", p.Name, p.Timeout)
			}
		}
		if c.Collection.Concurrency < 1 || c.Probing.Concurrency < 1 || c.Collection.Jitter < 0 {
			t.Errorf("loaded with collection %+v, probing %+v", c.Collection, c.Probing)
		}
	})
}

// FuzzDuration checks that ParseDuration accepts exactly what the JSON
// Schema's DurationPattern matches (but for values too large to hold),
// never returns a negative duration, and reads back what String writes.
func FuzzDuration(f *testing.F) {
	pattern := regexp.MustCompile(DurationPattern)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		matched := pattern.MatchString(s)
		switch {
		case err == nil && !matched:
			t.Fatalf("ParseDuration(%q) = %s, but the schema's pattern rejects it", s, d)
		case err != nil && matched && !strings.HasSuffix(err.Error(), "too large"):
			t.Fatalf("ParseDuration(%q): %v, but the schema's pattern accepts it", s, err)
		case err != nil:
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %s, negative", s, d)
		}
		if d%time.Millisecond == 0 {
			back, err := ParseDuration(Duration(d).String())
			if err != nil || back != d {
				t.Fatalf("ParseDuration(%q) = %s, written as %q, read back as %s, %v", s, d, Duration(d), back, err)
			}
		}
	})
}

// FuzzSchedule checks that a schedule the loader accepts matches the JSON
// Schema's SchedulePattern, fires, and never fires twice within
// MinScheduleInterval.
func FuzzSchedule(f *testing.F) {
	pattern := regexp.MustCompile(SchedulePattern)
	from := time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err != nil {
			return
		}
		if !pattern.MatchString(spec) {
			t.Fatalf("ParseSchedule(%q) succeeded, but the schema's pattern rejects it", spec)
		}
		first := s.Next(from)
		if !first.After(from) {
			t.Fatalf("ParseSchedule(%q).Next(%s) = %s", spec, from, first)
		}
		if second := s.Next(first); second.Sub(first) < MinScheduleInterval {
			t.Fatalf("ParseSchedule(%q) fires at %s and again at %s", spec, first, second)
		}
	})
}
