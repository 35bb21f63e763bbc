package s3

import (
	"cmp"
	"fmt"
	"math"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/keytemplate"
	"github.com/restorable/restorable/internal/model"
)

// object is one current object version as a listing or an inventory
// report describes it, for as long as its page is being read. The fields
// after StorageClass are known from an inventory report only (when the
// report includes them).
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

// entry is an object whose key fits the template, in the form a
// collection holds it until the catalog's size is known and its records
// are built, once, into a slice of that size: 56 bytes and no pointer,
// against the 336 bytes of a model.Backup. Its location
// ("s3://BUCKET/KEY") lies in the mapper's text, and the backup's
// Location, ID and the fields its key names are parts of that text: the
// strings of a million backups are a few dozen allocations.
type entry struct {
	size int64
	// The object's LastModified, the key's {time} and the inventory's
	// retain-until date.
	end, start, retain stamp
	// The location is text[chunk][at:at+n].
	at       uint32
	chunk, n uint16
	// Where the key's {env}, {dataset} and {release} lie in the key;
	// zero when the template has none.
	env, dataset, release span
	// attrs is the index in mapper.attrs of the object's storage class,
	// encryption status and lock mode.
	attrs uint16
	// typ is 1 + the index in model.BackupTypes of the key's {type}, 0
	// without one.
	typ uint8
}

// stamp is a time in 8 bytes: nanoseconds since 1970 for the times an
// int64 holds (1678 to 2262), noTime for the zero time and wideTime for
// any other (a retain-until date in year 9999, a key dated in year 1),
// which the mapper keeps aside.
type stamp int64

const (
	noTime   stamp = math.MinInt64
	wideTime stamp = math.MinInt64 + 1
)

// nanoRange are the first and last times a stamp holds itself.
var nanoRange = [2]time.Time{time.Unix(0, math.MinInt64+2), time.Unix(0, math.MaxInt64)}

// wideKey names a time kept aside: the entry, by its location, and which
// of its times.
type wideKey struct {
	chunk uint16
	at    uint32
	which uint8
}

// stamp encodes t for the entry whose location is at chunk, at.
func (m *mapper) stamp(t time.Time, chunk uint16, at uint32, which uint8) stamp {
	switch {
	case t.IsZero():
		return noTime
	case t.Before(nanoRange[0]) || t.After(nanoRange[1]):
		if m.wide == nil {
			m.wide = map[wideKey]time.Time{}
		}
		m.wide[wideKey{chunk, at, which}] = t.UTC()
		return wideTime
	}
	return stamp(t.UnixNano())
}

// time decodes a stamp of e, in UTC.
func (m *mapper) time(s stamp, e *entry, which uint8) time.Time {
	switch s {
	case noTime:
		return time.Time{}
	case wideTime:
		return m.wide[wideKey{e.chunk, e.at, which}]
	}
	return time.Unix(0, int64(s)).UTC()
}

// span is a part of a key, [start, end).
type span [2]uint16

func spanOf(at [2]int) span { return span{uint16(at[0]), uint16(at[1])} }

// maxKey is the longest key a backup's may be (S3 allows 1,024 bytes),
// which keeps locations and spans within 16 bits.
const maxKey = 4096

// Sizes of the chunks of the mapper's text: small for a small catalog,
// growing to 1 MiB for a large one.
const (
	firstChunk = 8 << 10
	lastChunk  = 1 << 20
)

// attrs are the facts of an object that a catalog holds a handful of
// distinct values of.
type attrs struct{ class, enc, lock string }

// mapper turns objects into backups.
type mapper struct {
	src   *config.Source
	opts  *config.S3Options
	tpl   *keytemplate.Template
	facts *bucketFacts
	// tags are the source's labels, one map shared by every backup (no
	// consumer changes a backup's tags).
	tags map[string]string
	// prefixes are the key prefixes the source reads.
	prefixes []string
	// keyAt is the length of "s3://BUCKET/", where keys start in a
	// location.
	keyAt int

	// rejected counts keys the template did not match; example is the
	// first of them.
	rejected int
	example  error

	// text holds the locations of the entries: chunks sealed, and cur,
	// the one being written (chunk len(text)). A chunk is one string,
	// built once and never copied.
	text []string
	cur  strings.Builder
	// attrList are the distinct attrs seen, attrIndex their positions.
	attrList  []attrs
	attrIndex map[attrs]uint16
	// wide are the times that stamps do not hold.
	wide map[wideKey]time.Time
}

func newMapper(src *config.Source, opts *config.S3Options, tpl *keytemplate.Template, facts *bucketFacts) *mapper {
	return &mapper{src: src, opts: opts, tpl: tpl, facts: facts, tags: labels(src.Labels), prefixes: prefixesOf(opts, tpl),
		keyAt: len("s3://" + opts.Bucket + "/"), attrIndex: map[attrs]uint16{}}
}

// match maps one object to its entry; ok is false (and the key counted
// as rejected) when the key does not fit the template.
func (m *mapper) match(o *object) (entry, bool, error) {
	f, err := m.tpl.Match(o.Key)
	typ := -1
	if err == nil && f.Type != "" {
		if typ = slices.IndexFunc(model.BackupTypes, func(t model.BackupType) bool { return strings.EqualFold(string(t), f.Type) }); typ < 0 {
			err = &keytemplate.MismatchError{Key: o.Key, Template: m.tpl.String(), Reason: "{type} " + f.Type + " is not one of full, diff, incr, snapshot, logical, wal"}
		}
	}
	if err == nil && len(o.Key) > maxKey {
		err = &keytemplate.MismatchError{Key: o.Key[:64] + "...", Template: m.tpl.String(), Reason: fmt.Sprintf("a key of %d bytes is longer than S3 allows", len(o.Key))}
	}
	if err != nil {
		m.rejected++
		if m.example == nil {
			m.example = err
		}
		return entry{}, false, nil
	}
	e := entry{size: o.Size, typ: uint8(typ + 1), env: spanOf(f.At.Env), dataset: spanOf(f.At.Dataset), release: spanOf(f.At.Release)}
	if e.chunk, e.at, err = m.place(o.Key); err != nil {
		return entry{}, false, err
	}
	e.n = uint16(m.keyAt + len(o.Key))
	e.end = m.stamp(o.LastModified, e.chunk, e.at, 0)
	e.start = m.stamp(f.Time, e.chunk, e.at, 1)
	e.retain = m.stamp(o.RetainUntil, e.chunk, e.at, 2)
	if e.attrs, err = m.attrsOf(attrs{o.StorageClass, o.Encryption, o.LockMode}); err != nil {
		return entry{}, false, err
	}
	return e, true, nil
}

// place writes the location of key into the text, returning where.
func (m *mapper) place(key string) (chunk uint16, at uint32, err error) {
	n := m.keyAt + len(key)
	if m.cur.Cap()-m.cur.Len() < n {
		size := firstChunk
		if len(m.text) > 0 || m.cur.Cap() > 0 {
			size = min(lastChunk, 2*m.cur.Cap())
		}
		m.seal()
		if len(m.text) >= 1<<16 {
			return 0, 0, fmt.Errorf("more than %d MiB of keys", 1<<16)
		}
		m.cur.Grow(size)
	}
	at = uint32(m.cur.Len())
	m.cur.WriteString("s3://")
	m.cur.WriteString(m.opts.Bucket)
	m.cur.WriteByte('/')
	m.cur.WriteString(key)
	return uint16(len(m.text)), at, nil
}

// seal ends the chunk being written.
func (m *mapper) seal() {
	if m.cur.Len() > 0 {
		m.text = append(m.text, m.cur.String())
		m.cur = strings.Builder{}
	}
}

// loc returns the location of a sealed entry.
func (m *mapper) loc(e *entry) string { return m.text[e.chunk][e.at : e.at+uint32(e.n)] }

// attrsOf returns the index of a in m.attrList, adding it when new.
func (m *mapper) attrsOf(a attrs) (uint16, error) {
	if i, ok := m.attrIndex[a]; ok {
		return i, nil
	}
	if len(m.attrList) >= 1<<16 {
		return 0, fmt.Errorf("more than %d combinations of storage class, encryption status and lock mode (the last %q, %q, %q): not an S3 listing", 1<<16, a.class, a.enc, a.lock)
	}
	// Copies, so that the page the values came from is not kept.
	a = attrs{strings.Clone(a.class), strings.Clone(a.enc), strings.Clone(a.lock)}
	m.attrIndex[a] = uint16(len(m.attrList))
	m.attrList = append(m.attrList, a)
	return uint16(len(m.attrList) - 1), nil
}

// releaseAbove is the size of a catalog's records above which the
// listing's garbage is returned to the system before they are allocated.
const releaseAbove = 64 << 20

// backups builds the records of the entries gathered in chunks (each in
// key order, as a listing page is), in key order, into one slice of the
// exact size.
func (m *mapper) backups(chunks [][]entry, total int) []model.Backup {
	m.seal()
	// The chunks of several prefixes or inventory files arrive in any
	// order; when they are runs that do not overlap, ordering the runs
	// orders the catalog, else the records are sorted once built.
	byLoc := func(a, b *entry) int { return strings.Compare(m.loc(a), m.loc(b)) }
	slices.SortFunc(chunks, func(a, b []entry) int { return byLoc(&a[0], &b[0]) })
	sorted := true
	for i, c := range chunks {
		for j := 1; sorted && j < len(c); j++ {
			sorted = byLoc(&c[j-1], &c[j]) < 0
		}
		sorted = sorted && (i == 0 || byLoc(&chunks[i-1][len(chunks[i-1])-1], &c[0]) < 0)
	}
	// A catalog of a million backups is a third of a gigabyte in one
	// allocation. The listing that gathered it left about as much garbage
	// behind (the SDK's decoded pages), which the garbage collector frees
	// but the process keeps; the records would then take fresh memory
	// besides it. Returning that memory first keeps the peak at what is
	// live.
	if size := int64(total) * int64(reflect.TypeFor[model.Backup]().Size()); size >= releaseAbove {
		debug.FreeOSMemory()
	}
	out := make([]model.Backup, total)
	n := 0
	for i := range chunks {
		for j := range chunks[i] {
			m.build(&out[n], &chunks[i][j])
			n++
		}
		chunks[i] = nil
	}
	if !sorted {
		slices.SortFunc(out, func(a, b model.Backup) int { return strings.Compare(a.ID, b.ID) })
	}
	return out
}

// build fills the backup of an entry.
func (m *mapper) build(b *model.Backup, e *entry) {
	loc := m.loc(e)
	key := loc[m.keyAt:]
	at := m.attrList[e.attrs]
	*b = model.Backup{
		Source:      m.src.Name,
		Env:         cmp.Or(part(key, e.env), m.src.Env),
		Dataset:     cmp.Or(part(key, e.dataset), m.src.Dataset),
		ID:          key,
		Type:        model.BackupType(m.opts.BackupType),
		Release:     part(key, e.release),
		Start:       m.time(e.start, e, 1),
		End:         m.time(e.end, e, 0),
		Status:      model.StatusSucceeded,
		StoredBytes: e.size,
		Location:    loc,
		// ListObjectsV2 leaves out the class of STANDARD objects on
		// some stores; S3 itself always names it.
		StorageClass: cmp.Or(at.class, "STANDARD"),
		Region:       m.facts.Region,
		Tags:         m.tags,
	}
	if e.typ > 0 {
		b.Type = model.BackupTypes[e.typ-1]
	}
	if b.End.IsZero() {
		// An inventory without LastModifiedDate: the key's time is all
		// there is.
		b.End = b.Start
	}
	m.protect(b, at.enc, at.lock, m.time(e.retain, e, 2))
}

func part(key string, s span) string { return key[s[0]:s[1]] }

// protect sets a backup's encryption and lock from the object's own facts
// where the inventory gave them, else from the bucket's defaults. Facts
// the store did not give leave the backup's fields at their zero value;
// the policy reads the bucket's Protection to tell "unknown" from "off".
func (m *mapper) protect(b *model.Backup, encryption, lockMode string, retainUntil time.Time) {
	p := &m.facts.Protection
	switch encryption {
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
		if strings.Contains(encryption, "KMS") && strings.HasPrefix(p.Encryption, "aws:kms") {
			// The inventory says KMS without the key; the bucket's
			// default key is the one S3 used unless the writer chose
			// another.
			b.KeyID = p.KMSKey
		}
	}
	switch {
	case lockMode != "" && !retainUntil.IsZero():
		b.Immutable = true
		b.RetainUntil = retainUntil
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
			Location:    "s3://" + m.opts.Bucket + "/" + commonPrefix(m.prefixes),
			Region:      m.facts.Region,
			StoredBytes: envs[env],
			Healthy:     true,
			Protection:  &p,
		})
	}
	return out
}

// prefixesOf are the key prefixes a source reads.
func prefixesOf(opts *config.S3Options, tpl *keytemplate.Template) []string {
	if len(opts.Prefixes) > 0 {
		return opts.Prefixes
	}
	return []string{tpl.Prefix()}
}

// inScope reports whether a key lies under one of the source's prefixes.
func (m *mapper) inScope(key string) bool {
	for _, p := range m.prefixes {
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
