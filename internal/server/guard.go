package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strings"

	"github.com/restorable/restorable/internal/access"
	"github.com/restorable/restorable/internal/audit"
)

// Auditor records audited operations; *audit.Log is one. Append returns
// only when the entry is on disk.
type Auditor interface {
	Append(audit.Entry) error
}

// route is what a guarded route needs and what its audit entries say.
type route struct {
	// perm is the permission the route needs.
	perm string
	// action names the operation in the audit log; empty for reads, which
	// are not audited when they succeed.
	action string
	// target returns what the action applies to.
	target func(*http.Request) string
}

// CrossSiteHelp says what a non-browser client must send with a POST.
const CrossSiteHelp = "A POST must come from the exporter's own origin and carry Content-Type: application/json, " +
	"an X-Requested-By header or an Authorization: Bearer token, e.g. " +
	"curl -X POST -H 'Authorization: Bearer <token>' http://HOST/-/reload (docs/security.md)."

// guard wraps h with the access checks of rt: a state-changing request
// must not be cross-site, the request's principal must hold rt.perm, and
// an audited action is written to the audit log before it runs and again,
// with its outcome, before the answer leaves.
type guard struct {
	o     *Options
	rt    route
	h     http.Handler
	cross *http.CrossOriginProtection
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	pol := g.o.policy()
	mutating := !safeMethod(r.Method)
	if mutating {
		if err := g.crossSite(r); err != nil {
			g.deny(w, r, access.Principal{Name: access.Anonymous, Method: access.MethodNone}, http.StatusForbidden,
				"cross-site request refused: "+err.Error()+". "+CrossSiteHelp)
			return
		}
	}
	// A read that needs no credentials is served as it always was, without
	// looking at credentials at all.
	if !mutating && pol.AnonymousAllowed(g.rt.perm) {
		g.h.ServeHTTP(w, r)
		return
	}
	who, err := pol.Identify(r)
	if access.IsBadToken(err) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="restorable"`)
		g.deny(w, r, who, http.StatusUnauthorized, "unauthorized: the bearer token is not one of a configured principal")
		return
	}
	if !pol.Allowed(who, g.rt.perm) {
		g.refuse(w, r, pol, who)
		return
	}
	if g.rt.action == "" {
		// A route without an action keeps its own record of what was done
		// (the event journal names the principal); PrincipalOf tells it who.
		g.h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), auditKey{}, &audited{who: who, note: &auditNote{}})))
		return
	}
	g.runAudited(w, r, who)
}

// refuse answers a request whose principal lacks the permission.
func (g *guard) refuse(w http.ResponseWriter, r *http.Request, pol *access.Policy, who access.Principal) {
	what := r.Method + " " + r.URL.Path
	switch {
	case !pol.HasPrincipals():
		g.deny(w, r, who, http.StatusForbidden, fmt.Sprintf(
			"forbidden: %s needs the permission %s and no principal is configured. "+
				"Grant it in the access: section of the configuration (a principal with a token_sha256_file and a role such as on-call), "+
				"then send Authorization: Bearer <token>; see docs/security.md", what, g.rt.perm))
	case who.Name == access.Anonymous:
		w.Header().Set("WWW-Authenticate", `Bearer realm="restorable"`)
		g.deny(w, r, who, http.StatusUnauthorized, fmt.Sprintf(
			"unauthorized: %s needs the permission %s; authenticate as a principal that has it "+
				"(Authorization: Bearer <token>, a client certificate or a basic-auth user named in access.principals)", what, g.rt.perm))
	default:
		g.deny(w, r, who, http.StatusForbidden, fmt.Sprintf(
			"forbidden: principal %s (roles %s) lacks the permission %s needed by %s", who.Name, strings.Join(who.Roles(), ", "), g.rt.perm, what))
	}
}

// runAudited writes an "allowed" entry, runs the handler into a buffer,
// writes the outcome and then sends the answer. Without an audit log, or
// when the first entry cannot be written, nothing runs.
func (g *guard) runAudited(w http.ResponseWriter, r *http.Request, who access.Principal) {
	entry := g.entry(r, who)
	entry.Outcome = audit.OutcomeAllowed
	if err := g.append(entry); err != nil {
		g.o.Logger.Error("audit log unavailable, refusing the request", "action", entry.Action, "principal", who.Name, "err", err)
		writeText(w, http.StatusServiceUnavailable, "the audit log cannot be written, so nothing was done: "+err.Error()+"\n")
		return
	}
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	note := &auditNote{}
	g.h.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), auditKey{}, &audited{who: who, note: note})))
	entry = g.entry(r, who)
	entry.Status = rec.code
	entry.Outcome = audit.OutcomeOK
	entry.Detail = note.detail
	if rec.code >= 400 {
		entry.Outcome = audit.OutcomeFailed
		entry.Detail = truncate(strings.TrimSpace(rec.body.String()), 500)
	}
	if err := g.append(entry); err != nil {
		// The operation ran; its outcome is in the process log and the
		// "allowed" entry is on disk.
		g.o.Logger.Error("write audit outcome", "action", entry.Action, "principal", who.Name, "status", rec.code, "err", err)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.code)
	_, _ = w.Write(rec.body.Bytes())
}

// auditKey is the context key of an audited request's audited.
type auditKey struct{}

// audited is what an audited handler learns of its request through the
// context: who asked, and where to leave what the outcome entry should say.
type audited struct {
	who  access.Principal
	note *auditNote
}

// auditNote is the detail a handler gives its outcome entry. The handler
// runs synchronously inside runAudited, so it needs no lock.
type auditNote struct{ detail string }

// PrincipalOf returns who made a request that the guard let through
// (an audited request, or one to a route that needs a permission and keeps
// its own record), as the access policy recognised them; ok is false
// outside such a route.
func PrincipalOf(r *http.Request) (access.Principal, bool) {
	a, ok := r.Context().Value(auditKey{}).(*audited)
	if !ok {
		return access.Principal{}, false
	}
	return a.who, true
}

// SetAuditDetail makes detail the Detail of the audit entry written with
// the request's outcome, so that the log records what was decided (such as
// an override's reason and expiry) and not only that it succeeded. A
// failed request's entry keeps its answer as the detail instead. Outside
// an audited route it does nothing.
func SetAuditDetail(r *http.Request, detail string) {
	if a, ok := r.Context().Value(auditKey{}).(*audited); ok {
		a.note.detail = truncate(detail, 4096)
	}
}

// deny answers code with msg and audits the refusal.
func (g *guard) deny(w http.ResponseWriter, r *http.Request, who access.Principal, code int, msg string) {
	entry := g.entry(r, who)
	entry.Outcome = audit.OutcomeDenied
	entry.Status = code
	if entry.Detail != "" {
		// The credential that was verified but is no principal.
		msg = entry.Detail + "; " + msg
	}
	entry.Detail = msg
	if err := g.append(entry); err != nil {
		g.o.Logger.Error("write audit entry of a refused request", "action", entry.Action, "err", err)
	}
	g.o.Logger.Info("request refused", "method", r.Method, "path", r.URL.Path, "principal", who.Name, "status", code, "remote", r.RemoteAddr)
	writeText(w, code, msg+"\n")
}

func (g *guard) append(e audit.Entry) error {
	if g.o.Audit == nil {
		return fmt.Errorf("no audit log is configured")
	}
	return g.o.Audit.Append(e)
}

func (g *guard) entry(r *http.Request, who access.Principal) audit.Entry {
	action := g.rt.action
	if action == "" {
		action = "http." + strings.ToLower(r.Method)
	}
	target := r.URL.Path
	if g.rt.target != nil {
		target = g.rt.target(r)
	}
	remote, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		remote = r.RemoteAddr
	}
	e := audit.Entry{Principal: who.Name, Auth: who.Method, Remote: remote, Action: action, Target: target}
	if who.Unmapped != "" {
		e.Detail = who.Unmapped
	}
	return e
}

// crossSite refuses a state-changing request that a browser could have
// sent on behalf of another site: one whose Sec-Fetch-Site or Origin says
// it is not same-origin, and one that a page could send without a CORS
// preflight (a "simple" request: no custom header, a form content type).
func (g *guard) crossSite(r *http.Request) error {
	if err := g.cross.Check(r); err != nil {
		return fmt.Errorf("the request's Sec-Fetch-Site %q / Origin %q is not this exporter's origin", r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin"))
	}
	if r.Header.Get("X-Requested-By") != "" || access.HasBearer(r) {
		return nil
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/json" {
		return nil
	}
	return fmt.Errorf("a %s without Content-Type: application/json, X-Requested-By or a bearer token is what any web page can send", r.Method)
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// recorder holds a handler's answer until its outcome is audited.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
	wrote  bool
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.body.Write(b)
}

// limitBody refuses a body larger than max before the handler runs and
// cuts off a chunked one that grows past it.
func limitBody(max int64, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeText(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body of %d bytes is larger than --web.max-request-body-bytes (%d)\n", r.ContentLength, max))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		h.ServeHTTP(w, r)
	})
}

// loggerOrDiscard keeps a nil logger from panicking in tests.
func loggerOrDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
