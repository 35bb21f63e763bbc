package server

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Defaults of the HTTP limits (flags --web.*).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxConnections    = 512
	DefaultMaxBodyBytes      = 1 << 20
	// MaxHeaderBytes bounds request headers; a bearer token or a client
	// certificate name needs far less.
	MaxHeaderBytes = 64 << 10
)

// Limits bound what one client can hold of the server.
type Limits struct {
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxConnections    int
}

// NewHTTPServer returns the server of handler with limits: timeouts on
// reading and writing a request and on idle keep-alive connections, and at
// most MaxConnections open connections, where a new connection evicts an
// idle one rather than waiting behind it.
func NewHTTPServer(handler http.Handler, l Limits) *http.Server {
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		ReadTimeout:       l.ReadTimeout,
		WriteTimeout:      l.WriteTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
	if l.MaxConnections > 0 {
		srv.ConnState = newConnLimiter(l.MaxConnections, time.Now).connState
	}
	return srv
}

// connLimiter keeps at most max connections open. A connection that
// arrives when max are open closes the one that has been idle longest (a
// keep-alive connection between requests, or one that has not sent a
// request yet); only when every connection is busy with a request is the
// new one closed instead. So idle connections, however many a client
// opens, never keep a scrape out, while requests in flight are never cut.
//
// It works from http.Server.ConnState, so it needs no listener of its own
// and applies to every listener exporter-toolkit opens (TCP, systemd
// sockets, vsock, TLS or not).
type connLimiter struct {
	max   int
	now   func() time.Time
	mu    sync.Mutex
	conns map[net.Conn]connInfo
}

type connInfo struct {
	state http.ConnState
	since time.Time
}

func newConnLimiter(max int, now func() time.Time) *connLimiter {
	return &connLimiter{max: max, now: now, conns: map[net.Conn]connInfo{}}
}

func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	var victim net.Conn
	l.mu.Lock()
	switch s {
	case http.StateNew:
		l.conns[c] = connInfo{state: s, since: l.now()}
		if len(l.conns) > l.max {
			victim = l.pickVictim(c)
			delete(l.conns, victim)
		}
	case http.StateActive, http.StateIdle:
		if _, ok := l.conns[c]; ok {
			l.conns[c] = connInfo{state: s, since: l.now()}
		}
	case http.StateHijacked, http.StateClosed:
		delete(l.conns, c)
	}
	l.mu.Unlock()
	if victim != nil {
		closeNow(victim)
	}
}

// pickVictim returns the connection idle longest, then the one waiting
// longest for its first request, else the new connection itself.
func (l *connLimiter) pickVictim(newConn net.Conn) net.Conn {
	var idle, fresh net.Conn
	var idleSince, freshSince time.Time
	for c, info := range l.conns {
		switch {
		case c == newConn:
		case info.state == http.StateIdle && (idle == nil || info.since.Before(idleSince)):
			idle, idleSince = c, info.since
		case info.state == http.StateNew && (fresh == nil || info.since.Before(freshSince)):
			fresh, freshSince = c, info.since
		}
	}
	switch {
	case idle != nil:
		return idle
	case fresh != nil:
		return fresh
	}
	return newConn
}

// closeNow closes c without a TLS close-notify, whose write could wait on
// a client that does not read.
func closeNow(c net.Conn) {
	if tc, ok := c.(*tls.Conn); ok {
		_ = tc.NetConn().Close()
		return
	}
	_ = c.Close()
}
