package config

import (
	"fmt"
	"reflect"
	"regexp"
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

func checkKeys(node *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if node.Kind == yaml.DocumentNode {
		if len(node.Content) == 0 {
			return nil
		}
		return checkKeys(node.Content[0], t, path)
	}
	if node.Kind == yaml.AliasNode {
		return checkKeys(node.Alias, t, path)
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
			f, ok := fields[k.Value]
			if !ok {
				return errAt(k.Line, "%s: unknown field %q%s", sectionName(path), k.Value, suggest(k.Value, fields))
			}
			if err := checkKeys(v, f.Type, join(path, k.Value)); err != nil {
				return err
			}
		}
	case reflect.Map:
		if node.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			if err := checkKeys(node.Content[i+1], t.Elem(), join(path, node.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			return nil
		}
		for i, v := range node.Content {
			if err := checkKeys(v, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
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
		if node.Kind == yaml.ScalarNode {
			if _, err := strconv.Atoi(node.Value); err != nil {
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
	return errAt(node.Line, "%s: expected %s", path, want)
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

// suggest offers the closest known key for a likely typo, and says how
// secrets are given when someone tries to write one inline.
func suggest(key string, fields map[string]reflect.StructField) string {
	for _, secret := range []string{"password", "secret", "token", "dsn"} {
		if key == secret {
			if _, ok := fields[secret+"_sha256_file"]; ok {
				return fmt.Sprintf(" (secrets are never accepted inline: use %s_sha256_file)", secret)
			}
			return fmt.Sprintf(" (secrets are never accepted inline: use %s_file or %s_env)", secret, secret)
		}
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

// ParseDuration parses "0", Go durations and Prometheus durations with d,
// w and y units.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "0s" {
		return 0, nil
	}
	if v, err := model.ParseDuration(s); err == nil {
		return time.Duration(v), nil
	}
	if v, err := time.ParseDuration(s); err == nil {
		if v < 0 {
			return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
		}
		return v, nil
	}
	return 0, fmt.Errorf("invalid duration %q: use a number with a unit such as 90s, 5m, 1h, 35d or 2w", s)
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

// UnmarshalYAML records the line of a source for messages.
func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	type plain Source
	if err := n.Decode((*plain)(s)); err != nil {
		return yamlError(err)
	}
	s.line = n.Line
	return nil
}

// UnmarshalYAML records the line of a probe for messages.
func (p *Probe) UnmarshalYAML(n *yaml.Node) error {
	type plain Probe
	if err := n.Decode((*plain)(p)); err != nil {
		return yamlError(err)
	}
	p.line = n.Line
	return nil
}
