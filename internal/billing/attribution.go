package billing

import (
	"fmt"
	"sort"
	"strings"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Attribute sets the Env and Dataset of a cost line from the
// configuration: the bucket or vault the line names first, then the tags
// for what the bucket mapping leaves empty. A line neither attributes
// keeps them empty (unattributed). Cost Explorer lines, which name no
// resource, are attributed by their tags alone.
func Attribute(l *model.CostLine, a *config.CostAttribution) {
	if a == nil {
		return
	}
	if t, ok := a.Buckets[l.Resource]; ok && l.Resource != "" {
		l.Env, l.Dataset = t.Env, t.Dataset
	}
	if l.Env == "" && a.Tags.Env != "" {
		l.Env = l.Tags[a.Tags.Env]
	}
	if l.Dataset == "" && a.Tags.Dataset != "" {
		l.Dataset = l.Tags[a.Tags.Dataset]
	}
}

// attributionSQL returns the SQL expressions of env and dataset for the
// same decision as Attribute: resource is the normalised resource, tag(k)
// the expression of tag key k's value.
func attributionSQL(a *config.CostAttribution, resource string, tag func(string) string) (env, dataset string) {
	if a == nil {
		return "NULL::VARCHAR", "NULL::VARCHAR"
	}
	mapped := func(pick func(config.AttributionTarget) string) string {
		names := make([]string, 0, len(a.Buckets))
		for n := range a.Buckets {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		b.WriteString("CASE " + resource)
		n := 0
		for _, name := range names {
			if name == "" {
				continue
			}
			fmt.Fprintf(&b, " WHEN %s THEN %s", SQLString(name), SQLString(pick(a.Buckets[name])))
			n++
		}
		if n == 0 {
			return "NULL::VARCHAR"
		}
		b.WriteString(" END")
		return "nullif(" + b.String() + ", '')"
	}
	env = mapped(func(t config.AttributionTarget) string { return t.Env })
	dataset = mapped(func(t config.AttributionTarget) string { return t.Dataset })
	if a.Tags.Env != "" {
		env = "coalesce(" + env + ", nullif(" + tag(a.Tags.Env) + ", ''))"
	}
	if a.Tags.Dataset != "" {
		dataset = "coalesce(" + dataset + ", nullif(" + tag(a.Tags.Dataset) + ", ''))"
	}
	return env, dataset
}
