package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/restorable/restorable/internal/model"
)

// ErrBusy is Submit's answer when the queue is full: nothing was written
// and the sender should retry later (the API answers 429 with
// Retry-After).
var ErrBusy = errors.New("the event queue is full")

// ErrClosed is Submit's answer after Close.
var ErrClosed = errors.New("the event journal is closed")

// DefaultMaxBatch bounds the events of one group commit.
const DefaultMaxBatch = 4096

// Options configure an Ingester.
type Options struct {
	// Dir is the journal's directory.
	Dir string
	// QueueSize is how many requests may wait for the journal; one more is
	// refused with ErrBusy.
	QueueSize int
	// MaxBatch bounds the events written by one group commit (default
	// DefaultMaxBatch).
	MaxBatch int
	// SyncsInFlight bounds the fsyncs that may run at once (default
	// DefaultSyncsInFlight).
	SyncsInFlight int
	// Sync makes a write durable (default (*os.File).Sync); tests slow it
	// down.
	Sync func(*os.File) error
	// OnCommit receives the events of each group commit in journal order,
	// after they are durable and before any of their requests is answered;
	// at Open it receives every event of the journal, before Open returns.
	// It runs on the journal's single writer, so it is never called
	// concurrently with itself.
	OnCommit func([]model.Event)
	Now      func() time.Time
	Logger   *slog.Logger
	// Registerer receives the ingest self-metrics (nil: none).
	Registerer prometheus.Registerer
}

// Outcome is what became of a submitted request's events.
type Outcome struct {
	// Accepted are the ids written to the journal by this request;
	// Duplicates those already in it (or earlier in the same batch).
	Accepted   []string
	Duplicates []string
}

type pending struct {
	evs   []model.Event
	reply chan result
}

type result struct {
	out Outcome
	err error
}

// DefaultSyncsInFlight bounds the fsyncs of the journal that may run at
// once.
const DefaultSyncsInFlight = 4

// Ingester owns the journal: requests queue for its single writer, which
// writes everything waiting with one write (a group commit) and starts an
// fsync for it; while that fsync runs the next group is written and
// synced (up to Options.SyncsInFlight at once, since the device serves
// overlapping fsyncs faster than consecutive ones). A completer takes the
// groups in journal order, waits for each one's fsync, hands its events to
// OnCommit and answers its requests. No request is answered before its
// events and every event before them are durable.
type Ingester struct {
	o        Options
	journal  *Journal
	queue    chan *pending
	inflight chan *flight
	slots    chan struct{}
	m        *ingestMetrics
	buf      []byte

	// fileMu serialises journal writes and cuts, and guards gen and
	// unacked. It is held across the write of a group to the local
	// journal file (never across an fsync or a channel operation): a cut
	// must not interleave with a write, and a group's generation must be
	// the one its records were written under. The only other holder is the
	// completer, which waits at most for one write.
	fileMu sync.Mutex
	// gen counts cuts: a group written before a cut is gone.
	gen uint64
	// unacked are the groups written and not yet answered, in order.
	unacked []*flight

	// seen holds every id in the journal, and those of groups written and
	// not yet answered.
	seenMu sync.Mutex
	seen   map[string]struct{}

	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	done   chan struct{}
}

// flight is one group commit on its way to the disk.
type flight struct {
	batch     []*pending
	outs      []Outcome
	errs      []error
	committed []model.Event
	gen       uint64
	end       int64
	done      chan error
}

// Open opens the journal in o.Dir, replays it through o.OnCommit and
// starts the writer. The replay's ids are known, so a delivery repeated
// after a restart is still a duplicate.
func Open(o Options) (*Ingester, error) {
	if o.QueueSize < 1 {
		o.QueueSize = 1
	}
	if o.MaxBatch < 1 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SyncsInFlight < 1 {
		o.SyncsInFlight = DefaultSyncsInFlight
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.OnCommit == nil {
		o.OnCommit = func([]model.Event) {}
	}
	j, evs, torn, err := OpenJournal(o.Dir, o.Sync)
	if err != nil {
		return nil, err
	}
	if torn != nil {
		o.Logger.Warn("the event journal ended in a torn record (a crash during a write, never acknowledged); it was cut off",
			"path", j.Path(), "offset", torn.Offset, "bytes", torn.Bytes, "saved_to", torn.SavedTo)
	}
	in := &Ingester{
		o: o, journal: j, queue: make(chan *pending, o.QueueSize),
		inflight: make(chan *flight, o.SyncsInFlight), slots: make(chan struct{}, o.SyncsInFlight),
		seen: make(map[string]struct{}, len(evs)),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	for _, ev := range evs {
		in.seen[ev.ID] = struct{}{}
	}
	in.m = newIngestMetrics(o.Registerer, in)
	if len(evs) > 0 {
		o.OnCommit(evs)
	}
	o.Logger.Info("event journal replayed", "path", j.Path(), "events", len(evs))
	go in.write()
	go in.complete(j.size)
	return in, nil
}

// Submit queues evs (one request's events) for the journal and waits until
// they are durable, or ctx ends. It returns ErrBusy at once when the queue
// is full. When ctx ends first the events may still be written: the caller
// answers an error and the sender's retry is then a duplicate.
func (in *Ingester) Submit(ctx context.Context, evs []model.Event) (Outcome, error) {
	p := &pending{evs: evs, reply: make(chan result, 1)}
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return Outcome{}, ErrClosed
	}
	select {
	case in.queue <- p:
	default:
		in.mu.Unlock()
		return Outcome{}, ErrBusy
	}
	in.mu.Unlock()
	select {
	case r := <-p.reply:
		return r.out, r.err
	case <-ctx.Done():
		return Outcome{}, fmt.Errorf("wait for the event journal: %w", ctx.Err())
	}
}

// write is the journal's single writer.
func (in *Ingester) write() {
	defer close(in.inflight)
	var batch []*pending
	for {
		batch = batch[:0]
		select {
		case p := <-in.queue:
			batch = append(batch, p)
		case <-in.stop:
			// Close refuses new requests first; answer what is queued.
			for {
				select {
				case p := <-in.queue:
					batch = append(batch, p)
				default:
					if len(batch) > 0 {
						in.dispatch(batch)
					}
					return
				}
			}
		}
		n := len(batch[0].evs)
	drain:
		for n < in.o.MaxBatch {
			select {
			case p := <-in.queue:
				batch = append(batch, p)
				n += len(p.evs)
			default:
				break drain
			}
		}
		in.dispatch(batch)
	}
}

// dispatch writes one group and starts its fsync. A free fsync slot is
// taken first, so that at most Options.SyncsInFlight groups are unsynced
// and the queue, not memory, absorbs a slow disk.
func (in *Ingester) dispatch(batch []*pending) {
	f := &flight{batch: append([]*pending(nil), batch...), outs: make([]Outcome, len(batch)), errs: make([]error, len(batch)), done: make(chan error, 1)}
	in.slots <- struct{}{}
	now := in.o.Now().UTC()
	in.fileMu.Lock()
	f.gen = in.gen
	in.unacked = append(in.unacked, f)
	buf := in.buf[:0]
	in.seenMu.Lock()
	for i, p := range f.batch {
		for _, ev := range p.evs {
			if _, dup := in.seen[ev.ID]; dup {
				f.outs[i].Duplicates = append(f.outs[i].Duplicates, ev.ID)
				continue
			}
			ev.Received = now
			var err error
			if buf, err = encode(buf, &ev); err != nil {
				f.errs[i] = err
				continue
			}
			in.seen[ev.ID] = struct{}{}
			f.committed = append(f.committed, ev)
			f.outs[i].Accepted = append(f.outs[i].Accepted, ev.ID)
		}
	}
	in.seenMu.Unlock()
	var err error
	if len(f.committed) > 0 {
		f.end, err = in.journal.write(buf)
	}
	in.buf = buf
	in.fileMu.Unlock()
	if err != nil || len(f.committed) == 0 {
		<-in.slots
		f.done <- err
	} else {
		go func() {
			start := time.Now()
			err := in.journal.syncNow()
			in.m.fsync.Observe(time.Since(start).Seconds())
			<-in.slots
			f.done <- err
		}()
	}
	in.inflight <- f
}

// complete answers the groups in journal order once each is durable.
// synced is the offset up to which the journal is acknowledged.
func (in *Ingester) complete(synced int64) {
	defer close(in.done)
	for f := range in.inflight {
		err := <-f.done
		in.fileMu.Lock()
		if err == nil && f.gen != in.gen {
			err = errors.New("an earlier group of events could not be made durable, and this one was cut with it")
		}
		if err != nil {
			if f.gen == in.gen {
				in.cutUnacked(synced)
			}
		} else {
			in.unacked = in.unacked[1:]
			if f.end > 0 {
				synced = f.end
			}
		}
		in.fileMu.Unlock()
		if err != nil {
			in.o.Logger.Error("write the event journal; the requests are refused and their senders will retry", "events", len(f.committed), "err", err)
			for _, p := range f.batch {
				in.reply(p, Outcome{}, err)
			}
			continue
		}
		if len(f.committed) > 0 {
			in.m.batch.Observe(float64(len(f.committed)))
			in.o.OnCommit(f.committed)
		}
		for i, p := range f.batch {
			in.reply(p, f.outs[i], f.errs[i])
		}
	}
}

// cutUnacked drops every group written after synced (the failed one and
// those behind it, which are answered as failed when their turn comes):
// their ids are forgotten, so that the senders' retries are new events,
// and their records are cut from the journal. fileMu is held.
func (in *Ingester) cutUnacked(synced int64) {
	in.seenMu.Lock()
	for _, f := range in.unacked {
		for _, ev := range f.committed {
			delete(in.seen, ev.ID)
		}
	}
	in.seenMu.Unlock()
	in.unacked = nil
	in.gen++
	in.journal.cut(synced)
}

func (in *Ingester) reply(p *pending, out Outcome, err error) {
	p.reply <- result{out: out, err: err}
}

// Close stops accepting requests, answers those queued, and closes the
// journal.
func (in *Ingester) Close() error {
	in.mu.Lock()
	if in.closed {
		in.mu.Unlock()
		return nil
	}
	in.closed = true
	in.mu.Unlock()
	close(in.stop)
	<-in.done
	return in.journal.Close()
}

// Journal returns the path of the journal file.
func (in *Ingester) Journal() string { return in.journal.Path() }
