package lockwatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/secret"
)

// watcherName is the exporter's application_name on the coordination
// database.
const watcherName = "restorable-exporter-lockwatch"

// holdersQuery lists the granted advisory locks on 64-bit keys in the
// current database whose session is a wrapper holding its lock. An int8
// key is split over classid (high 32 bits) and objid (low 32 bits), with
// objsubid 1.
const holdersQuery = `
SELECT l.classid::int8, l.objid::int8, a.pid, a.application_name, a.query_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND a.application_name LIKE 'restorable-lock:%'`

// Watcher reads who holds the configured locks, every interval, on a
// connection of its own for each read.
type Watcher struct {
	cfg    *config.Locks
	keys   map[int64]string
	now    func() time.Time
	logger *slog.Logger
	// onChange is called after a read changed the state.
	onChange func()

	mu      sync.Mutex
	state   policy.LockState
	version uint64
}

// Options configure a Watcher.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// OnChange is called (outside any lock) after a read changed the
	// state, so that the caller can evaluate the policy again.
	OnChange func()
}

// New returns a watcher of cfg's keys; its state is unknown until the
// first read.
func New(cfg *config.Locks, o Options) *Watcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{cfg: cfg, keys: map[int64]string{}, now: o.Now, logger: o.Logger, onChange: o.OnChange}
	for _, k := range cfg.Keys {
		w.keys[Key(k.Name)] = k.Name
	}
	w.state = policy.LockState{Err: "the lock holders have not been read yet"}
	return w
}

// State returns the latest lock state and its version, which changes
// whenever the holders, or whether they are known, change.
func (w *Watcher) State() (policy.LockState, uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := w.state
	st.Holders = slices.Clone(st.Holders)
	return st, w.version
}

// Run reads the holders at once and then every interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.cfg.Interval.D())
	defer t.Stop()
	for {
		_ = w.Poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Poll reads the holders once, within the configured timeout, and
// records the result: the holders, or an unknown state when the read
// failed.
func (w *Watcher) Poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout.D())
	defer cancel()
	holders, err := w.read(ctx)
	at := w.now().UTC()
	w.mu.Lock()
	prev := w.state
	next := policy.LockState{Known: err == nil, ObservedAt: at, Holders: holders}
	if err != nil {
		// ObservedAt stays the time of the last successful read.
		next.ObservedAt = prev.ObservedAt
		next.Err = err.Error()
	}
	changed := next.Known != prev.Known || next.Err != prev.Err || !slices.Equal(next.Holders, prev.Holders)
	w.state = next
	if changed {
		w.version++
	}
	w.mu.Unlock()
	if changed {
		if err != nil {
			w.logger.Warn("cannot read the backup/migration lock holders", "err", err)
		} else {
			w.logger.Info("backup/migration lock holders changed", "holders", len(holders))
		}
		if w.onChange != nil {
			w.onChange()
		}
	}
	return err
}

func (w *Watcher) dsn() (string, error) { return secret.Read(w.cfg.DSNFile, w.cfg.DSNEnv) }

func (w *Watcher) read(ctx context.Context) ([]model.LockHolder, error) {
	dsn, err := w.dsn()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The parser's message quotes the connection string.
		return nil, errors.New("the coordination database's connection string does not parse")
	}
	cfg.RuntimeParams["application_name"] = watcherName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		// ConnectError names user, database and host, never the password.
		return nil, fmt.Errorf("connect to the coordination database: %w", err)
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
		defer ccancel()
		_ = conn.Close(cctx)
	}()
	rows, err := conn.Query(ctx, holdersQuery)
	if err != nil {
		return nil, fmt.Errorf("read pg_locks: %w", err)
	}
	defer rows.Close()
	var out []model.LockHolder
	for rows.Next() {
		var hi, lo int64
		var pid int
		var app string
		var since *time.Time
		if err := rows.Scan(&hi, &lo, &pid, &app, &since); err != nil {
			return nil, fmt.Errorf("read pg_locks: %w", err)
		}
		name, ok := w.keys[int64(uint64(hi)<<32|uint64(lo))]
		purpose := PurposeOf(app)
		if !ok || purpose == "" {
			continue
		}
		h := model.LockHolder{Key: name, Purpose: purpose, PID: pid}
		if since != nil {
			h.Since = since.UTC()
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_locks: %w", err)
	}
	slices.SortFunc(out, func(a, b model.LockHolder) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return a.PID - b.PID
	})
	return out, nil
}
