package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// SchedulePattern is the shape of a schedule: a duration, "@every" and a
// duration, a descriptor (@hourly, ...) or five cron fields, optionally
// after CRON_TZ=Zone. ParseSchedule accepts nothing outside it; within it,
// it also checks what a pattern cannot: cron field ranges, the one-second
// minimum and that a cron spec fires at all.
const SchedulePattern = `^(` + scheduleDuration + `|@every ` + scheduleDuration + `|((CRON_TZ|TZ)=[^ ]+ +)?(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[0-9A-Za-z*?/,-]+( +[0-9A-Za-z*?/,-]+){4}))$`

const scheduleDuration = `([0-9]+(\.[0-9]+)?(ms|s|m|h|d|w|y))+`

// Schema returns a JSON Schema (draft 2020-12) of the configuration file,
// derived from the Go types so that it cannot drift from what Load accepts.
// Editors with YAML language support use it for completion and checks.
// probeOptions maps each probe kind to the type its options decode into
// (probe.OptionTypes); the schema then checks a probe's kind and options.
// docs/config.schema.json is its committed output.
func Schema(probeOptions map[string]reflect.Type) map[string]any {
	s := schemaOf(reflect.TypeFor[Config]())
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://github.com/restorable/restorable/docs/config.schema.json"
	s["title"] = "Restorable configuration"
	if len(probeOptions) > 0 {
		probe := s["properties"].(map[string]any)["probes"].(map[string]any)["items"].(map[string]any)
		kinds := make([]string, 0, len(probeOptions))
		for k := range probeOptions {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		var enum, rules []any
		for _, k := range kinds {
			enum = append(enum, k)
			rules = append(rules, map[string]any{
				"if":   map[string]any{"properties": map[string]any{"kind": map[string]any{"const": k}}, "required": []string{"kind"}},
				"then": map[string]any{"properties": map[string]any{"options": schemaOf(probeOptions[k])}},
			})
		}
		probe["properties"].(map[string]any)["kind"].(map[string]any)["enum"] = enum
		probe["allOf"] = rules
	}
	return s
}

func schemaOf(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == durationType:
		// A bare 0 is a YAML integer, which the loader reads as "0".
		return map[string]any{"anyOf": []any{map[string]any{"type": "string", "pattern": DurationPattern}, map[string]any{"const": 0}}, "description": "A duration such as 90s, 5m, 1h30m, 1.5h, 35d or 2w."}
	case t == nodeType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.String:
		// The loader takes any scalar as text (release: 1.10 is "1.10"),
		// and so does the schema.
		return map[string]any{"type": []any{"string", "number", "boolean"}}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaOf(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaOf(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key == "-" || !f.IsExported() {
				continue
			}
			p := schemaOf(f.Type)
			if doc := f.Tag.Get("doc"); doc != "" {
				p["description"] = doc
			}
			if pat := f.Tag.Get("pattern"); pat != "" {
				p["type"], p["pattern"] = "string", pat
			}
			if f.Tag.Get("schedule") == "true" {
				p["type"], p["pattern"] = "string", SchedulePattern
			}
			if f.Tag.Get("required") == "true" && t.Field(i).Type.Kind() == reflect.Map {
				p["minProperties"] = 1
			}
			if m := f.Tag.Get("minimum"); m != "" {
				n, err := strconv.Atoi(m)
				if err != nil {
					panic(fmt.Sprintf("minimum tag of %s.%s: %v", t.Name(), f.Name, err))
				}
				p["minimum"] = n
			}
			if enum := f.Tag.Get("enum"); enum != "" {
				var vals []any
				for _, v := range strings.Split(enum, ",") {
					vals = append(vals, v)
				}
				p["enum"] = vals
			}
			props[key] = p
			if f.Tag.Get("required") == "true" {
				required = append(required, key)
			}
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}
