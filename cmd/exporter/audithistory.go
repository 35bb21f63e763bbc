package main

import (
	"log/slog"
	"time"

	"github.com/restorable/restorable/internal/audit"
	"github.com/restorable/restorable/internal/history"
	"github.com/restorable/restorable/internal/metrics"
)

const (
	// auditFlushEvery is how often audit entries are copied to the
	// history. Entries are batched so that a burst of requests (a scanner
	// hammering a refused route) writes one file per second, not one per
	// request.
	auditFlushEvery = time.Second
	// auditQueue bounds the entries waiting for the next flush; beyond it
	// an entry is not copied (it stays in the JSON audit log) and the loss
	// is counted as a history write error.
	auditQueue = 4096
)

// auditExport copies the audit log's entries into the history's audit
// table. The JSON log is the record and is written first; a failure to
// copy never fails a request, it is logged and counted by
// restorable_history_write_errors_total.
type auditExport struct {
	history *history.Writer
	self    *metrics.Self
	logger  *slog.Logger
	queue   chan audit.Entry
	stop    chan struct{}
	done    chan struct{}
}

// exportAudit copies every entry appended to l from now on into the
// history, until Close. Without a history it does nothing.
func (a *app) exportAudit(l *audit.Log) {
	if a.history == nil || l == nil {
		return
	}
	x := &auditExport{
		history: a.history, self: a.self, logger: a.opts.Logger,
		queue: make(chan audit.Entry, auditQueue), stop: make(chan struct{}), done: make(chan struct{}),
	}
	a.audits = x
	l.OnAppend(x.add)
	go x.loop()
}

// add queues e without waiting: it runs on the request's path.
func (x *auditExport) add(e audit.Entry) {
	select {
	case x.queue <- e:
	default:
		x.self.HistoryFailed()
		x.logger.Warn("audit entry not copied to history: queue full", "seq", e.Seq)
	}
}

func (x *auditExport) loop() {
	defer close(x.done)
	t := time.NewTicker(auditFlushEvery)
	defer t.Stop()
	var batch []audit.Entry
	for {
		select {
		case e := <-x.queue:
			batch = append(batch, e)
		case <-t.C:
			batch = x.flush(batch)
		case <-x.stop:
			for {
				select {
				case e := <-x.queue:
					batch = append(batch, e)
				default:
					x.flush(batch)
					return
				}
			}
		}
	}
}

// flush writes batch to the history and returns it emptied.
func (x *auditExport) flush(batch []audit.Entry) []audit.Entry {
	if len(batch) == 0 {
		return batch
	}
	if err := x.history.AppendAudit(batch...); err != nil {
		x.self.HistoryFailed()
		x.logger.Error("copy audit entries to history", "entries", len(batch), "first_seq", batch[0].Seq, "err", err)
	} else {
		x.self.HistoryWritten(history.TableAudit, len(batch))
	}
	return batch[:0]
}

// Close copies what is queued and stops; the history must still be open.
func (x *auditExport) Close() {
	close(x.stop)
	<-x.done
}
