package restic

import "path/filepath"

// Operations returns the external calls a collection can make: snapshots,
// stats and ls runs of the configured program (ls looks inside snapshots
// not seen before) (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	name := filepath.Base(c.binary)
	return []string{name + " snapshots", name + " stats", name + " ls"}
}
