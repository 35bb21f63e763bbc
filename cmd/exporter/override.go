package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/restorable/restorable/internal/policy"
	"github.com/restorable/restorable/internal/server"
)

// OverridesFileName is the file, next to the audit log, that keeps the
// break-glass gate overrides across restarts.
const OverridesFileName = "gate-overrides.json"

// overrideStore holds the break-glass overrides of the deploy gate and
// keeps them in a small JSON file, so that a restart keeps each until it
// expires.
type overrideStore struct {
	// path is the file; empty keeps overrides in memory only (an exporter
	// without an audit log, which refuses every request that could set
	// one).
	path string

	// writeMu serialises changes: each one writes the whole file, and two
	// must not write over each other. It is held across the file's write
	// and fsync; readers never take it.
	writeMu sync.Mutex

	// mu guards list and version; it is never held across I/O.
	mu   sync.Mutex
	list []policy.Override
	// version changes whenever the overrides in force change (set,
	// withdrawn or expired), so that the gate is evaluated again.
	version uint64
}

// overridesFile is the file's content.
type overridesFile struct {
	Overrides []policy.Override `json:"overrides"`
}

// loadOverrides reads the overrides kept at path, dropping those expired
// at now. A missing file holds none.
func loadOverrides(path string, now time.Time) (*overrideStore, error) {
	s := &overrideStore{path: path}
	if path == "" {
		return s, nil
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open gate overrides %s: %w", path, err)
	}
	defer f.Close() //nolint:errcheck // read only
	// The file holds a few overrides; a larger one is not ours.
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read gate overrides %s: %w", path, err)
	}
	var of overridesFile
	if err := json.Unmarshal(data, &of); err != nil {
		return nil, fmt.Errorf("decode gate overrides %s: %w", path, err)
	}
	for _, o := range of.Overrides {
		if o.ExpiresAt.After(now) {
			s.list = append(s.list, o)
		}
	}
	return s, nil
}

// snapshot returns the overrides not expired at now and a version that
// changes whenever they change. Expired ones are dropped from memory here
// (the file drops them on its next write, and on the next start).
func (s *overrideStore) snapshot(now time.Time) (uint64, []policy.Override) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.list[:0:0]
	for _, o := range s.list {
		if o.ExpiresAt.After(now) {
			kept = append(kept, o)
		}
	}
	if len(kept) != len(s.list) {
		s.list = kept
		s.version++
	}
	return s.version, slices.Clone(s.list)
}

// set installs o, replacing any override of the same environment and
// dataset, once the file holds it.
func (s *overrideStore) set(o policy.Override, now time.Time) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, list := s.snapshot(now)
	list = slices.DeleteFunc(list, func(x policy.Override) bool { return x.Env == o.Env && x.Dataset == o.Dataset })
	list = append(list, o)
	return s.install(list)
}

// withdraw ends the override of env and dataset early; it returns the
// override withdrawn, nil when none was in force.
func (s *overrideStore) withdraw(env, dataset string, now time.Time) (*policy.Override, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	_, list := s.snapshot(now)
	i := slices.IndexFunc(list, func(x policy.Override) bool { return x.Env == env && x.Dataset == dataset })
	if i < 0 {
		return nil, nil
	}
	gone := list[i]
	if err := s.install(slices.Delete(list, i, i+1)); err != nil {
		return nil, err
	}
	return &gone, nil
}

// install writes list to the file and then makes it the one in force, so
// that an override the API confirmed survives a crash right after.
func (s *overrideStore) install(list []policy.Override) error {
	if s.path != "" {
		if err := writeFileAtomic(s.path, overridesFile{Overrides: list}); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.list = list
	s.version++
	s.mu.Unlock()
	return nil
}

// writeFileAtomic replaces path with v as JSON: written to a temporary
// file, fsynced, renamed over path and the directory fsynced, so a reader
// or a crash sees the old content or the new, never a mix.
func writeFileAtomic(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("create directory of %s: %w", path, err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	_, werr := f.Write(append(data, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	serr = d.Sync()
	cerr = d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// overrideRequest is the body of POST /api/v1/gate/override.
type overrideRequest struct {
	Env     string `json:"env"`
	Dataset string `json:"dataset"`
	Reason  string `json:"reason"`
	// ExpiresIn is a Go duration ("2h30m"); ExpiresAt an RFC 3339 time.
	// Exactly one of them is required.
	ExpiresIn string     `json:"expires_in"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// HandleOverrideSet serves POST /api/v1/gate/override: it validates the
// request, keeps the override and answers it with the gate answer it now
// gives.
func (a *app) HandleOverrideSet(w http.ResponseWriter, r *http.Request) {
	var req overrideRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		badOverride(w, "body: not a JSON override request: "+err.Error())
		return
	}
	now := a.opts.Now().UTC()
	o := policy.Override{Env: req.Env, Dataset: req.Dataset, Reason: strings.TrimSpace(req.Reason), Since: now}
	if who, ok := server.PrincipalOf(r); ok {
		o.By = who.Name
	}
	switch {
	case req.ExpiresIn != "" && req.ExpiresAt != nil:
		badOverride(w, "expires_in: give expires_in or expires_at, not both")
		return
	case req.ExpiresIn != "":
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil {
			badOverride(w, "expires_in: "+err.Error())
			return
		}
		// The bounds are checked here too, so that the error names the
		// field the client sent.
		if d <= 0 || d > policy.MaxOverrideDuration {
			badOverride(w, fmt.Sprintf("expires_in: %s is not in (0, %s]", d, policy.MaxOverrideDuration))
			return
		}
		o.ExpiresAt = now.Add(d)
	case req.ExpiresAt != nil:
		o.ExpiresAt = req.ExpiresAt.UTC()
	default:
		badOverride(w, fmt.Sprintf("expires_in: required (or expires_at): an override lasts at most %s", policy.MaxOverrideDuration))
		return
	}
	if err := o.Validate(); err != nil {
		badOverride(w, err.Error())
		return
	}
	a.mu.Lock()
	cfg := a.cfg
	a.mu.Unlock()
	if _, ok := cfg.Environments[o.Env]; !ok {
		badOverride(w, fmt.Sprintf("env: unknown environment %q", o.Env))
		return
	}
	if err := a.overrides.set(o, now); err != nil {
		a.opts.Logger.Error("keep gate override", "env", o.Env, "err", err)
		server.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "the override could not be kept, so none is in force: " + err.Error()})
		return
	}
	server.SetAuditDetail(r, policy.OverrideAuditDetail(o))
	a.opts.Logger.Warn("deploy gate overridden", "env", o.Env, "dataset", o.Dataset, "by", o.By, "expires_at", o.ExpiresAt, "reason", o.Reason)
	a.answerGate(w, policy.GateRequest{Env: o.Env, Dataset: o.Dataset})
}

// HandleOverrideWithdraw serves DELETE /api/v1/gate/override?env=E
// [&dataset=D]: it ends that override before it expires and answers the
// gate answer without it.
func (a *app) HandleOverrideWithdraw(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	env, dataset := q.Get("env"), q.Get("dataset")
	if env == "" {
		badOverride(w, "env: the env parameter is required")
		return
	}
	gone, err := a.overrides.withdraw(env, dataset, a.opts.Now())
	if err != nil {
		a.opts.Logger.Error("withdraw gate override", "env", env, "err", err)
		server.WriteJSON(w, http.StatusInternalServerError, map[string]string{"error": "the override could not be withdrawn and stays in force: " + err.Error()})
		return
	}
	if gone == nil {
		server.WriteJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no override of env %q dataset %q is in force", env, dataset)})
		return
	}
	server.SetAuditDetail(r, policy.OverrideAuditDetail(*gone))
	a.opts.Logger.Warn("deploy gate override withdrawn", "env", env, "dataset", dataset)
	a.answerGate(w, policy.GateRequest{Env: env, Dataset: dataset})
}

func badOverride(w http.ResponseWriter, msg string) {
	server.WriteJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}
