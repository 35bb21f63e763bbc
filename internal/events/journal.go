package events

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/restorable/restorable/internal/model"
)

// JournalFile is the name of the journal in its directory.
const JournalFile = "events.journal"

// recordHeader is the framing of every record: the payload's length and
// its CRC-32C, both big-endian uint32, then the payload (one model.Event
// as JSON). A record whose header or payload is cut short, or whose
// checksum does not match, is a torn write.
const recordHeader = 8

// maxRecord bounds one record's payload, so that a damaged length field
// cannot make the reader allocate gigabytes.
const maxRecord = 1 << 20

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Journal is the append-only file of accepted events. The ingester writes
// each batch with one write and makes it durable with one fsync; writes and
// cuts are serialised by the ingester, fsyncs may overlap them.
type Journal struct {
	f    *os.File
	path string
	size int64
	sync func(*os.File) error
}

// Torn describes a damaged tail that OpenJournal cut off: Offset is where
// the last intact record ends, Bytes how much was removed, SavedTo the file
// that keeps the removed bytes.
type Torn struct {
	Offset  int64
	Bytes   int64
	SavedTo string
}

// OpenJournal opens (creating it if needed) the journal in dir, reads every
// intact record and returns them in the order they were written. A torn
// last record (from a crash in the middle of a write) is detected by its
// framing, copied to a side file and cut off; every record before it is
// kept. sync is the fsync to use (nil: (*os.File).Sync).
func OpenJournal(dir string, sync func(*os.File) error) (*Journal, []model.Event, *Torn, error) {
	if sync == nil {
		sync = (*os.File).Sync
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, nil, nil, fmt.Errorf("create event journal directory: %w", err)
	}
	path := filepath.Join(dir, JournalFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open event journal: %w", err)
	}
	evs, good, err := readRecords(f)
	if err != nil {
		_ = f.Close()
		return nil, nil, nil, fmt.Errorf("read event journal %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, nil, fmt.Errorf("stat event journal: %w", err)
	}
	var torn *Torn
	if st.Size() > good {
		torn = &Torn{Offset: good, Bytes: st.Size() - good}
		if torn.SavedTo, err = saveTail(f, path, good, st.Size()); err != nil {
			_ = f.Close()
			return nil, nil, nil, err
		}
		if err := f.Truncate(good); err != nil {
			_ = f.Close()
			return nil, nil, nil, fmt.Errorf("cut the torn tail of the event journal: %w", err)
		}
		if err := sync(f); err != nil {
			_ = f.Close()
			return nil, nil, nil, fmt.Errorf("sync the event journal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, nil, nil, fmt.Errorf("seek the event journal: %w", err)
	}
	// A new journal file must survive a crash as a directory entry too.
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		return nil, nil, nil, err
	}
	return &Journal{f: f, path: path, size: good, sync: sync}, evs, torn, nil
}

// readRecords reads records from the start of f until the end or the first
// damaged one; good is the offset where the last intact record ends.
func readRecords(f *os.File) (evs []model.Event, good int64, err error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [recordHeader]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return evs, good, nil
			}
			return nil, 0, err
		}
		n := binary.BigEndian.Uint32(hdr[0:4])
		sum := binary.BigEndian.Uint32(hdr[4:8])
		if n == 0 || n > maxRecord {
			return evs, good, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return evs, good, nil
			}
			return nil, 0, err
		}
		if crc32.Checksum(payload, castagnoli) != sum {
			return evs, good, nil
		}
		var ev model.Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			return evs, good, nil
		}
		evs = append(evs, ev)
		good += recordHeader + int64(n)
	}
}

// saveTail copies the bytes [from, to) of f next to the journal, so that
// cutting a damaged tail loses nothing that could still be examined.
func saveTail(f *os.File, path string, from, to int64) (string, error) {
	side := fmt.Sprintf("%s.torn-%d-%s", path, from, time.Now().UTC().Format("20060102T150405Z"))
	buf := make([]byte, to-from)
	if _, err := f.ReadAt(buf, from); err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the torn tail of the event journal: %w", err)
	}
	if err := os.WriteFile(side, buf, 0o640); err != nil {
		return "", fmt.Errorf("save the torn tail of the event journal: %w", err)
	}
	return side, nil
}

// encode frames ev as one record appended to buf.
func encode(buf []byte, ev *model.Event) ([]byte, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return buf, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	if len(payload) > maxRecord {
		return buf, fmt.Errorf("event %s is %d bytes encoded, more than %d", ev.ID, len(payload), maxRecord)
	}
	var hdr [recordHeader]byte
	binary.BigEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(hdr[4:8], crc32.Checksum(payload, castagnoli))
	buf = append(buf, hdr[:]...)
	return append(buf, payload...), nil
}

// write appends the framed records in buf (built by encode) with one
// write, without syncing, and returns the offset where they end. On error
// the journal is cut back to where it was.
func (j *Journal) write(buf []byte) (int64, error) {
	if _, err := j.f.Write(buf); err != nil {
		j.cut(j.size)
		return 0, fmt.Errorf("write event journal: %w", err)
	}
	j.size += int64(len(buf))
	return j.size, nil
}

// syncNow makes everything written so far durable; it may run while write
// appends more (an fsync covers at least what was written before it
// started).
func (j *Journal) syncNow() error {
	if err := j.sync(j.f); err != nil {
		return fmt.Errorf("sync event journal: %w", err)
	}
	return nil
}

// cut truncates the journal to off, dropping records that were written
// but never acknowledged, so that they are not replayed later.
func (j *Journal) cut(off int64) {
	_ = j.f.Truncate(off)
	_, _ = j.f.Seek(off, io.SeekStart)
	j.size = off
}

// Path is the journal file's path.
func (j *Journal) Path() string { return j.path }

// Close closes the file; every record was synced when it was appended.
func (j *Journal) Close() error { return j.f.Close() }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open event journal directory: %w", err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync event journal directory: %w", err)
	}
	return nil
}
