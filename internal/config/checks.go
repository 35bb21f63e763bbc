package config

import (
	"path"
	"slices"
	"strings"
	"time"
)

// Defaults of the check parameters that the environments do not carry.
const (
	DefaultCheckPeriod     = Duration(30 * 24 * time.Hour)
	DefaultFailureWindow   = Duration(24 * time.Hour)
	DefaultAgentDriftLevel = DriftMinor
	// DefaultFreezeRollbacks is how many consecutive rollbacks freeze a
	// dataset's deploys.
	DefaultFreezeRollbacks = 2
	// DefaultFreezeSettle is how long a deploy must go without a rollback
	// to end a series of consecutive rollbacks.
	DefaultFreezeSettle = Duration(24 * time.Hour)
	// DefaultLateGrace is how much later than its expected interval a
	// series' newest good backup may be before backup.late reports it.
	DefaultLateGrace = Duration(time.Hour)
)

// Version levels the agent drift check compares at.
const (
	DriftMajor = "major"
	DriftMinor = "minor"
	DriftPatch = "patch"
)

// DefaultHotStorageClasses are the storage classes that archive_after treats
// as hot: S3 Standard and Reduced Redundancy, Azure's Hot tier and GCS
// Standard (which shares S3's name).
func DefaultHotStorageClasses() []string {
	return []string{"STANDARD", "REDUCED_REDUNDANCY", "HOT"}
}

// DefaultEphemeralPatterns are the path patterns that name data nobody
// restores: caches, temporary files, logs and sessions.
func DefaultEphemeralPatterns() []string {
	return []string{"cache", "caches", ".cache", "tmp", "temp", "log", "logs", "*.log", "session", "sessions"}
}

// productionEnvs are the environment names the ephemeral data check leaves
// out when checks.ephemeral.envs is not set.
func productionEnvs() []string { return []string{"prod", "production"} }

// Checks holds the parameters of policy checks that are not part of an
// environment's policy.
type Checks struct {
	Period            Duration        `yaml:"period,omitempty" doc:"How far back the analyzer's historical checks look when analyze findings gets no --since (default 30d)."`
	Failures          FailuresCheck   `yaml:"failures,omitempty" doc:"The failures check: failed or partial backups within a window."`
	HotStorageClasses []string        `yaml:"hot_storage_classes,omitempty" doc:"Storage classes that archive_after treats as hot, compared case-insensitively (default STANDARD, REDUCED_REDUNDANCY, HOT)."`
	Ephemeral         EphemeralCheck  `yaml:"ephemeral,omitempty" doc:"The ephemeral data check: caches, logs and sessions in backups."`
	AgentDrift        AgentDriftCheck `yaml:"agent_drift,omitempty" doc:"The agent drift check: backup agents in different versions across environments."`
	Freeze            FreezeCheck     `yaml:"freeze,omitempty" doc:"The release.freeze check: consecutive rollbacks of a dataset freeze its deploys until a freeze_ack."`
	Late              LateCheck       `yaml:"late,omitempty" doc:"The backup.late check: a series whose newest good backup is older than its expected interval."`
}

// LateCheck configures the backup.late check.
type LateCheck struct {
	Grace Duration `yaml:"grace,omitempty" doc:"How much older than the expected interval a series' newest good backup may be before it is late: time for a scheduled run to finish (default 1h; 0s is the default too, not no grace)."`
}

// FreezeCheck configures the release.freeze check.
type FreezeCheck struct {
	Rollbacks int      `yaml:"rollbacks,omitempty" doc:"Consecutive successful rollbacks of a dataset in an environment that freeze its deploys (default 2)." minimum:"1"`
	Settle    Duration `yaml:"settle,omitempty" doc:"How long a release (a successful deploy, or the one a rollback returned to) must run without a rollback to end a series of consecutive rollbacks (default 24h); it never ends a freeze, only a freeze_ack does."`
}

// FailuresCheck configures the failures check.
type FailuresCheck struct {
	Window Duration `yaml:"window,omitempty" doc:"How far back failed and partial backups count (default 24h)."`
	Max    int      `yaml:"max,omitempty" doc:"Failed or partial backups per dataset tolerated within the window (default 0)." minimum:"0"`
}

// EphemeralCheck configures the ephemeral data check.
type EphemeralCheck struct {
	Patterns []string `yaml:"patterns,omitempty" doc:"Path patterns (Go path.Match syntax) of ephemeral data. A pattern without a slash matches any element of a path below a backup root (never the root's own elements), one with a slash the whole path of such an entry (default cache, caches, .cache, tmp, temp, log, logs, *.log, session, sessions)."`
	Envs     []string `yaml:"envs,omitempty" doc:"Environments checked (default every environment but prod and production)."`
}

// AgentDriftCheck configures the agent drift check.
type AgentDriftCheck struct {
	Level string `yaml:"level,omitempty" doc:"Version part compared: major, minor or patch (default minor)." enum:",major,minor,patch"`
}

func (c *Config) applyCheckDefaults() {
	k := &c.Checks
	if k.Period == 0 {
		k.Period = DefaultCheckPeriod
	}
	if k.Failures.Window == 0 {
		k.Failures.Window = DefaultFailureWindow
	}
	if len(k.HotStorageClasses) == 0 {
		k.HotStorageClasses = DefaultHotStorageClasses()
	}
	if len(k.Ephemeral.Patterns) == 0 {
		k.Ephemeral.Patterns = DefaultEphemeralPatterns()
	}
	if len(k.Ephemeral.Envs) == 0 {
		for _, name := range c.EnvNames() {
			if !slices.Contains(productionEnvs(), strings.ToLower(name)) {
				k.Ephemeral.Envs = append(k.Ephemeral.Envs, name)
			}
		}
	}
	if k.AgentDrift.Level == "" {
		k.AgentDrift.Level = DefaultAgentDriftLevel
	}
	if k.Freeze.Rollbacks == 0 {
		k.Freeze.Rollbacks = DefaultFreezeRollbacks
	}
	if k.Freeze.Settle == 0 {
		k.Freeze.Settle = DefaultFreezeSettle
	}
	if k.Late.Grace == 0 {
		k.Late.Grace = DefaultLateGrace
	}
}

func (c *Config) validateChecks() error {
	k := &c.Checks
	if k.Freeze.Rollbacks < 0 {
		return errAt(c.lineOf("checks", "freeze", "rollbacks"), "checks.freeze.rollbacks: must be at least 1")
	}
	if k.Freeze.Settle < 0 {
		return errAt(c.lineOf("checks", "freeze", "settle"), "checks.freeze.settle: must not be negative")
	}
	if k.Failures.Max < 0 {
		return errAt(c.lineOf("checks", "failures", "max"), "checks.failures.max: must not be negative")
	}
	for i, p := range k.Ephemeral.Patterns {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return errAt(c.lineOf("checks", "ephemeral", "patterns", i), "checks.ephemeral.patterns[%d]: %q is not a valid pattern", i, p)
		}
	}
	for i, env := range k.Ephemeral.Envs {
		if _, ok := c.Environments[env]; !ok {
			return errAt(c.lineOf("checks", "ephemeral", "envs", i), "checks.ephemeral.envs[%d]: unknown environment %q", i, env)
		}
	}
	switch k.AgentDrift.Level {
	case DriftMajor, DriftMinor, DriftPatch:
	default:
		return errAt(c.lineOf("checks", "agent_drift", "level"), "checks.agent_drift.level: %q is not one of major, minor, patch", k.AgentDrift.Level)
	}
	return nil
}
