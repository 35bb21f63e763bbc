package policy

import (
	"fmt"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Store facts: what a bucket or vault says about how it protects what it
// holds (model.Protection on a repository). They drive the checks in two
// ways. A collector that reads them sets each backup's own fields from
// them (encrypted, key, immutable until, region), which the per-backup
// checks judge as for any source; and the facts of the store itself are
// judged here, where no backup says them: the lock's default retention
// (immutability), lifecycle expiration (retention.min_age) and lifecycle
// transition (archive_after).
//
// A fact the store did not give (an empty string, LifecycleKnown false)
// is unknown: no check reads it as "off", and a backup whose protection
// field is false only because its store's fact is unknown is not judged on
// that field.

// storeOf returns the protection facts of the store a backup lives in:
// those of the repository of its source and environment that has them,
// or nil when the source reports none.
func (e *evaluator) storeOf(b *model.Backup) *model.Protection {
	if e.stores == nil {
		e.stores = map[string][]*model.Repository{}
		for i := range e.repos {
			if r := &e.repos[i].Repository; r.Protection != nil {
				e.stores[r.Source] = append(e.stores[r.Source], r)
			}
		}
	}
	for _, r := range e.stores[b.Source] {
		if (r.Env == "" || r.Env == b.Env) && (r.Dataset == "" || r.Dataset == b.Dataset) {
			return r.Protection
		}
	}
	return nil
}

// encryptionUnknown reports whether a backup's encryption fields say
// nothing because its store's default encryption is unknown.
func (e *evaluator) encryptionUnknown(b *model.Backup) bool {
	p := e.storeOf(b)
	return p != nil && p.Encryption == ""
}

// lockUnknown reports whether a backup's immutability says nothing
// because its store's lock configuration is unknown.
func (e *evaluator) lockUnknown(b *model.Backup) bool {
	p := e.storeOf(b)
	return p != nil && p.LockMode == ""
}

// lockNone is the LockMode of a store that has no default lock.
const lockNone = "none"

// requiredLock is the shortest default lock retention a store of a
// source must apply in env, and what asks for it: the source's
// classification's min_lock for the environment, else, where the
// environment requires immutability, its retention.min_age (a backup that
// can be deleted before it is old enough to be the oldest one kept does
// not keep the retention).
func (e *evaluator) requiredLock(source string, envName string, env *config.Environment) (min config.Duration, why string) {
	if s := e.cfg.Source(source); s != nil && s.Classification != "" {
		if cl := e.cfg.Classifications[s.Classification]; cl != nil {
			if d, ok := cl.MinLock[envName]; ok && d > 0 {
				return d, s.Classification + " data locked for at least " + FormatDuration(d.D())
			}
		}
	}
	if env != nil && env.Require.Immutable && env.Retention.MinAge > 0 {
		return env.Retention.MinAge, "locked for at least the retention's min_age " + FormatDuration(env.Retention.MinAge.D())
	}
	return 0, ""
}

// checkStores judges the facts of each store that reports them.
func (e *evaluator) checkStores() []Finding {
	var out []Finding
	for i := range e.repos {
		r := &e.repos[i].Repository
		if r.Protection == nil {
			continue
		}
		env := e.env(r.Env)
		out = append(out, e.checkStoreLock(r, env)...)
		if env != nil {
			out = append(out, e.checkStoreExpiry(r, env)...)
			out = append(out, e.checkStoreTiering(r, env)...)
		}
	}
	return out
}

func repoSubject(r *model.Repository) Subject {
	return Subject{Source: r.Source, Dataset: r.Dataset, Repository: r.Name}
}

// checkStoreLock wants a store's default lock to last at least as long as
// its data's class (or its environment's retention) asks. A store with no
// default lock at all where the environment requires immutability is
// already a finding on each of its backups; here it is one only where the
// classification alone asks for a lock.
func (e *evaluator) checkStoreLock(r *model.Repository, env *config.Environment) []Finding {
	p := r.Protection
	min, why := e.requiredLock(r.Source, r.Env, env)
	if min <= 0 || p.LockMode == "" {
		return nil
	}
	var observed string
	switch {
	case p.LockMode == lockNone:
		if env != nil && env.Require.Immutable {
			return nil
		}
		observed = "no default lock"
	case p.LockRetention < min.D():
		observed = fmt.Sprintf("%s lock for %s by default", p.LockMode, FormatDuration(p.LockRetention))
		if p.LockRetention == 0 {
			observed = p.LockMode + " lock without a default retention"
		}
	default:
		return nil
	}
	f := e.newFinding(CheckImmutable, r.Env, repoSubject(r))
	f.Expected = why
	f.Observed = observed
	f.Evidence = []Evidence{repoEvidence(r, "lock "+p.LockMode)}
	return []Finding{f}
}

// checkStoreExpiry wants no lifecycle rule to delete backups younger than
// the retention's min_age: a store that expires them earlier never keeps
// the history the policy asks for, however the backups are taken.
func (e *evaluator) checkStoreExpiry(r *model.Repository, env *config.Environment) []Finding {
	p := r.Protection
	min := env.Retention.MinAge.D()
	if !p.LifecycleKnown || p.ExpireAfter <= 0 || min <= 0 || p.ExpireAfter >= min {
		return nil
	}
	f := e.newFinding(CheckMinAge, r.Env, repoSubject(r))
	f.Expected = "no lifecycle expiration before the retention's min_age " + FormatDuration(min)
	f.Observed = "lifecycle rule deletes backups after " + FormatDuration(p.ExpireAfter)
	f.Evidence = []Evidence{repoEvidence(r, "expires after "+FormatDuration(p.ExpireAfter))}
	return []Finding{f}
}

// checkStoreTiering wants a store whose lifecycle is known to move
// backups out of hot storage by the environment's archive_after: one that
// never transitions them, or only later, keeps paying hot prices.
func (e *evaluator) checkStoreTiering(r *model.Repository, env *config.Environment) []Finding {
	p := r.Protection
	after := env.ArchiveAfter.D()
	if !p.LifecycleKnown || after <= 0 {
		return nil
	}
	var observed string
	switch {
	case p.TransitionClass == "":
		observed = "no lifecycle rule transitions backups"
	case p.TransitionAfter > after:
		observed = fmt.Sprintf("lifecycle moves backups to %s after %s", p.TransitionClass, FormatDuration(p.TransitionAfter))
	default:
		return nil
	}
	if p.ExpireAfter > 0 && p.ExpireAfter <= after {
		// Backups are deleted before they are due to leave hot storage.
		return nil
	}
	f := e.newFinding(CheckArchive, r.Env, repoSubject(r))
	f.Expected = fmt.Sprintf("a lifecycle rule moving backups out of hot storage within %s", FormatDuration(after))
	f.Observed = observed
	f.Evidence = []Evidence{repoEvidence(r, "lifecycle of "+r.Name)}
	return []Finding{f}
}
