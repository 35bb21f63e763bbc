package velero

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/runx"
)

// BenchmarkCollectFromAPI lists 10,000 backups (20 pages of 500) and the
// schedules and storage locations from a local API server, and maps them:
// one collection of a busy cluster.
func BenchmarkCollectFromAPI(b *testing.B) {
	s := newAPIServer(b)
	var l struct {
		Items []map[string]any `json:"items"`
	}
	data, err := os.ReadFile("testdata/backup-get-list.json")
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		b.Fatal(err)
	}
	var items []json.RawMessage
	for i := range 10_000 {
		it := l.Items[i%len(l.Items)]
		it["metadata"].(map[string]any)["name"] = fmt.Sprintf("backup-%05d", i)
		raw, err := json.Marshal(it)
		if err != nil {
			b.Fatal(err)
		}
		items = append(items, raw)
	}
	s.setItems(ResourceBackups, items)
	c := newCollector(b, &config.VeleroOptions{Kubeconfig: writeKubeconfig(b, s, "{token: "+token+"}"), PageSize: 500})
	b.ReportAllocs()
	for b.Loop() {
		m := &runx.Meter{}
		cat, err := c.Collect(runx.WithMeter(context.Background(), m))
		if err != nil {
			b.Fatal(err)
		}
		if len(cat.Backups) < 9_000 || m.Calls()["kubernetes list backups"] != 20 {
			b.Fatalf("%d backups, calls %v", len(cat.Backups), m.Calls())
		}
	}
}
