package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/restorable/restorable/internal/config"
	"github.com/restorable/restorable/internal/model"
)

// RetryAfter is the Retry-After (seconds) of a 429 or 503 answer.
const RetryAfter = "1"

// Handler serves POST /api/v1/events (the generic event; the server guards
// it with the events:write permission) and POST /api/v1/events/{sender}
// (native webhooks, authenticated by the sender's secret alone).
type Handler struct {
	in     *Ingester
	logger *slog.Logger
	now    func() time.Time
	set    atomic.Pointer[settings]
	// principal names who posted a generic event (server.PrincipalOf).
	principal func(*http.Request) (string, bool)
}

// SetPrincipalOf tells the handler how to learn who posted a generic event
// (the access guard's principal), which the journal then records.
func (h *Handler) SetPrincipalOf(f func(*http.Request) (string, bool)) { h.principal = f }

type settings struct {
	maxBody int64
	envs    map[string]bool
	senders map[string]*senderSettings
}

type senderSettings struct {
	secret  []byte
	mapping Mapping
}

// NewHandler returns the HTTP side of in, configured by cfg.
func NewHandler(in *Ingester, cfg *config.Config, logger *slog.Logger) (*Handler, error) {
	h := &Handler{in: in, logger: logger, now: in.o.Now}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if err := h.Configure(cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// Configure reads the senders' secrets and mappings of cfg and uses them
// from the next request on; on error nothing changes. The journal, its
// directory and the queue size stay as they were opened.
func (h *Handler) Configure(cfg *config.Config) error {
	e := cfg.Events
	if e == nil {
		return errors.New("events: not configured")
	}
	s := &settings{maxBody: e.MaxBodyBytes, envs: map[string]bool{}, senders: map[string]*senderSettings{}}
	for _, name := range cfg.EnvNames() {
		s.envs[name] = true
	}
	for _, name := range config.EventSenders {
		sc := e.Sender(name)
		if sc == nil {
			continue
		}
		secret, err := readSecret(sc.SecretFile, sc.SecretEnv)
		if err != nil {
			return fmt.Errorf("events.%s: %w", name, err)
		}
		re, err := regexp.Compile(sc.RollbackJobs)
		if err != nil {
			return fmt.Errorf("events.%s.rollback_jobs: %w", name, err)
		}
		s.senders[name] = &senderSettings{secret: secret, mapping: Mapping{Envs: sc.Envs, Datasets: sc.Datasets, RollbackJobs: re}}
	}
	h.set.Store(s)
	return nil
}

// HandleGeneric accepts one generic event.
func (h *Handler) HandleGeneric(w http.ResponseWriter, r *http.Request) {
	s := h.set.Load()
	body, ok := h.body(w, r, s, SenderGeneric)
	if !ok {
		return
	}
	ev, err := ParseGeneric(&Delivery{Header: r.Header, Body: body, Received: h.now()}, SenderGeneric)
	if err == nil && !s.envs[ev.Env] {
		err = fieldErr("env", "unknown environment %q (not in the configuration's environments)", ev.Env)
	}
	if err != nil {
		h.refuse(w, SenderGeneric, RefusedInvalid, http.StatusBadRequest, err.Error())
		return
	}
	if h.principal != nil {
		if who, ok := h.principal(r); ok {
			ev.Principal = who
		}
	}
	h.submit(w, r, SenderGeneric, []model.Event{ev})
}

// HandleSender accepts a native webhook delivery of the sender the path
// names.
func (h *Handler) HandleSender(w http.ResponseWriter, r *http.Request) {
	s := h.set.Load()
	name := r.PathValue("sender")
	sc := s.senders[name]
	if sc == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": fmt.Sprintf("sender: %q is not configured (events.%s in the configuration; the generic event goes to POST /api/v1/events)", name, name)})
		return
	}
	body, ok := h.body(w, r, s, name)
	if !ok {
		return
	}
	if err := verify(name, sc.secret, r, body); err != nil {
		h.logger.Warn("event delivery refused", "sender", name, "remote", r.RemoteAddr, "reason", err.Error())
		h.refuse(w, name, RefusedUnauthorized, http.StatusUnauthorized, err.Error())
		return
	}
	p, err := adapters[name](&Delivery{Header: r.Header, Body: body, Received: h.now()}, &sc.mapping)
	if err != nil {
		h.refuse(w, name, RefusedInvalid, http.StatusBadRequest, err.Error())
		return
	}
	var keep []model.Event
	var skipped []string
	for _, ev := range p.Events {
		ev.Principal = "sender:" + name
		if err := Validate(&ev); err != nil {
			h.refuse(w, name, RefusedInvalid, http.StatusBadRequest, err.Error())
			return
		}
		if !s.envs[ev.Env] {
			// A webhook fires for every environment of a project (review
			// apps, sandboxes): one Restorable does not watch is answered
			// 200, so that the sender does not retry or disable the hook.
			h.in.m.received.WithLabelValues(name, string(ev.Kind), OutcomeIgnored).Inc()
			skipped = append(skipped, ev.Env)
			continue
		}
		keep = append(keep, ev)
	}
	if len(keep) == 0 {
		reason := p.Ignored
		if reason == "" {
			reason = fmt.Sprintf("environment %s is not configured", strings.Join(skipped, ", "))
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": OutcomeIgnored, "reason": reason})
		return
	}
	h.submit(w, r, name, keep)
}

// body reads the request body within the events' limit; it answers 413
// and returns false when the body is larger.
func (h *Handler) body(w http.ResponseWriter, r *http.Request, s *settings, sender string) ([]byte, bool) {
	tooLarge := func() ([]byte, bool) {
		h.refuse(w, sender, RefusedTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than events.max_body_bytes (%d bytes)", s.maxBody))
		return nil, false
	}
	if r.ContentLength > s.maxBody {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		h.refuse(w, sender, RefusedTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than --web.max-request-body-bytes (%d bytes)", mbe.Limit))
		return nil, false
	case err != nil:
		h.refuse(w, sender, RefusedInvalid, http.StatusBadRequest, "body: "+err.Error())
		return nil, false
	case int64(len(body)) > s.maxBody:
		return tooLarge()
	}
	return body, true
}

// submit writes evs to the journal and answers: 202 when at least one is
// new, 200 "duplicate" when all were already in the journal, 429 when the
// queue is full, 503 when the journal cannot be written.
func (h *Handler) submit(w http.ResponseWriter, r *http.Request, sender string, evs []model.Event) {
	out, err := h.in.Submit(r.Context(), evs)
	switch {
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", RetryAfter)
		h.refuse(w, sender, RefusedThrottled, http.StatusTooManyRequests, "queue: the event journal is busy; nothing was recorded, retry after "+RetryAfter+"s")
		return
	case err != nil && r.Context().Err() != nil:
		// The client is gone: not the journal's failure, and nobody reads
		// the answer.
		h.refuse(w, sender, RefusedGone, http.StatusServiceUnavailable, "request ended before the journal answered: "+err.Error()+"; retry with the same delivery id")
		return
	case err != nil:
		w.Header().Set("Retry-After", RetryAfter)
		h.refuse(w, sender, RefusedUnavailable, http.StatusServiceUnavailable, "journal: "+err.Error()+"; nothing was acknowledged, retry")
		return
	}
	kinds := make(map[string]string, len(evs))
	for _, ev := range evs {
		kinds[ev.ID] = string(ev.Kind)
	}
	for _, id := range out.Accepted {
		h.in.m.received.WithLabelValues(sender, kinds[id], OutcomeAccepted).Inc()
	}
	for _, id := range out.Duplicates {
		h.in.m.received.WithLabelValues(sender, kinds[id], OutcomeDuplicate).Inc()
	}
	if len(out.Accepted) == 0 {
		writeJSON(w, http.StatusOK, map[string]any{"status": OutcomeDuplicate, "duplicates": out.Duplicates})
		return
	}
	ans := map[string]any{"status": OutcomeAccepted, "accepted": out.Accepted}
	if len(out.Duplicates) > 0 {
		ans["duplicates"] = out.Duplicates
	}
	writeJSON(w, http.StatusAccepted, ans)
}

func (h *Handler) refuse(w http.ResponseWriter, sender, reason string, code int, msg string) {
	h.in.m.refused.WithLabelValues(sender, reason).Inc()
	writeJSON(w, code, map[string]any{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
