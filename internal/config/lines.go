package config

// Line is the line where the environment's policy begins in its file (its
// first setting, or the line of its name for a policy written on one
// line), so that a report can point at the policy a finding breaks.
func (e *Environment) Line() int { return e.line }
