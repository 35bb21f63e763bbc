package s3

import (
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/keytemplate"
	"github.com/restorable/restorable/internal/model"
)

// object is one current object version as a listing or an inventory
// report describes it. The fields after StorageClass are known from an
// inventory report only (when the report includes them).
type object struct {
	Key          string
	Size         int64
	LastModified time.Time
	StorageClass string
	// Encryption is the inventory's EncryptionStatus (SSE-S3, SSE-KMS,
	// DSSE-KMS, SSE-C, NOT-SSE); empty when unknown.
	Encryption string
	// LockMode and RetainUntil are the object's own Object Lock retention.
	LockMode    string
	RetainUntil time.Time
}

// bucketFacts are what one collection learnt about the bucket.
type bucketFacts struct {
	Bucket     string
	Region     string
	Protection model.Protection
}

// mapper turns objects into backups.
type mapper struct {
	src   *config.Source
	opts  *config.S3Options
	tpl   *keytemplate.Template
	facts *bucketFacts
	// tags are the source's labels, one map shared by every backup (no
	// consumer changes a backup's tags).
	tags map[string]string

	// rejected counts keys the template did not match; example is the
	// first of them.
	rejected int
	example  error
	strings  map[string]string
}

// matched is an object whose key fits the template, with what the key
// says: a fifth of a model.Backup, so that a large catalog is held in this
// form until its size is known and its records are built once.
type matched struct {
	object
	fields keytemplate.Fields
}

// match maps one object's key to its fields; ok is false (and the key
// counted as rejected) when the key does not fit the template.
func (m *mapper) match(o *object) (matched, bool) {
	f, err := m.tpl.Match(o.Key)
	if err == nil && f.Type != "" && !model.BackupType(strings.ToLower(f.Type)).Valid() {
		err = &keytemplate.MismatchError{Key: o.Key, Template: m.tpl.String(), Reason: "{type} " + f.Type + " is not one of full, diff, incr, snapshot, logical, wal"}
	}
	if err != nil {
		m.rejected++
		if m.example == nil {
			m.example = err
		}
		return matched{}, false
	}
	o.StorageClass = m.intern(o.StorageClass)
	o.Encryption = m.intern(o.Encryption)
	o.LockMode = m.intern(o.LockMode)
	return matched{object: *o, fields: f}, true
}

// intern returns one shared copy of the few distinct storage classes and
// modes a catalog holds, instead of one string per object.
func (m *mapper) intern(s string) string {
	if s == "" {
		return ""
	}
	if v, ok := m.strings[s]; ok {
		return v
	}
	if m.strings == nil {
		m.strings = map[string]string{}
	}
	m.strings[s] = s
	return s
}

// build makes the backup of a matched object.
func (m *mapper) build(mo *matched) model.Backup {
	o, f := &mo.object, mo.fields
	b := model.Backup{
		Source:       m.src.Name,
		Env:          m.src.Env,
		Dataset:      m.src.Dataset,
		ID:           o.Key,
		Type:         model.BackupType(m.opts.BackupType),
		Release:      f.Release,
		Start:        f.Time,
		End:          o.LastModified.UTC(),
		Status:       model.StatusSucceeded,
		StoredBytes:  o.Size,
		Location:     "s3://" + m.opts.Bucket + "/" + o.Key,
		StorageClass: o.StorageClass,
		Region:       m.facts.Region,
		Tags:         m.tags,
	}
	if f.Env != "" {
		b.Env = f.Env
	}
	if f.Dataset != "" {
		b.Dataset = f.Dataset
	}
	if f.Type != "" {
		b.Type = model.BackupType(strings.ToLower(f.Type))
	}
	if b.End.IsZero() {
		// An inventory without LastModifiedDate: the key's time is all
		// there is.
		b.End = f.Time
	}
	if b.StorageClass == "" {
		// ListObjectsV2 leaves out the class of STANDARD objects on some
		// stores; S3 itself always names it.
		b.StorageClass = "STANDARD"
	}
	m.protect(&b, o)
	return b
}

// protect sets a backup's encryption and lock from the object's own facts
// where the inventory gave them, else from the bucket's defaults. Facts
// the store did not give leave the backup's fields at their zero value;
// the policy reads the bucket's Protection to tell "unknown" from "off".
func (m *mapper) protect(b *model.Backup, o *object) {
	p := &m.facts.Protection
	switch o.Encryption {
	case "":
		switch p.Encryption {
		case "", none:
		default:
			b.Encrypted = true
			if strings.HasPrefix(p.Encryption, "aws:kms") {
				b.KeyID = p.KMSKey
			}
		}
	case "NOT-SSE":
	default:
		b.Encrypted = true
		if strings.Contains(o.Encryption, "KMS") && strings.HasPrefix(p.Encryption, "aws:kms") {
			// The inventory says KMS without the key; the bucket's
			// default key is the one S3 used unless the writer chose
			// another.
			b.KeyID = p.KMSKey
		}
	}
	switch {
	case o.LockMode != "" && !o.RetainUntil.IsZero():
		b.Immutable = true
		b.RetainUntil = o.RetainUntil.UTC()
	case p.LockMode != "" && p.LockMode != none && p.LockRetention > 0 && !b.End.IsZero():
		b.Immutable = true
		b.RetainUntil = b.End.Add(p.LockRetention)
	}
}

// repositories returns the bucket as a repository of each environment its
// backups belong to (one, unless the key template names the environment),
// named after the bucket (BUCKET@ENV when there are several).
func (m *mapper) repositories(backups []model.Backup, observedAt time.Time) []model.Repository {
	envs := map[string]int64{}
	var order []string
	for i := range backups {
		if _, ok := envs[backups[i].Env]; !ok {
			order = append(order, backups[i].Env)
		}
		envs[backups[i].Env] += backups[i].StoredBytes
	}
	if len(order) == 0 {
		order = []string{m.src.Env}
	}
	out := make([]model.Repository, 0, len(order))
	for _, env := range order {
		name := m.opts.Bucket
		if len(order) > 1 {
			name += "@" + env
		}
		p := m.facts.Protection
		out = append(out, model.Repository{
			Source:      m.src.Name,
			Env:         env,
			Dataset:     m.src.Dataset,
			Name:        name,
			ObservedAt:  observedAt,
			Location:    "s3://" + m.opts.Bucket + "/" + commonPrefix(m.prefixes()),
			Region:      m.facts.Region,
			StoredBytes: envs[env],
			Healthy:     true,
			Protection:  &p,
		})
	}
	return out
}

// prefixes are the key prefixes the source reads.
func (m *mapper) prefixes() []string {
	if len(m.opts.Prefixes) > 0 {
		return m.opts.Prefixes
	}
	return []string{m.tpl.Prefix()}
}

// inScope reports whether a key lies under one of the source's prefixes.
func (m *mapper) inScope(key string) bool {
	for _, p := range m.prefixes() {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func commonPrefix(ps []string) string {
	if len(ps) == 0 {
		return ""
	}
	c := ps[0]
	for _, p := range ps[1:] {
		for !strings.HasPrefix(p, c) {
			c = c[:len(c)-1]
		}
	}
	return c
}

func labels(l map[string]string) map[string]string {
	if len(l) == 0 {
		return nil
	}
	out := make(map[string]string, len(l))
	for k, v := range l {
		out[k] = v
	}
	return out
}
