// Package tcpproxy sits between a component under test and a real server
// of the stack, so an outage test can Cut it (every connection closed, new
// ones closed at once) and Restore it — without touching the shared server
// other tests use.
package tcpproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections to one target.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// Start listens on a free loopback port and forwards to target until the
// test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the address clients should dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// IPPort is Addr split.
func (p *Proxy) IPPort() (net.IP, int) {
	a := p.ln.Addr().(*net.TCPAddr)
	return a.IP, a.Port
}

// Cut closes every connection and refuses (accepts and closes) new ones.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Dial connects straight to addr, not through the proxy, but under its
// switch: refused while the proxy is cut, and closed by Cut. It is the
// dialer of a client that must reach several servers through one switch
// (the nodes of a Redis Cluster, whose addresses the client learns from
// the cluster itself).
func (p *Proxy) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if !p.track(c) {
		c.Close()
		return nil, errCut
	}
	return &switchedConn{Conn: c, p: p}, nil
}

var errCut = errors.New("tcpproxy: cut")

// switchedConn leaves the proxy's set of connections when closed.
type switchedConn struct {
	net.Conn
	p    *Proxy
	once sync.Once
}

func (c *switchedConn) Close() error {
	c.once.Do(func() { c.p.untrack(c.Conn) })
	return nil
}

func (p *Proxy) close() {
	p.ln.Close()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				return
			}
			if !p.track(up) {
				up.Close()
				return
			}
			defer p.untrack(up)
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
			go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
			<-done // one side ended: close both, which ends the other copy
			c.Close()
			up.Close()
			<-done
		}()
	}
}
