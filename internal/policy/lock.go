package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// CheckBackupLock is the gate reason of a migration asked for while a
// backup holds the lock guarding the dataset, or while nobody can tell.
const CheckBackupLock = "lock.backup_running"

// Purposes of a gate request: a deploy (the default) or a schema
// migration.
const (
	PurposeDeploy    = "deploy"
	PurposeMigration = "migration"
)

// LockState is what the exporter knows of the backup/migration locks
// (locks: in the configuration) at one instant.
type LockState struct {
	// Known is false when the coordination database could not be read
	// (never yet, or the last read failed): who holds a lock is unknown.
	Known bool
	// ObservedAt is when the holders were read; on a failed read, when
	// the last successful read was (zero if none).
	ObservedAt time.Time
	// Err says why the state is unknown.
	Err string
	// Holders are the sessions holding a watched lock, ordered by key.
	Holders []model.LockHolder
}

// locksOf keeps the holders of configured keys; nil when no locks are
// configured, and an unknown state when they are but in gives none.
func locksOf(cfg *config.Config, in *LockState) *LockState {
	if cfg.Locks == nil {
		return nil
	}
	if in == nil {
		return &LockState{Err: "the lock holders have not been read"}
	}
	out := &LockState{Known: in.Known, ObservedAt: in.ObservedAt, Err: in.Err}
	for _, h := range in.Holders {
		if slices.ContainsFunc(cfg.Locks.Keys, func(k config.LockKey) bool { return k.Name == h.Key }) {
			out.Holders = append(out.Holders, h)
		}
	}
	slices.SortFunc(out.Holders, func(a, b model.LockHolder) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// lockReasons are the reasons a migration of req's environment (and
// dataset) is denied: a backup holds a lock guarding it, or the lock
// state is unknown.
func lockReasons(cfg *config.Config, locks *LockState, req GateRequest) []GateReason {
	if cfg.Locks == nil {
		return nil
	}
	var out []GateReason
	for _, k := range cfg.Locks.Keys {
		if k.Env != req.Env || req.Dataset != "" && k.Dataset != "" && k.Dataset != req.Dataset {
			continue
		}
		if locks == nil || !locks.Known {
			why := "the coordination database could not be read"
			if locks != nil && locks.Err != "" {
				why += ": " + locks.Err
			}
			out = append(out, GateReason{
				Check: CheckBackupLock, Severity: SeverityCritical, Subject: k.Name,
				Detail: fmt.Sprintf("whether a backup holds lock %s is unknown (%s): a migration waits until it is known", k.Name, why),
			})
			continue
		}
		for _, h := range locks.Holders {
			if h.Key != k.Name || h.Purpose != "backup" {
				continue
			}
			since := "since an unknown time"
			if !h.Since.IsZero() {
				since = "since " + h.Since.UTC().Format(time.RFC3339)
			}
			out = append(out, GateReason{
				Check: CheckBackupLock, Severity: SeverityCritical, Subject: k.Name,
				Detail: fmt.Sprintf("a backup holds lock %s (session pid %d on the coordination database, %s): a migration must wait until it ends", k.Name, h.PID, since),
			})
		}
	}
	return out
}
