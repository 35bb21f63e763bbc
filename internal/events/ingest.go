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

// Ingester owns the journal: requests queue for its single writer, which
// writes everything waiting with one write and one fsync (group commit),
// then hands the batch to OnCommit and answers every request of it.
type Ingester struct {
	o       Options
	journal *Journal
	queue   chan *pending
	m       *ingestMetrics

	// seen holds every id in the journal; only the writer touches it.
	seen map[string]struct{}

	mu     sync.Mutex
	closed bool
	stop   chan struct{}
	done   chan struct{}
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
	defer close(in.done)
	var (
		batch []*pending
		buf   []byte
	)
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
						buf = in.commit(batch, buf)
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
		buf = in.commit(batch, buf)
	}
}

// commit writes one group of requests with one fsync and answers them.
func (in *Ingester) commit(batch []*pending, buf []byte) []byte {
	now := in.o.Now().UTC()
	buf = buf[:0]
	var committed []model.Event
	outs := make([]Outcome, len(batch))
	errs := make([]error, len(batch))
	inBatch := map[string]struct{}{}
	for i, p := range batch {
		for _, ev := range p.evs {
			if _, dup := in.seen[ev.ID]; dup {
				outs[i].Duplicates = append(outs[i].Duplicates, ev.ID)
				continue
			}
			if _, dup := inBatch[ev.ID]; dup {
				outs[i].Duplicates = append(outs[i].Duplicates, ev.ID)
				continue
			}
			ev.Received = now
			var err error
			if buf, err = encode(buf, &ev); err != nil {
				errs[i] = err
				continue
			}
			inBatch[ev.ID] = struct{}{}
			committed = append(committed, ev)
			outs[i].Accepted = append(outs[i].Accepted, ev.ID)
		}
	}
	if len(committed) > 0 {
		start := time.Now()
		err := in.journal.Append(buf, len(committed))
		in.m.fsync.Observe(time.Since(start).Seconds())
		if err != nil {
			in.o.Logger.Error("write the event journal; the batch is refused and the senders will retry", "events", len(committed), "err", err)
			for i := range batch {
				in.reply(batch[i], Outcome{}, err)
			}
			return buf
		}
		in.m.batch.Observe(float64(len(committed)))
		for id := range inBatch {
			in.seen[id] = struct{}{}
		}
		in.o.OnCommit(committed)
	}
	for i, p := range batch {
		in.reply(p, outs[i], errs[i])
	}
	return buf
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
