package policy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// checkProtection covers encryption, the KMS key allowlist, immutability
// and residency: rules every backup that holds data must follow.
func (e *evaluator) checkProtection(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	var out []Finding
	if env != nil {
		out = append(out, e.checkEncryption(k, env, members)...)
		out = append(out, e.checkImmutable(k, env, members)...)
	}
	out = append(out, e.checkResidency(k, env, members)...)
	return out
}

func (e *evaluator) checkEncryption(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	req := env.Require
	if req.Encryption == config.EncryptionNone {
		return nil
	}
	var plain, noKey, badKey offenders
	for _, b := range members {
		switch {
		case !holdsData(b):
		case !b.Encrypted && e.encryptionUnknown(b):
			// Not known to be encrypted because its store's default
			// encryption is unknown: not judged.
		case !b.Encrypted:
			plain.add(b)
		case req.Encryption == config.EncryptionKMS && b.KeyID == "" && e.encryptionUnknown(b):
		case req.Encryption == config.EncryptionKMS && b.KeyID == "":
			noKey.add(b)
		case req.Encryption == config.EncryptionKMS && len(req.KMSKeys) > 0 && !slices.Contains(req.KMSKeys, b.KeyID):
			badKey.add(b)
		}
	}
	var out []Finding
	if n := len(plain.list) + len(noKey.list); n > 0 {
		f := e.newFinding(CheckEncryption, k.Env, seriesSubject(k))
		if req.Encryption == config.EncryptionKMS {
			f.Expected = "every backup encrypted with a KMS key"
		} else {
			f.Expected = "every backup encrypted"
		}
		var parts []string
		if len(plain.list) > 0 {
			parts = append(parts, fmt.Sprintf("%d %s not encrypted", len(plain.list), plural(len(plain.list), "backup", "backups")))
		}
		if len(noKey.list) > 0 {
			parts = append(parts, fmt.Sprintf("%d encrypted without a KMS key", len(noKey.list)))
		}
		f.Observed = strings.Join(parts, ", ") + "; newest " + newestOf(&plain, &noKey).ID
		f.Evidence = append(plain.evidence(constNote("not encrypted")), noKey.evidence(constNote("no KMS key"))...)
		out = append(out, f)
	}
	if len(badKey.list) > 0 {
		f := e.newFinding(CheckKMSKey, k.Env, seriesSubject(k))
		f.Expected = "KMS key one of " + strings.Join(req.KMSKeys, ", ")
		keys := map[string]bool{}
		for _, b := range badKey.list {
			keys[b.KeyID] = true
		}
		f.Observed = fmt.Sprintf("%d %s encrypted with %s", len(badKey.list), plural(len(badKey.list), "backup", "backups"), strings.Join(sortedKeys(keys), ", "))
		f.Evidence = badKey.evidence(func(b *model.Backup) string { return "key " + b.KeyID })
		out = append(out, f)
	}
	return out
}

func (e *evaluator) checkImmutable(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	if !env.Require.Immutable {
		return nil
	}
	var mutable, expired offenders
	for _, b := range members {
		switch {
		case !holdsData(b):
		case !b.Immutable && e.lockUnknown(b):
			// Its store's lock configuration is unknown: not judged.
		case !b.Immutable:
			mutable.add(b)
		case !b.RetainUntil.IsZero() && !b.RetainUntil.After(e.at):
			expired.add(b)
		}
	}
	if len(mutable.list)+len(expired.list) == 0 {
		return nil
	}
	f := e.newFinding(CheckImmutable, k.Env, seriesSubject(k))
	f.Expected = "every backup immutable (object lock, append-only or vault lock)"
	var parts []string
	if len(mutable.list) > 0 {
		parts = append(parts, fmt.Sprintf("%d %s not immutable", len(mutable.list), plural(len(mutable.list), "backup", "backups")))
	}
	if len(expired.list) > 0 {
		parts = append(parts, fmt.Sprintf("%d with an expired lock", len(expired.list)))
	}
	f.Observed = strings.Join(parts, ", ") + "; newest " + newestOf(&mutable, &expired).ID
	f.Evidence = append(mutable.evidence(constNote("not immutable")), expired.evidence(func(b *model.Backup) string {
		return "locked until " + rfc3339(b.RetainUntil)
	})...)
	return []Finding{f}
}

// checkResidency wants each backup's region in the environment's regions
// and in its classification's regions, where those are set. A backup whose
// region is unknown is not judged.
func (e *evaluator) checkResidency(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	var o offenders
	allowed := map[string][]string{}
	for _, b := range members {
		if b.Region == "" || !holdsData(b) {
			continue
		}
		var rules []string
		if env != nil && len(env.Regions) > 0 {
			if !slices.Contains(env.Regions, b.Region) {
				rules = append(rules, "environment "+k.Env+" allows "+strings.Join(env.Regions, ", "))
			}
		}
		class := e.classification(b)
		if cl := e.cfg.Classifications[class]; cl != nil && len(cl.Regions) > 0 && !slices.Contains(cl.Regions, b.Region) {
			rules = append(rules, class+" data allowed in "+strings.Join(cl.Regions, ", "))
		}
		if len(rules) > 0 {
			o.add(b)
			allowed[b.Region] = append(allowed[b.Region], rules...)
		}
	}
	if len(o.list) == 0 {
		return nil
	}
	regions := map[string]bool{}
	var rules []string
	for _, b := range o.list {
		regions[b.Region] = true
	}
	for _, r := range sortedKeys(regions) {
		for _, rule := range allowed[r] {
			if !slices.Contains(rules, rule) {
				rules = append(rules, rule)
			}
		}
	}
	f := e.newFinding(CheckResidency, k.Env, seriesSubject(k))
	f.Expected = strings.Join(rules, "; ")
	f.Observed = fmt.Sprintf("%d %s stored in %s", len(o.list), plural(len(o.list), "backup", "backups"), strings.Join(sortedKeys(regions), ", "))
	f.Evidence = o.evidence(func(b *model.Backup) string { return "region " + b.Region })
	return []Finding{f}
}

func constNote(s string) func(*model.Backup) string { return func(*model.Backup) string { return s } }

// newestOf returns the newest backup among several offender lists.
func newestOf(lists ...*offenders) *model.Backup {
	var newest *model.Backup
	for _, l := range lists {
		for _, b := range l.list {
			if newest == nil || model.AttemptTime(b).After(model.AttemptTime(newest)) {
				newest = b
			}
		}
	}
	return newest
}
