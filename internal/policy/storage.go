package policy

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// checkStorage covers where data sits and what it holds: old backups in
// hot storage and ephemeral paths in backups.
func (e *evaluator) checkStorage(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	var out []Finding
	if env != nil {
		out = append(out, e.checkArchive(k, env, members)...)
	}
	out = append(out, e.checkEphemeral(k, members)...)
	return out
}

// IsHot reports whether a storage class is one of the configured hot
// classes.
func IsHot(cfg *config.Config, class string) bool {
	return class != "" && slices.ContainsFunc(cfg.Checks.HotStorageClasses, func(c string) bool { return strings.EqualFold(c, class) })
}

func (e *evaluator) checkArchive(k model.SeriesKey, env *config.Environment, members []*model.Backup) []Finding {
	after := env.ArchiveAfter.D()
	if after <= 0 {
		return nil
	}
	var o offenders
	var bytes int64
	for _, b := range members {
		if b.Good() && IsHot(e.cfg, b.StorageClass) && e.at.Sub(b.End) > after {
			o.add(b)
			bytes += b.StoredBytes
		}
	}
	if len(o.list) == 0 {
		return nil
	}
	f := e.newFinding(CheckArchive, k.Env, seriesSubject(k))
	f.Expected = fmt.Sprintf("backups older than %s out of hot storage", FormatDuration(after))
	f.Observed = e.ageSummary(&o, "in hot storage after "+FormatDuration(after))
	if bytes > 0 {
		f.Observed += fmt.Sprintf(", %s stored", FormatBytes(bytes))
	}
	f.Evidence = o.evidence(func(b *model.Backup) string { return b.StorageClass + ", " + e.ageNote(b) })
	return []Finding{f}
}

// EphemeralMatch returns the first configured pattern that path p matches,
// or "". A pattern without a slash matches any element of p; one with a
// slash matches p as a whole.
func EphemeralMatch(patterns []string, p string) string {
	clean := path.Clean("/" + strings.TrimLeft(p, "/"))
	elems := strings.Split(strings.Trim(clean, "/"), "/")
	for _, pat := range patterns {
		if strings.Contains(pat, "/") {
			if ok, _ := path.Match(pat, clean); ok {
				return pat
			}
			continue
		}
		for _, el := range elems {
			if ok, _ := path.Match(pat, el); ok {
				return pat
			}
		}
	}
	return ""
}

func (e *evaluator) checkEphemeral(k model.SeriesKey, members []*model.Backup) []Finding {
	if !slices.Contains(e.cfg.Checks.Ephemeral.Envs, k.Env) {
		return nil
	}
	var o offenders
	matched := map[string]bool{}
	for _, b := range members {
		hit := false
		for _, p := range b.Paths {
			if EphemeralMatch(e.cfg.Checks.Ephemeral.Patterns, p) != "" {
				matched[p] = true
				hit = true
			}
		}
		if hit && holdsData(b) {
			o.add(b)
		}
	}
	if len(o.list) == 0 {
		return nil
	}
	f := e.newFinding(CheckEphemeral, k.Env, seriesSubject(k))
	f.Expected = "no caches, logs, temporary files or sessions in backups"
	f.Observed = fmt.Sprintf("%d %s %s", len(o.list), plural(len(o.list), "backup contains", "backups contain"), strings.Join(sortedKeys(matched), ", "))
	f.Evidence = o.evidence(func(b *model.Backup) string {
		var hits []string
		for _, p := range b.Paths {
			if matched[p] {
				hits = append(hits, p)
			}
		}
		return strings.Join(hits, ", ")
	})
	return []Finding{f}
}

// FormatBytes writes a size in binary units: "1.5 GiB".
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit && n > -unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB"} {
		v /= unit
		if v < unit && v > -unit || u == "PiB" {
			return fmt.Sprintf("%.1f %s", v, u)
		}
	}
	return fmt.Sprintf("%d B", n)
}
