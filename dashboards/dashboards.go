// Package dashboards builds Restorable's Grafana dashboards as code.
//
// Each dashboard is one function returning its builder, each panel one
// function returning its panel builder; the helpers in panels.go hold the
// house style (data source, units, legends, query reference ids). The
// generator in cmd/generate writes Render's output to dashboards/json, where
// it is committed so that the dashboards can be imported without Go.
package dashboards

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// Builders returns the builder of every dashboard, in a fixed order.
func Builders() []*dashboard.DashboardBuilder {
	return []*dashboard.DashboardBuilder{
		BackupOverview(),
		RestoreVerification(),
		Storage(),
		Cost(),
		ExporterHealth(),
	}
}

// Render builds every dashboard and returns its JSON, keyed by file name
// (<uid>.json). The output is deterministic, so it can be compared with the
// committed files byte for byte.
func Render() (map[string][]byte, error) {
	files := make(map[string][]byte)
	for _, b := range Builders() {
		d, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build dashboard: %w", err)
		}
		if d.Uid == nil || *d.Uid == "" {
			return nil, fmt.Errorf("build dashboard %q: no uid", deref(d.Title))
		}
		numberPanels(&d)
		// The SDK puts links into the controls menu of Grafana 12, where
		// they are hidden behind a button; the default placement shows them
		// next to the variables in every Grafana version.
		for i := range d.Links {
			d.Links[i].Placement = nil
		}
		// PromQL is full of <, > and &, which Go would escape for HTML and
		// make the committed files hard to read and review.
		var out bytes.Buffer
		enc := json.NewEncoder(&out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(d); err != nil {
			return nil, fmt.Errorf("encode dashboard %s: %w", *d.Uid, err)
		}
		name := *d.Uid + ".json"
		if _, dup := files[name]; dup {
			return nil, fmt.Errorf("build dashboard %s: uid used twice", *d.Uid)
		}
		files[name] = out.Bytes()
	}
	return files, nil
}

// numberPanels gives every panel and row a stable id in layout order. The
// SDK leaves ids empty, and Grafana needs them to link to a single panel and
// to keep a panel's state when the dashboard is edited.
func numberPanels(d *dashboard.Dashboard) {
	var id uint32
	for _, p := range d.Panels {
		switch {
		case p.Panel != nil:
			id++
			p.Panel.Id = cog.ToPtr(id)
		case p.RowPanel != nil:
			id++
			p.RowPanel.Id = id
			for i := range p.RowPanel.Panels {
				id++
				p.RowPanel.Panels[i].Id = cog.ToPtr(id)
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
