// Package tcpproxy is a TCP proxy that tests put in front of a real
// dependency (PostgreSQL, Redis) to make it fail on demand: Pause freezes
// it the way a stopped or overloaded host looks from the network
// (connections open, no byte answered), Cut drops it the way a crashed host
// or a broken network looks (connections reset, new ones refused at once).
// It never mocks the dependency: every byte that flows is the real server's.
package tcpproxy

import (
	"net"
	"sync"
	"testing"
)

// Proxy forwards every connection made to Addr to the target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	resume *sync.Cond // broadcast when paused turns false or the proxy closes
	paused bool
	cut    bool
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// New listens on a free port of 127.0.0.1 and forwards to target
// (host:port). Close stops it.
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.resume = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Start is New for a test: it fails the test on error and closes the proxy
// at cleanup.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := New(target)
	if err != nil {
		tb.Fatalf("tcpproxy: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Addr is the host:port clients connect to instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is Addr's port, for DSNs built by hand.
func (p *Proxy) Port() string {
	_, port, _ := net.SplitHostPort(p.Addr())
	return port
}

// Pause freezes the dependency: open connections stay open but no byte
// flows either way, and new connections are accepted but never reach the
// target, until Resume. Nothing is lost: bytes held back are delivered on
// Resume, as with a host that was stopped (SIGSTOP) and continued.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// Resume lets bytes flow again after Pause.
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused = false
	p.resume.Broadcast()
	p.mu.Unlock()
}

// Cut drops the dependency: every open connection is closed and new ones
// are closed as soon as they are accepted, until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// Restore accepts and forwards new connections again after Cut.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// Close stops listening and closes every connection. Calling it again does
// nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	_ = p.ln.Close()
	for c := range p.conns {
		_ = c.Close()
	}
	p.resume.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.serve(c)
	}
}

// track registers c so Cut and Close can close it; false if the proxy is
// cut or closed, in which case c is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		_ = c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	_ = c.Close()
}

// waitRunning blocks while the proxy is paused; false once it is closed.
func (p *Proxy) waitRunning() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.closed {
		p.resume.Wait()
	}
	return !p.closed
}

func (p *Proxy) serve(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	// A paused dependency does not even answer the start of a session.
	if !p.waitRunning() {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() { p.pipe(server, client); done <- struct{}{} }()
	go func() { p.pipe(client, server); done <- struct{}{} }()
	<-done
	// One side ended: end the other, as a real connection would.
	_ = client.Close()
	_ = server.Close()
	<-done
}

// pipe copies src to dst, holding each chunk while the proxy is paused.
func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitRunning() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: the caller ends both sides
		}
	}
}
