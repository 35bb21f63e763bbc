package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/probe"
)

// schemaJSON is what --config.schema prints.
func schemaJSON(t *testing.T) []byte {
	t.Helper()
	out, err := json.MarshalIndent(config.Schema(probe.OptionTypes()), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

// The schema's $id names docs/config.schema.json: that file is the
// schema the exporter prints (go test ./cmd/exporter -run TestSchemaFile
// -update rewrites it).
func TestSchemaFileIsCurrent(t *testing.T) {
	const file = "../../docs/config.schema.json"
	want := schemaJSON(t)
	if *update {
		if err := os.WriteFile(file, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from --config.schema; rerun with -update", file)
	}
	var s map[string]any
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	if id, _ := s["$id"].(string); !strings.HasSuffix(id, "/docs/config.schema.json") {
		t.Errorf("$id %q does not name docs/config.schema.json", id)
	}
}

// The schema accepts every configuration the loader accepts, and rejects
// every invalid one except those whose mistake JSON Schema cannot express
// (listed with the reason).
func TestSchemaAgreesWithTheLoader(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(schemaJSON(t), &schema); err != nil {
		t.Fatal(err)
	}
	valid, _ := filepath.Glob("../../examples/*/restorable*.yml")
	valid = append(valid, "../../internal/config/testdata/good.yml", "testdata/e2e/restorable.yml")
	examples := map[string][]byte{}
	for _, f := range valid {
		examples[f] = readFile(t, f)
	}
	for name, data := range docExamples(t) {
		examples[name] = data
	}
	for f, data := range examples {
		cfg, err := config.Parse(f, data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if err := validateYAML(schema, data); err != nil {
			t.Errorf("%s: the loader accepts it, the schema says %v", f, err)
		}
		// The documented examples also pass what a start builds.
		if _, err := collectors.Build(cfg, collectors.Factories(), collectors.Deps{Logger: slog.New(slog.DiscardHandler), Now: time.Now}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if _, err := probe.NewManager(cfg, nil, probe.Options{StateDir: t.TempDir()}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// What the schema cannot see: relations between values, numbers
	// inside strings, more than one document.
	semantic := map[string]string{
		"invalid-duplicate-source.yml":           "uniqueness of names",
		"invalid-unknown-env.yml":                "reference to an environment",
		"invalid-billing-bucket-env.yml":         "reference to an environment",
		"invalid-checks-env.yml":                 "reference to an environment",
		"invalid-probe-on-deploy-env.yml":        "reference to an environment",
		"invalid-classification.yml":             "reference to a classification",
		"invalid-probe-source.yml":               "reference to a source",
		"invalid-min-over-max.yml":               "comparison of two durations",
		"invalid-kms-without-kms.yml":            "a key that needs another",
		"invalid-restic-no-password.yml":         "one of two keys",
		"invalid-options-mismatch.yml":           "options that depend on the type",
		"invalid-rpo-missing.yml":                "a duration greater than 0",
		"invalid-timeout-zero.yml":               "a duration greater than 0",
		"invalid-probe-timeout-zero.yml":         "a duration greater than 0",
		"invalid-stats-interval-zero.yml":        "a duration greater than 0",
		"invalid-probe-schedule-zero.yml":        "the one-second minimum of a schedule",
		"invalid-interval-too-short.yml":         "the one-second minimum of a schedule",
		"invalid-interval-fraction.yml":          "whole seconds in a schedule",
		"invalid-schedule-never-fires.yml":       "cron field ranges and calendars",
		"invalid-dataset-from-restic-stanza.yml": "dataset_from values that depend on the type",
		"invalid-dataset-from-walg.yml":          "dataset_from values that depend on the type",
		"invalid-walg-env-value.yml":             "names of environment variables",
		"invalid-velero-file-and-binary.yml":     "one of two keys",
		"invalid-awsbackup-vault-group.yml":      "the groups of a regular expression",
		"invalid-awsbackup-vault-both.yml":       "one of two keys",
		"invalid-awsbackup-regex.yml":            "the syntax of a regular expression",
		"invalid-second-document.yml":            "editors check each document alone",
		"invalid-yaml-syntax.yml":                "not YAML at all",
		"invalid-events-both-secrets.yml":        "one of two keys",
		"invalid-events-no-secret.yml":           "one of two keys",
		"invalid-events-no-journal.yml":          "a key that needs another",
		"invalid-events-rollback-regexp.yml":     "a regular expression's syntax",
		"invalid-events-unknown-env.yml":         "reference to an environment",
		"invalid-min-lock-env.yml":               "reference to an environment",
		"invalid-s3-endpoint-credentials.yml":    "the parts of a URL",
		"invalid-s3-inventory.yml":               "a key that needs another",
		"invalid-s3-inventory-pinned.yml":        "a key whose default another key forbids",
		"invalid-s3-no-dataset.yml":              "one of two keys (dataset, or {dataset} in the key template)",
		"invalid-s3-placeholder.yml":             "the placeholders of a key template",
		"invalid-s3-prefix-outside.yml":          "prefixes compared with the key template",
		"invalid-s3-prefix-overlap.yml":          "prefixes compared with each other",
	}
	invalid, _ := filepath.Glob("../../internal/config/testdata/invalid-*.yml")
	if len(invalid) < 30 {
		t.Fatalf("found %d invalid configurations", len(invalid))
	}
	for _, f := range invalid {
		data := readFile(t, f)
		if _, err := config.Parse(f, data); err == nil {
			t.Fatalf("%s: the loader accepts it", f)
		}
		if why := semantic[filepath.Base(f)]; why != "" {
			continue
		}
		if err := validateYAML(schema, data); err == nil {
			t.Errorf("%s: the loader rejects it, the schema accepts it", f)
		}
	}
	// Probe kinds and their options.
	base := "environments: {prod: {rpo: 1h}}\nprobes:\n  - {name: p, source: s, "
	for probe, ok := range map[string]bool{
		"kind: artifact, options: {base_dir: x}}":                                       true,
		"kind: artefact}":                                                               false,
		"kind: artifact, options: {base_dirr: x}}":                                      false,
		"kind: command, options: {command: [./check.sh, ok], output_tail: 10}}":         true,
		"kind: command, options: {command: ./check.sh}}":                                false,
		"kind: postgres-logical, options: {sandbox: {dsn_file: f}, database: x}}":       true,
		"kind: postgres-logical, options: {sandbox: {dsn_fil: f}}}":                     false,
		"kind: restic, options: {repository: /r, password_file: p, check: false}}":      true,
		"kind: pgbackrest, options: {stanza: main, restore: true, schedule: '@daily'}}": false,
	} {
		err := validateYAML(schema, []byte(base+probe+"\n"))
		if (err == nil) != ok {
			t.Errorf("%s: schema says %v, want valid=%v", probe, err, ok)
		}
	}
	// Durations and schedules the loader accepts.
	for _, v := range []string{"rpo: 1.5h", "rpo: 1h30m", "rpo: 500ms", "rpo: 2w", "rpo: 1h, archive_after: 0", "rpo: 1h, quiet_windows: [{start: 'CRON_TZ=Europe/Paris 0 3 * * 1', duration: 2h}]"} {
		data := []byte("environments:\n  prod: {" + v + "}\n")
		if _, err := config.Parse("x.yml", data); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if err := validateYAML(schema, data); err != nil {
			t.Errorf("%s: the loader accepts it, the schema says %v", v, err)
		}
	}
}

// docExamples returns the whole configurations among the YAML examples of
// docs/config.md and docs/collectors.md (internal/config checks that every
// example is one or is marked).
func docExamples(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	block := regexp.MustCompile("(?ms)^```yaml\n(.*?)^```")
	for _, doc := range []string{"../../docs/config.md", "../../docs/collectors.md"} {
		for i, m := range block.FindAllSubmatch(readFile(t, doc), -1) {
			if bytes.HasPrefix(m[1], []byte("environments:")) || bytes.Contains(m[1], []byte("\nenvironments:")) {
				out[fmt.Sprintf("%s example %d", doc, i+1)] = m[1]
			}
		}
	}
	if len(out) < 6 {
		t.Fatalf("found %d documented configurations", len(out))
	}
	return out
}

func readFile(t *testing.T, f string) []byte {
	t.Helper()
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// validateYAML checks the first YAML document of data against schema. It
// implements the keywords config.Schema uses, no more: type, properties,
// additionalProperties, required, minProperties, items, pattern, enum,
// const, minimum, anyOf, allOf and if/then.
func validateYAML(schema map[string]any, data []byte) error {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return err
	}
	return validate(schema, doc, "")
}

func validate(s map[string]any, v any, path string) error {
	if tv, ok := v.(time.Time); ok {
		v = tv.Format(time.RFC3339)
	}
	if n, ok := v.(int); ok {
		v = float64(n)
	}
	if t, ok := s["type"]; ok && !hasType(t, v) {
		return fmt.Errorf("%s: %v (%T) is not of type %v", path, v, v, t)
	}
	if c, ok := s["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		return fmt.Errorf("%s: %v is not %v", path, v, c)
	}
	if e, ok := s["enum"].([]any); ok && !slices.ContainsFunc(e, func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: %v is not one of %v", path, v, e)
	}
	if p, ok := s["pattern"].(string); ok {
		if str, isStr := v.(string); isStr && !regexp.MustCompile(p).MatchString(str) {
			return fmt.Errorf("%s: %q does not match %s", path, str, p)
		}
	}
	if m, ok := s["minimum"].(float64); ok {
		if n, isNum := v.(float64); isNum && n < m {
			return fmt.Errorf("%s: %v is less than %v", path, n, m)
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		var errs []string
		for _, sub := range alts {
			err := validate(sub.(map[string]any), v, path)
			if err == nil {
				errs = nil
				break
			}
			errs = append(errs, err.Error())
		}
		if errs != nil {
			return fmt.Errorf("%s: none of %s", path, strings.Join(errs, "; "))
		}
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			sub := sub.(map[string]any)
			if cond, ok := sub["if"].(map[string]any); ok {
				if validate(cond, v, path) != nil {
					continue
				}
				if then, ok := sub["then"].(map[string]any); ok {
					if err := validate(then, v, path); err != nil {
						return err
					}
				}
				continue
			}
			if err := validate(sub, v, path); err != nil {
				return err
			}
		}
	}
	switch v := v.(type) {
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := v[r.(string)]; !ok {
					return fmt.Errorf("%s: %s is required", path, r)
				}
			}
		}
		if mp, ok := s["minProperties"].(float64); ok && float64(len(v)) < mp {
			return fmt.Errorf("%s: fewer than %v properties", path, mp)
		}
		props, _ := s["properties"].(map[string]any)
		for k, val := range v {
			sub, ok := props[k].(map[string]any)
			if !ok {
				switch ap := s["additionalProperties"].(type) {
				case bool:
					if !ap {
						return fmt.Errorf("%s: unknown property %q", path, k)
					}
					continue
				case map[string]any:
					sub = ap
				default:
					continue
				}
			}
			if err := validate(sub, val, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, val := range v {
				if err := validate(items, val, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func hasType(t, v any) bool {
	switch t := t.(type) {
	case string:
		switch t {
		case "object":
			_, ok := v.(map[string]any)
			return ok
		case "array":
			_, ok := v.([]any)
			return ok
		case "string":
			_, ok := v.(string)
			return ok
		case "boolean":
			_, ok := v.(bool)
			return ok
		case "integer":
			n, ok := v.(float64)
			return ok && n == float64(int64(n))
		case "number":
			_, ok := v.(float64)
			return ok
		}
	case []any:
		return slices.ContainsFunc(t, func(x any) bool { return hasType(x, v) })
	}
	return false
}
