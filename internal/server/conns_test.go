package server

import (
	"net"
	"net/http"
	"testing"
	"time"
)

// fakeConn records whether it was closed.
type fakeConn struct {
	net.Conn
	closed bool
}

func (c *fakeConn) Close() error { c.closed = true; return nil }

// TestConnLimiterEvictsIdleFirst: over the limit, the longest-idle
// connection goes first, then the longest-waiting new one; a connection
// busy with a request is never closed, and when all are busy the newcomer
// is.
func TestConnLimiterEvictsIdleFirst(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	l := newConnLimiter(3, func() time.Time { now = now.Add(time.Second); return now })
	a, b, c := &fakeConn{}, &fakeConn{}, &fakeConn{}
	for _, x := range []*fakeConn{a, b, c} {
		l.connState(x, http.StateNew)
	}
	l.connState(a, http.StateActive)
	l.connState(c, http.StateActive)
	l.connState(c, http.StateIdle) // c idle after a request
	l.connState(b, http.StateActive)
	l.connState(b, http.StateIdle) // b idle, more recently than c

	d := &fakeConn{}
	l.connState(d, http.StateNew)
	if !c.closed || b.closed || a.closed || d.closed {
		t.Fatalf("first eviction: closed a=%v b=%v c=%v d=%v; want only c (idle longest)", a.closed, b.closed, c.closed, d.closed)
	}
	l.connState(c, http.StateClosed)

	e := &fakeConn{}
	l.connState(e, http.StateNew)
	if !b.closed || a.closed || d.closed || e.closed {
		t.Fatalf("second eviction: closed a=%v b=%v d=%v e=%v; want b (the last idle one)", a.closed, b.closed, d.closed, e.closed)
	}
	l.connState(b, http.StateClosed)

	f := &fakeConn{}
	l.connState(f, http.StateNew)
	if !d.closed || a.closed || e.closed || f.closed {
		t.Fatalf("third eviction: closed a=%v d=%v e=%v f=%v; want d (waiting longest for a first request)", a.closed, d.closed, e.closed, f.closed)
	}
	l.connState(d, http.StateClosed)
	l.connState(e, http.StateActive)
	l.connState(f, http.StateActive)

	g := &fakeConn{}
	l.connState(g, http.StateNew)
	if a.closed || e.closed || f.closed || !g.closed {
		t.Fatalf("all busy: closed a=%v e=%v f=%v g=%v; want only the newcomer g", a.closed, e.closed, f.closed, g.closed)
	}
}

// TestNewHTTPServerAppliesLimits: every limit flag reaches the server.
func TestNewHTTPServerAppliesLimits(t *testing.T) {
	l := Limits{ReadHeaderTimeout: 1 * time.Second, ReadTimeout: 2 * time.Second, WriteTimeout: 3 * time.Second, IdleTimeout: 4 * time.Second, MaxConnections: 5}
	srv := NewHTTPServer(http.NotFoundHandler(), l)
	if srv.ReadHeaderTimeout != l.ReadHeaderTimeout || srv.ReadTimeout != l.ReadTimeout || srv.WriteTimeout != l.WriteTimeout || srv.IdleTimeout != l.IdleTimeout {
		t.Errorf("timeouts: %v %v %v %v", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes != 64<<10 || srv.ConnState == nil {
		t.Errorf("header limit %d, connection limiter set %v", srv.MaxHeaderBytes, srv.ConnState != nil)
	}
	if NewHTTPServer(http.NotFoundHandler(), Limits{}).ConnState != nil {
		t.Error("--web.max-connections=0 still limits connections")
	}
}
