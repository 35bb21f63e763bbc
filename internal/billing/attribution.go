package billing

import (
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
