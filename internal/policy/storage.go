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

// EphemeralMatch returns the first configured pattern that the entry p
// below the backup root matches, or "". A pattern without a slash matches
// an element of p below root, never one of root's own elements: a backup
// of /tmp/build-1 is not ephemeral because of where it was taken from,
// only because of what it holds. A pattern with a slash matches p as a
// whole. p itself being the root matches nothing.
func EphemeralMatch(patterns []string, root, p string) string {
	clean, base := cleanPath(p), cleanPath(root)
	rel, ok := below(base, clean)
	if !ok {
		return ""
	}
	elems := strings.Split(rel, "/")
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

// BackupRoots returns, for each element of a backup's paths, the root it
// lies below: the shortest other element that is an ancestor of it, which
// has no ancestor among the paths itself. An element that is itself a root
// gets "". See model.BackupDetail.Paths for why the roots need no marking of
// their own. The cost grows with the number of paths times their depth.
func BackupRoots(paths []string) []string {
	set := make(map[string]bool, len(paths))
	for _, p := range paths {
		set[cleanPath(p)] = true
	}
	out := make([]string, len(paths))
	for i, p := range paths {
		for dir := cleanPath(p); dir != "/"; {
			dir = path.Dir(dir)
			if set[dir] {
				out[i] = dir
			}
		}
	}
	return out
}

// cleanPath makes p absolute and clean, with "/" as the only separator.
func cleanPath(p string) string { return path.Clean("/" + strings.TrimLeft(p, "/")) }

// below returns the path of p relative to the ancestor dir, and whether
// dir is a proper ancestor of p. Both must be clean.
func below(dir, p string) (string, bool) {
	if dir == p {
		return "", false
	}
	if dir == "/" {
		return p[1:], true
	}
	rel, ok := strings.CutPrefix(p, dir+"/")
	return rel, ok
}

// ephemeralPaths returns the entries of paths that hold ephemeral data
// below their backup root.
func ephemeralPaths(patterns, paths []string) []string {
	var out []string
	for i, root := range BackupRoots(paths) {
		if root != "" && EphemeralMatch(patterns, root, paths[i]) != "" {
			out = append(out, paths[i])
		}
	}
	return out
}

func (e *evaluator) checkEphemeral(k model.SeriesKey, members []*model.Backup) []Finding {
	if !slices.Contains(e.cfg.Checks.Ephemeral.Envs, k.Env) {
		return nil
	}
	var o offenders
	matched := map[string]bool{}
	hits := map[*model.Backup][]string{}
	for _, b := range members {
		found := ephemeralPaths(e.cfg.Checks.Ephemeral.Patterns, b.Details().Paths)
		if len(found) == 0 || !holdsData(b) {
			continue
		}
		for _, p := range found {
			matched[p] = true
		}
		hits[b] = found
		o.add(b)
	}
	if len(o.list) == 0 {
		return nil
	}
	f := e.newFinding(CheckEphemeral, k.Env, seriesSubject(k))
	f.Expected = "no caches, logs, temporary files or sessions in backups"
	f.Observed = fmt.Sprintf("%d %s %s", len(o.list), plural(len(o.list), "backup contains", "backups contain"), strings.Join(sortedKeys(matched), ", "))
	f.Evidence = o.evidence(func(b *model.Backup) string { return strings.Join(hits[b], ", ") })
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
