package config

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

var nodeType = reflect.TypeFor[yaml.Node]()

// decodeStrict checks every mapping key of node against the yaml tags of
// out's type, so that a typo is reported with its line and the section it
// sits in, then decodes node into out.
func decodeStrict(node *yaml.Node, out any, path string) error {
	if err := checkKeys(node, reflect.TypeOf(out), path); err != nil {
		return err
	}
	if err := node.Decode(out); err != nil {
		return yamlError(err)
	}
	return nil
}

// DecodeOptions decodes a section the configuration keeps as a raw node
// (a probe's kind-specific options) as strictly as the rest of the file:
// an unknown key or a value of the wrong shape is an error that names the
// file, the line and the path of the field ("probes[0].options.dsn").
func DecodeOptions(file string, node *yaml.Node, out any, path string) error {
	if node == nil || node.Kind == 0 {
		return nil
	}
	if err := decodeStrict(node, out, path); err != nil {
		return prefixFile(file, err)
	}
	return nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns a yaml.v3 error into a lineError naming its first problem.
func yamlError(err error) error {
	if le, ok := err.(*lineError); ok {
		return le
	}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return &lineError{line: n, msg: m[2]}
	}
	return err
}

// maxNodes bounds the nodes checkKeys visits, aliases expanded: a file of
// a few lines whose aliases nest ("billion laughs") would otherwise keep
// the loader busy for hours.
const maxNodes = 1_000_000

// keyChecker walks a node tree against a Go type.
type keyChecker struct {
	visited int
}

func checkKeys(node *yaml.Node, t reflect.Type, path string) error {
	return (&keyChecker{}).check(node, t, path)
}

func (kc *keyChecker) check(node *yaml.Node, t reflect.Type, path string) error {
	kc.visited++
	if kc.visited > maxNodes {
		return errAt(node.Line, "%s: the file expands to more than %d values (aliases nested too deeply)", sectionName(path), maxNodes)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil
		}
		return kc.check(node.Content[0], t, path)
	}
	if node.Kind == yaml.AliasNode {
		if node.Alias == nil {
			return errAt(node.Line, "%s: unknown alias", sectionName(path))
		}
		return kc.check(node.Alias, t, path)
	}
	// A key without a value, or a list entry of just "~" or "null", is
	// almost always a mistake (a section left half-written); the loader
	// would otherwise hold a nil entry that later code cannot use. The
	// empty file as a whole is reported by Parse.
	if isNull(node) && path != "" {
		return errAt(node.Line, "%s: has no value (null): give it one or remove it", path)
	}
	if t == nodeType {
		return nil
	}
	if err := checkScalar(node, t, path); err != nil {
		return err
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeFor[time.Time]() || node.Kind != yaml.MappingNode {
			return nil
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return errAt(k.Line, "%s: a key must be a plain name", sectionName(path))
			}
			f, ok := fields[k.Value]
			if !ok {
				return errAt(k.Line, "%s: unknown field %q%s", sectionName(path), k.Value, suggest(k.Value, t, fields, typeOf(node)))
			}
			if err := kc.check(v, f.Type, join(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			k := node.Content[i]
			if k.Kind != yaml.ScalarNode || isNull(k) || k.Value == "" {
				return errAt(k.Line, "%s: a key must be a non-empty name", sectionName(path))
			}
			if err := kc.check(node.Content[i+1], t.Elem(), join(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return nil
		}
		for i, v := range node.Content {
			if err := kc.check(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// isNull reports whether node is YAML's null: "~", "null" or nothing at
// all. A quoted "null" is a string.
func isNull(node *yaml.Node) bool {
	return node.Kind == yaml.ScalarNode && node.ShortTag() == "!!null"
}

var durationType = reflect.TypeFor[Duration]()

// checkScalar reports a value of the wrong shape with the field's path,
// which yaml.v3's own messages leave out.
func checkScalar(node *yaml.Node, t reflect.Type, path string) error {
	want := ""
	switch {
	case t == durationType:
		if node.Kind == yaml.ScalarNode {
			if _, err := ParseDuration(node.Value); err != nil {
				return errAt(node.Line, "%s: %v", path, err)
			}
			return nil
		}
		want = "a duration such as 90s, 1h or 35d"
	case t.Kind() == reflect.Int:
		// YAML's own integers (3, +3, 0x10, 1_000), as the JSON Schema
		// sees them; a quoted "3" is a string.
		if node.Kind == yaml.ScalarNode {
			if node.ShortTag() != "!!int" {
				return errAt(node.Line, "%s: %q is not a whole number", path, node.Value)
			}
			return nil
		}
		want = "a whole number"
	case t.Kind() == reflect.Bool:
		if node.Kind == yaml.ScalarNode {
			switch node.Value {
			case "true", "false", "True", "False", "TRUE", "FALSE":
				return nil
			}
			return errAt(node.Line, "%s: %q is not true or false", path, node.Value)
		}
		want = "true or false"
	case t.Kind() == reflect.String:
		if node.Kind == yaml.ScalarNode {
			return nil
		}
		want = "a string"
	case t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time](), t.Kind() == reflect.Map:
		if node.Kind == yaml.MappingNode || node.Tag == "!!null" {
			return nil
		}
		want = "a mapping"
	case t.Kind() == reflect.Slice:
		if node.Kind == yaml.SequenceNode || node.Tag == "!!null" {
			return nil
		}
		want = "a list"
	default:
		return nil
	}
	if node.Kind == yaml.AliasNode {
		return nil
	}
	return errAt(node.Line, "%s: expected %s", sectionName(path), want)
}

func sectionName(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// yamlFields maps the yaml keys of a struct to their fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f
	}
	return m
}

// typeOf returns the value of a mapping's type: key, "" when it has none.
func typeOf(node *yaml.Node) string {
	for i := 0; i+1 < len(node.Content); i += 2 {
		if k, v := node.Content[i], node.Content[i+1]; k.Value == "type" && v.Kind == yaml.ScalarNode {
			return v.Value
		}
	}
	return ""
}

// suggest offers the closest known key for a likely typo, says how secrets
// are given when someone tries to write one inline, and names the section a
// key belongs to when it sits one level too high (repository: on a source
// instead of under restic:).
func suggest(key string, t reflect.Type, fields map[string]reflect.StructField, typ string) string {
	for _, secret := range []string{"password", "secret", "token", "dsn"} {
		if key == secret {
			if _, ok := fields[secret+"_sha256_file"]; ok {
				return fmt.Sprintf(" (secrets are never accepted inline: use %s_sha256_file)", secret)
			}
			return fmt.Sprintf(" (secrets are never accepted inline: use %s_file or %s_env)", secret, secret)
		}
	}
	var nested []string
	for name, f := range fields {
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() != reflect.Struct || ft == t {
			continue
		}
		if _, ok := yamlFields(ft)[key]; ok {
			nested = append(nested, name)
		}
	}
	if slices.Contains(nested, typ) {
		// The entry says its type (a source's type: s3requests): the key
		// belongs under that type's options, whatever else also has it.
		nested = []string{typ}
	}
	if len(nested) > 0 {
		slices.Sort(nested)
		return fmt.Sprintf(" (%q belongs under %s: nest it there, for example %s: {%s: ...})", key, strings.Join(nested, ": or "), nested[0], key)
	}
	best, bestD := "", 3
	for k := range fields {
		if d := editDistance(key, k); d < bestD || (d == bestD && best != "" && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// Duration is a time.Duration written as Prometheus writes durations:
// "90s", "5m", "1h30m", "35d", "2w", "1y".
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errAt(n.Line, "expected a duration such as 90s, 1h or 35d")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return errAt(n.Line, "%v", err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration back in its short form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats the duration as Prometheus does ("35d", "1h30m").
func (d Duration) String() string { return model.Duration(d).String() }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DurationPattern is the grammar of a duration, as a regular expression
// that both Go's regexp and JSON Schema's ECMA-262 read the same way:
// "0", or one or more numbers (with an optional fraction) each followed by
// a unit (ms, s, m, h, d, w = 7d, y = 365d), as in 90s, 1h30m, 1.5h or 35d.
// ParseDuration accepts exactly what it matches, up to the largest
// duration Go can hold; the JSON Schema uses it as the pattern of every
// duration.
const DurationPattern = `^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w|y))+)$`

// durationUnits are the units of DurationPattern, longest name first so
// that "ms" is not read as minutes.
func durationUnits() []struct {
	name string
	d    time.Duration
} {
	return []struct {
		name string
		d    time.Duration
	}{
		{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour},
		{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}, {"y", 365 * 24 * time.Hour},
	}
}

// ParseDuration parses a duration written as DurationPattern says: "0",
// "90s", "1h30m", "1.5h", "35d", "2w", "1y". Negative durations, spaces
// and units Go knows but a configuration has no use for (ns, us) are
// errors.
func ParseDuration(s string) (time.Duration, error) {
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit such as 90s, 5m, 1h, 35d or 2w", s)
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad()
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
	}
	var total time.Duration
	rest := s
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		whole := rest[:i]
		frac := ""
		if i < len(rest) && rest[i] == '.' {
			j := i + 1
			for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
				j++
			}
			frac, i = rest[i+1:j], j
			if frac == "" {
				return bad()
			}
		}
		if whole == "" {
			return bad()
		}
		rest = rest[i:]
		unit := time.Duration(0)
		for _, u := range durationUnits() {
			if strings.HasPrefix(rest, u.name) {
				unit, rest = u.d, rest[len(u.name):]
				break
			}
		}
		if unit == 0 {
			for _, tiny := range []string{"ns", "us", "µs"} {
				if strings.HasPrefix(rest, tiny) {
					return 0, fmt.Errorf("invalid duration %q: the smallest unit is ms", s)
				}
			}
			return bad()
		}
		part, ok := scaleDuration(whole, frac, unit)
		if !ok || total > math.MaxInt64-part {
			return 0, fmt.Errorf("invalid duration %q: too large", s)
		}
		total += part
	}
	return total, nil
}

// scaleDuration returns whole.frac times unit, and false when that does not
// fit a time.Duration. Digits of frac beyond the unit's resolution in
// nanoseconds are dropped.
func scaleDuration(whole, frac string, unit time.Duration) (time.Duration, bool) {
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/int64(unit) {
		return 0, false
	}
	d := time.Duration(w) * unit
	scale := unit
	for _, c := range frac {
		scale /= 10
		if scale == 0 {
			break
		}
		d += time.Duration(c-'0') * scale
		if d < 0 {
			return 0, false
		}
	}
	return d, true
}

// UnmarshalYAML records the line of an environment for messages.
func (e *Environment) UnmarshalYAML(n *yaml.Node) error {
	type plain Environment
	if err := n.Decode((*plain)(e)); err != nil {
		return yamlError(err)
	}
	e.line = n.Line
	return nil
}

// UnmarshalYAML records the line of a source for messages. Defaults are
// set before decoding, so that a value written explicitly, "timeout: 0s"
// included, is validated as written instead of silently replaced.
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	type plain Source
	p := plain{Interval: DefaultInterval, Timeout: DefaultTimeout}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*s = Source(p)
	s.line = n.Line
	// Sources billed per API request default to a longer interval; one
	// written explicitly is kept.
	if d, ok := defaultIntervals[s.Type]; ok && !hasKey(n, "interval") {
		s.Interval = d
	}
	return nil
}

// UnmarshalYAML sets the defaults of a restic source before decoding it.
func (o *ResticOptions) UnmarshalYAML(n *yaml.Node) error {
	type plain ResticOptions
	p := plain{StatsInterval: DefaultResticStats}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*o = ResticOptions(p)
	return nil
}

// UnmarshalYAML records the line of a probe for messages and sets its
// default timeout before decoding.
func (p *Probe) UnmarshalYAML(n *yaml.Node) error {
	type plain Probe
	v := plain{Timeout: DefaultProbeTimeout}
	if err := n.Decode(&v); err != nil {
		return yamlError(err)
	}
	*p = Probe(v)
	p.line = n.Line
	return nil
}
