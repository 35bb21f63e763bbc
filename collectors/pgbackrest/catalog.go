package pgbackrest

import (
	"strconv"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// Agent is the name backups of this collector carry.
const Agent = "pgbackrest"

// ReleaseAnnotation is the backup annotation that names the release a
// backup belongs to: `pgbackrest backup --annotation=release=v1.4`.
const ReleaseAnnotation = "release"

// EnvAnnotation names the environment of a backup when the source sets none.
const EnvAnnotation = "env"

// mapper turns parsed stanzas into model records for one source.
type mapper struct {
	src  *config.Source
	opts *config.PgBackRestOptions
	// qualify prefixes backup ids with "STANZA/": labels are start times
	// to the second, so two stanzas read by one source can share one.
	qualify    bool
	observedAt time.Time
	// databases holds the databases of backups by setKey, as far as they
	// were read (`info --set` is one call per backup).
	databases map[string][]string
	// textProgress holds, by stanza, the progress of a running backup read
	// from the text output, for versions whose JSON has no sizes.
	textProgress map[string]float64
}

// setKey names a backup set across the stanzas of a source.
func setKey(stanza, label string) string { return stanza + "/" + label }

func (m *mapper) catalog(stanzas []stanza) *model.Catalog {
	cat := &model.Catalog{Backups: []model.Backup{}, Repositories: []model.Repository{}}
	for i := range stanzas {
		st := &stanzas[i]
		cat.Backups = append(cat.Backups, m.backups(st)...)
		cat.Repositories = append(cat.Repositories, m.repositories(st)...)
	}
	return cat
}

// id is the backup id of a label of st.
func (m *mapper) id(st *stanza, label string) string {
	if label == "" || !m.qualify {
		return label
	}
	return st.Name + "/" + label
}

func (m *mapper) dataset(st *stanza, b *backup) string {
	if m.src.Dataset != "" {
		return m.src.Dataset
	}
	if key, ok := strings.CutPrefix(m.src.DatasetFrom, "tag:"); ok && b != nil {
		if v := b.Annotation[key]; v != "" {
			return v
		}
	}
	return st.Name
}

func (m *mapper) backups(st *stanza) []model.Backup {
	repos := reposOf(st)
	out := make([]model.Backup, 0, len(st.Backup))
	for i := range st.Backup {
		b := &st.Backup[i]
		key := b.Database.repoKey()
		mb := model.Backup{
			Source:         m.src.Name,
			Env:            m.src.Env,
			Dataset:        m.dataset(st, b),
			ID:             m.id(st, b.Label),
			Type:           model.BackupType(b.Type),
			Release:        b.Annotation[ReleaseAnnotation],
			Parent:         m.id(st, b.Prior),
			Start:          unix(b.Timestamp.Start),
			End:            unix(b.Timestamp.Stop),
			Status:         model.StatusSucceeded,
			LogicalBytes:   b.Info.Size,
			StoredBytes:    b.Info.Repository.Delta,
			Location:       repoName(key),
			StorageClass:   m.opts.StorageClass,
			Region:         m.opts.Region,
			Encrypted:      m.opts.Encrypted || encrypted(cipherOf(st, repos, key)),
			KeyID:          m.opts.KeyID,
			Immutable:      m.opts.Immutable,
			Classification: m.src.Classification,
			Tags:           tags(m.src.Labels, b.Annotation),
		}
		d := model.BackupDetail{
			DeltaBytes:   b.Info.Delta,
			Databases:    m.databases[setKey(st.Name, b.Label)],
			Agent:        Agent,
			AgentVersion: b.Backrest.Version,
			LSNStart:     b.LSN.Start,
			LSNStop:      b.LSN.Stop,
			WALStart:     b.Archive.Start,
			WALStop:      b.Archive.Stop,
		}
		if s := b.Info.Repository.Size; s != nil {
			d.RestoreBytes = *s
		}
		mb.SetDetails(d)
		if mb.Env == "" {
			mb.Env = b.Annotation[EnvAnnotation]
		}
		if b.Error {
			mb.Status = model.StatusFailed
			mb.Error = "pgBackRest found errors while copying this backup (such as page checksum failures); see pgbackrest info --set=" + b.Label
		}
		out = append(out, mb)
	}
	return out
}

// repositories returns one record per repository of st, named after the
// stanza, with "/repoN" added when the stanza has more than one.
func (m *mapper) repositories(st *stanza) []model.Repository {
	repos := reposOf(st)
	out := make([]model.Repository, 0, len(repos))
	for _, r := range repos {
		name := st.Name
		if len(repos) > 1 {
			name += "/" + repoName(r.Key)
		}
		mr := model.Repository{
			Source:          m.src.Name,
			Env:             m.src.Env,
			Dataset:         m.dataset(st, nil),
			Name:            name,
			ObservedAt:      m.observedAt,
			Location:        repoName(r.Key),
			StorageClass:    m.opts.StorageClass,
			Region:          m.opts.Region,
			Healthy:         r.Status.Code == 0,
			StatusCode:      r.Status.Code,
			Status:          r.Status.Message,
			BackupLocked:    st.Status.Lock.Backup.Held,
			DatabaseVersion: dbVersion(st, r.Key),
		}
		if l := st.Status.Lock.Restore; l != nil {
			mr.RestoreLocked, mr.RestoreLockKnown = l.Held, true
		}
		if bl := st.Status.Lock.Backup; bl.Held {
			if bl.Size != nil && bl.SizeDone != nil && *bl.Size > 0 {
				mr.BackupProgressKnown = true
				mr.BackupBytesTotal, mr.BackupBytesDone = *bl.Size, *bl.SizeDone
				mr.BackupProgress = min(1, float64(*bl.SizeDone)/float64(*bl.Size))
			} else if p, ok := m.textProgress[st.Name]; ok {
				mr.BackupProgressKnown, mr.BackupProgress = true, p
			}
		}
		mr.WALMin, mr.WALMax = walRange(st, r.Key)
		var latest *backup
		var setSize, stored int64
		setSizeKnown := true
		for i := range st.Backup {
			b := &st.Backup[i]
			if b.Database.repoKey() != r.Key {
				continue
			}
			stored += b.Info.Repository.Delta
			if b.Info.Repository.Size == nil {
				setSizeKnown = false
			} else {
				setSize += *b.Info.Repository.Size
			}
			if latest == nil || b.Timestamp.Stop >= latest.Timestamp.Stop {
				latest = b
			}
		}
		mr.StoredBytes = stored
		if latest != nil {
			mr.LogicalBytes = latest.Info.Size
			// A restore of the latest backup reads its repository size;
			// the database it brings back is info.size.
			if s := latest.Info.Repository.Size; s != nil && *s > 0 {
				mr.CompressionRatio = float64(latest.Info.Size) / float64(*s)
			}
			// Each backup on its own would need its repository size;
			// what they take together is the sum of their deltas.
			if setSizeKnown && stored > 0 {
				mr.DedupRatio = float64(setSize) / float64(stored)
			}
		}
		out = append(out, mr)
	}
	return out
}

// reposOf returns the repositories of st. Output of pgBackRest before 2.33
// has no repo list: its one repository is described by the stanza itself.
func reposOf(st *stanza) []repo {
	if len(st.Repo) == 0 {
		return []repo{{Key: 1, Cipher: st.Cipher, Status: st.Status.status}}
	}
	if len(st.Repo) == 1 {
		// With one repository the stanza status is the repository's,
		// and it is the one pgBackRest's own text output shows.
		r := st.Repo[0]
		r.Key = max(r.Key, 1)
		r.Status = st.Status.status
		return []repo{r}
	}
	return st.Repo
}

func cipherOf(st *stanza, repos []repo, key int) string {
	for _, r := range repos {
		if r.Key == key {
			return r.Cipher
		}
	}
	return st.Cipher
}

func encrypted(cipher string) bool { return cipher != "" && cipher != "none" }

// walRange returns the WAL archive range of the current database (the
// newest history entry) of repository key: older entries belong to
// clusters from before a stanza-upgrade and cannot be replayed onto the
// current one.
func walRange(st *stanza, key int) (walMin, walMax string) {
	current := 0
	for _, d := range st.DB {
		if d.repoKey() == key {
			current = max(current, d.ID)
		}
	}
	if current == 0 {
		for _, a := range st.Archive {
			if a.Database.repoKey() == key {
				current = max(current, a.Database.ID)
			}
		}
	}
	for _, a := range st.Archive {
		if a.Database.repoKey() == key && a.Database.ID == current {
			return a.Min, a.Max
		}
	}
	return "", ""
}

// dbVersion returns the PostgreSQL version of the current database (the
// newest history entry) of repository key.
func dbVersion(st *stanza, key int) string {
	current := dbRef{}
	for _, d := range st.DB {
		if d.repoKey() == key && d.ID >= current.ID {
			current = d
		}
	}
	return current.Version
}

func repoName(key int) string { return "repo" + strconv.Itoa(max(key, 1)) }

func unix(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}

// tags merges the source's labels with the backup's annotations; an
// annotation wins over a label of the same key because it was written for
// this one backup.
func tags(labels, annotations map[string]string) map[string]string {
	if len(labels) == 0 && len(annotations) == 0 {
		return nil
	}
	out := make(map[string]string, len(labels)+len(annotations))
	for k, v := range labels {
		out[k] = v
	}
	for k, v := range annotations {
		out[k] = v
	}
	return out
}
