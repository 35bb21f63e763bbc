package restic

import "path/filepath"

// Operations returns the external calls a collection can make: snapshots
// and stats runs of the configured program (collectors.OperationDeclarer).
func (c *Collector) Operations() []string {
	name := filepath.Base(c.binary)
	return []string{name + " snapshots", name + " stats"}
}
