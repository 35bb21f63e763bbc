// Package alerts holds Restorable's Prometheus alerting rules
// (restorable.rules.yml), their promtool unit tests (tests/), an example
// Alertmanager configuration and the Go tests that run the real promtool
// and amtool over them. The runbooks the rules link to are in
// docs/runbooks.
package alerts

// RulesFile is the rule file, relative to this directory; end-to-end tests
// load it into a real Prometheus.
const RulesFile = "restorable.rules.yml"

// GateLabel and GateValue mark the alerts that block releases.
const (
	GateLabel = "gate"
	GateValue = "deploy"
)
