package config

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Defaults of the lock watcher.
const (
	DefaultLockInterval = Duration(15 * time.Second)
	DefaultLockTimeout  = Duration(5 * time.Second)
)

// Locks says where the exporter reads who holds the backup/migration
// locks that `restorable lock` takes (docs/lock.md), and which datasets
// each lock guards, so that the deploy gate can deny a migration while a
// backup holds its lock.
type Locks struct {
	DSNFile  string    `yaml:"dsn_file,omitempty" doc:"File holding the coordination database's connection string (exactly one of dsn_file and dsn_env)."`
	DSNEnv   string    `yaml:"dsn_env,omitempty" doc:"Environment variable holding the coordination database's connection string."`
	Interval Duration  `yaml:"interval,omitempty" doc:"How often the lock holders are read (default 15s; at least 1s)."`
	Timeout  Duration  `yaml:"timeout,omitempty" doc:"Longest a read of the lock holders may take, connecting included (default 5s; must be greater than 0)."`
	Keys     []LockKey `yaml:"keys" doc:"The locks watched, by the --key their wrappers use." required:"true"`

	line int
}

// LockKey is one lock the exporter watches and what it guards.
type LockKey struct {
	Name    string `yaml:"name" doc:"The key name, as restorable lock --key takes it." required:"true"`
	Env     string `yaml:"env" doc:"Environment whose migrations the lock guards (a key of environments)." required:"true"`
	Dataset string `yaml:"dataset,omitempty" doc:"Dataset the lock guards; empty guards every dataset of the environment."`
}

// UnmarshalYAML sets the watcher's defaults before decoding, so that a
// value written explicitly is validated as written.
func (l *Locks) UnmarshalYAML(n *yaml.Node) error {
	type plain Locks
	p := plain{Interval: DefaultLockInterval, Timeout: DefaultLockTimeout}
	if err := n.Decode(&p); err != nil {
		return yamlError(err)
	}
	*l = Locks(p)
	l.line = n.Line
	return nil
}

func (c *Config) validateLocks() error {
	l := c.Locks
	if l == nil {
		return nil
	}
	switch {
	case l.DSNFile == "" && l.DSNEnv == "":
		return errAt(l.line, "locks: give the coordination database's connection string with dsn_file or dsn_env")
	case l.DSNFile != "" && l.DSNEnv != "":
		return errAt(c.lineOf("locks", "dsn_env"), "locks: give dsn_file or dsn_env, not both")
	}
	if l.Interval < Duration(MinScheduleInterval) {
		return errAt(c.lineOf("locks", "interval"), "locks.interval: must be at least %s", Duration(MinScheduleInterval))
	}
	if l.Timeout <= 0 {
		return errAt(c.lineOf("locks", "timeout"), "locks.timeout: must be greater than 0 (every read needs a deadline)")
	}
	if len(l.Keys) == 0 {
		return errAt(c.lineOf("locks", "keys"), "locks.keys: name at least one lock to watch")
	}
	seen := map[string]int{}
	for i, k := range l.Keys {
		line := c.lineOf("locks", "keys", i)
		if strings.TrimSpace(k.Name) == "" {
			return errAt(line, "locks.keys[%d].name: required", i)
		}
		if j, ok := seen[k.Name]; ok {
			return errAt(line, "locks.keys[%d].name: %q is already locks.keys[%d]", i, k.Name, j)
		}
		seen[k.Name] = i
		if _, ok := c.Environments[k.Env]; !ok {
			return errAt(c.lineOf("locks", "keys", i, "env"), "locks.keys[%d].env: %s", i, unknownEnv(k.Env))
		}
	}
	return nil
}

func unknownEnv(env string) string {
	if env == "" {
		return "required"
	}
	return fmt.Sprintf("unknown environment %q", env)
}
