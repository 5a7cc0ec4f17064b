package tcpproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo starts a line echo server and returns its address.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line and waits up to d for its echo.
func roundTrip(c net.Conn, r *bufio.Reader, line string, d time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	return got, err
}

func dial(t *testing.T, p *Proxy) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

func TestForwardPauseResume(t *testing.T) {
	p := Start(t, echo(t))
	c, r := dial(t, p)
	if got, err := roundTrip(c, r, "one", 2*time.Second); err != nil || got != "one\n" {
		t.Fatalf("before pause: %q, %v", got, err)
	}
	p.Pause()
	if got, err := roundTrip(c, r, "two", 200*time.Millisecond); err == nil {
		t.Fatalf("a paused proxy answered %q", got)
	}
	// A connection opened while paused is accepted but not answered either.
	c2, r2 := dial(t, p)
	if got, err := roundTrip(c2, r2, "new", 200*time.Millisecond); err == nil {
		t.Fatalf("a paused proxy answered a new connection: %q", got)
	}
	p.Resume()
	// The bytes held back arrive after Resume.
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r.ReadString('\n'); err != nil || got != "two\n" {
		t.Fatalf("held bytes after resume: %q, %v", got, err)
	}
	_ = c2.SetDeadline(time.Now().Add(2 * time.Second))
	if got, err := r2.ReadString('\n'); err != nil || got != "new\n" {
		t.Fatalf("new connection after resume: %q, %v", got, err)
	}
}

func TestCutRestore(t *testing.T) {
	p := Start(t, echo(t))
	c, r := dial(t, p)
	if _, err := roundTrip(c, r, "one", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	p.Cut()
	if got, err := roundTrip(c, r, "two", 2*time.Second); err == nil {
		t.Fatalf("a cut connection answered %q", got)
	}
	c2, r2 := dial(t, p)
	start := time.Now()
	if got, err := roundTrip(c2, r2, "x", 2*time.Second); err == nil {
		t.Fatalf("a new connection through a cut proxy answered %q", got)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("a cut proxy took %s to refuse: it should close at once", el)
	}
	p.Restore()
	c3, r3 := dial(t, p)
	if got, err := roundTrip(c3, r3, "three", 2*time.Second); err != nil || got != "three\n" {
		t.Fatalf("after restore: %q, %v", got, err)
	}
}
