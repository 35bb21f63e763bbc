package metrics

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/collectors"
	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/runx"
)

type declaring struct{ ops []string }

func (declaring) Collect(context.Context) (*model.Catalog, error) { return &model.Catalog{}, nil }
func (d declaring) Operations() []string                          { return d.ops }

// Every counter of a configured source exists at 0 before anything
// happened, so that increase() over the first error or the first call is
// 1, not nothing; and the first failure then moves that very series.
func TestSelfCountersStartAtZero(t *testing.T) {
	cfg, err := config.Parse("t.yml", []byte(`
environments: {prod: {rpo: 1h}}
sources:
  - {name: db, type: pgbackrest, env: prod}
  - {name: files, type: manifest, env: prod, manifest: {dir: x}}
`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	s := NewSelf(reg)
	s.Declare(cfg, map[string]collectors.Collector{"db": declaring{ops: []string{"pgbackrest info"}}, "files": declaring{}})

	want := []string{`restorable_collector_external_calls_total{operation="pgbackrest info",source="db",type="pgbackrest"} 0`,
		`restorable_collector_runs_total{source="files",type="manifest"} 0`,
		`restorable_collector_read_bytes_total{source="db",type="pgbackrest"} 0`}
	for _, k := range runx.Kinds {
		for _, src := range []string{`source="db",type="pgbackrest"`, `source="files",type="manifest"`} {
			want = append(want, `restorable_collector_errors_total{kind="`+string(k)+`",`+src+`} 0`)
		}
	}
	text := gatherText(t, reg)
	for _, w := range want {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("missing before the first collection: %s", w)
		}
	}

	s.ObserveRun(collectors.Run{Source: "db", Type: "pgbackrest", Err: errors.New("x"), Kind: runx.KindTimeout, Calls: map[string]int{"pgbackrest info": 1}})
	text = gatherText(t, reg)
	for _, w := range []string{
		`restorable_collector_errors_total{kind="timeout",source="db",type="pgbackrest"} 1`,
		`restorable_collector_errors_total{kind="exit",source="db",type="pgbackrest"} 0`,
		`restorable_collector_external_calls_total{operation="pgbackrest info",source="db",type="pgbackrest"} 1`,
	} {
		if !strings.Contains(text, w+"\n") {
			t.Errorf("after a timeout: missing %s", w)
		}
	}
	if n := strings.Count(text, "restorable_collector_external_calls_total{"); n != 1 {
		t.Errorf("%d call series, want the declared one only:\n%s", n, text)
	}
}

func gatherText(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), m.GetCounter().GetValue())
		}
	}
	return b.String()
}
