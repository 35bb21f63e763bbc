// Package policy decides whether backups, repositories and restore probes
// meet the policy of their environment, and says why when they do not.
//
// It is pure Go and does no I/O. The exporter evaluates the current state
// with it (latest catalog of each source, latest run of each probe) for its
// metrics and the deploy gate; the analyzer evaluates the state the history
// records at any moment. Both call the same functions, so a gate answer and
// an audit report cannot disagree about a breach.
package policy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity ranks findings. The zero value is not a severity.
type Severity int

// The severities, from least to most urgent.
const (
	// SeverityInfo is advice: nothing is at risk yet (cost, hygiene, past
	// breaches that have ended).
	SeverityInfo Severity = iota + 1
	// SeverityWarning is a policy breach that does not stop a restore.
	SeverityWarning
	// SeverityCritical is a breach that puts a restore, or the law, at risk
	// now.
	SeverityCritical
)

// Severities lists every severity from least to most urgent.
func Severities() []Severity { return []Severity{SeverityInfo, SeverityWarning, SeverityCritical} }

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return fmt.Sprintf("severity(%d)", int(s))
}

// ParseSeverity parses "info", "warning" or "critical".
func ParseSeverity(s string) (Severity, error) {
	for _, v := range Severities() {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: use info, warning or critical", s)
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Subject is what a finding is about. Only the fields that identify it are
// set: a dataset of a source, a release of it, a repository, a probe or a
// backup agent.
type Subject struct {
	Source     string `json:"source,omitempty"`
	Dataset    string `json:"dataset,omitempty"`
	Release    string `json:"release,omitempty"`
	Repository string `json:"repository,omitempty"`
	Probe      string `json:"probe,omitempty"`
	Agent      string `json:"agent,omitempty"`
}

// String joins the set fields with "/", in a fixed order.
func (s Subject) String() string {
	var parts []string
	for _, p := range []string{s.Source, s.Dataset, s.Repository, s.Probe, s.Agent} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	out := strings.Join(parts, "/")
	if s.Release != "" {
		out += "@" + s.Release
	}
	return out
}

// Evidence is one record a finding rests on.
type Evidence struct {
	// Kind is "backup", "repository" or "probe".
	Kind   string `json:"kind"`
	Source string `json:"source,omitempty"`
	ID     string `json:"id"`
	// Release is the release label of a backup, when it matters.
	Release string    `json:"release,omitempty"`
	Time    time.Time `json:"time,omitzero"`
	Note    string    `json:"note,omitempty"`
}

// String is "kind source/id@time (note)", for text formats.
func (e Evidence) String() string {
	s := e.Kind + " "
	if e.Source != "" {
		s += e.Source + "/"
	}
	s += e.ID
	if !e.Time.IsZero() {
		s += "@" + e.Time.UTC().Format(time.RFC3339)
	}
	if e.Note != "" {
		s += " (" + e.Note + ")"
	}
	return s
}

// Finding is one breach of policy.
type Finding struct {
	Check    string   `json:"check"`
	Severity Severity `json:"severity"`
	Env      string   `json:"env"`
	Subject  Subject  `json:"subject"`
	Expected string   `json:"expected"`
	Observed string   `json:"observed"`
	// Start is when the breach began and End when it ended, when known;
	// End is zero while the breach lasts.
	Start    time.Time  `json:"start,omitzero"`
	End      time.Time  `json:"end,omitzero"`
	Evidence []Evidence `json:"evidence,omitempty"`
	// Controls are the audit controls the check supports, such as
	// "ISO27001:A.8.13" or "SOC2:A1.2".
	Controls []string `json:"controls"`
}

// NewFinding starts a finding of a check from the catalog, with the check's
// severity and controls. It panics on an id that is not in the catalog:
// that is a programming error, never an input error.
func NewFinding(check, env string, subject Subject) Finding {
	c, ok := Lookup(check)
	if !ok {
		panic("policy: unknown check " + check)
	}
	return Finding{Check: c.ID, Severity: c.Severity, Env: env, Subject: subject, Controls: slices.Clone(c.Controls)}
}

// maxEvidence bounds the records one finding lists, so that a dataset with
// thousands of offending backups gives a readable finding; Observed carries
// the full count.
const maxEvidence = 5

// Sort orders findings by severity (most urgent first), check, env and
// subject, so that output is stable.
func Sort(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(b.Severity, a.Severity),
			cmp.Compare(a.Check, b.Check),
			cmp.Compare(a.Env, b.Env),
			cmp.Compare(a.Subject.String(), b.Subject.String()),
			a.Start.Compare(b.Start),
		)
	})
}

// Count returns how many findings are at or above min.
func Count(fs []Finding, min Severity) int {
	n := 0
	for i := range fs {
		if fs[i].Severity >= min {
			n++
		}
	}
	return n
}

// FormatDuration writes a duration the way people read ages: "26h10m",
// "3d4h", "45m", "12s".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%dh", h)
		}
		return fmt.Sprintf("%dh%dm", h, m)
	default:
		d = d.Round(time.Hour)
		days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
		if h == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, h)
	}
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
