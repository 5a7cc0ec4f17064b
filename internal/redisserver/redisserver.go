// Package redisserver runs private redis-server processes for tests that
// must stop, restart or freeze Redis: the shared Redis of the machine is
// never touched. Each server listens on a free port of 127.0.0.1, keeps
// nothing on disk (no RDB, no AOF: a restart loses every key, which is what
// the tests want to provoke) and is killed at the test's cleanup.
package redisserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one private redis-server (or sentinel) process.
type Server struct {
	tb   testing.TB
	port int
	dir  string
	args []string
	cmd  *exec.Cmd
}

// Binary is the redis-server path, or the test is skipped (failed when
// SPID_TEST_REQUIRE_BACKENDS is set) if there is none.
func Binary(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("SPID_TEST_REQUIRE_BACKENDS") != "" {
			tb.Fatal("redis-server not on PATH (SPID_TEST_REQUIRE_BACKENDS is set, so this must run)")
		}
		tb.Skip("redis-server not on PATH: skipping private-Redis tests")
	}
	return p
}

// FreePort returns a port nothing listens on at the moment.
func FreePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start runs a redis-server without persistence on a free port; extra are
// more configuration lines ("replicaof 127.0.0.1 6400").
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s := &Server{tb: tb, port: FreePort(tb), dir: tb.TempDir()}
	s.args = append([]string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"save \"\"",
		"appendonly no",
		"dir " + s.dir,
		"protected-mode no",
	}, extra...)
	s.run("redis.conf", false)
	return s
}

// StartSentinel runs a redis-server in sentinel mode on a free port,
// monitoring the primary at primaryAddr under masterName with a quorum of
// quorum and failover timings short enough for tests.
func StartSentinel(tb testing.TB, masterName, primaryAddr string, quorum int) *Server {
	tb.Helper()
	host, port, err := net.SplitHostPort(primaryAddr)
	if err != nil {
		tb.Fatal(err)
	}
	s := &Server{tb: tb, port: FreePort(tb), dir: tb.TempDir()}
	s.args = []string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"dir " + s.dir,
		"protected-mode no",
		fmt.Sprintf("sentinel monitor %s %s %s %d", masterName, host, port, quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s 1000", masterName),
		fmt.Sprintf("sentinel failover-timeout %s 5000", masterName),
		fmt.Sprintf("sentinel parallel-syncs %s 1", masterName),
	}
	s.run("sentinel.conf", true)
	return s
}

// run writes the configuration (a sentinel rewrites its own file, so it
// must be writable) and starts the process, waiting until it answers PING.
func (s *Server) run(name string, sentinel bool) {
	s.tb.Helper()
	conf := filepath.Join(s.dir, name)
	if err := os.WriteFile(conf, []byte(strings.Join(s.args, "\n")+"\n"), 0o600); err != nil {
		s.tb.Fatal(err)
	}
	args := []string{conf}
	if sentinel {
		args = append(args, "--sentinel")
	}
	cmd := exec.Command(Binary(s.tb), args...)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("redis-server: %v", err)
	}
	s.cmd = cmd
	s.tb.Cleanup(s.Kill)
	if err := s.waitPing(10 * time.Second); err != nil {
		s.tb.Fatalf("redis-server on port %d did not start: %v", s.port, err)
	}
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// Kill ends the process at once (SIGKILL) and waits for it; the port is
// free again afterwards. Killing a killed server does nothing.
func (s *Server) Kill() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen process must run to die cleanly
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server and starts it again on the same port with the
// same configuration: without persistence it comes back empty.
func (s *Server) Restart() {
	s.tb.Helper()
	s.Kill()
	sentinel := false
	for _, a := range s.args {
		if strings.HasPrefix(a, "sentinel monitor") {
			sentinel = true
		}
	}
	name := "redis.conf"
	if sentinel {
		name = "sentinel.conf"
	}
	s.run(name, sentinel)
}

// Freeze stops the process (SIGSTOP): connections stay open, nothing is
// answered, as with a host that hangs.
func (s *Server) Freeze() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGSTOP)
	}
}

// Thaw continues a frozen process (SIGCONT).
func (s *Server) Thaw() {
	if s.cmd != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// Do sends one command in the inline protocol and returns the first line of
// the reply (enough for PING, ROLE, INFO checks in tests).
func (s *Server) Do(ctx context.Context, args ...string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", s.Addr())
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n"), err
}

func (s *Server) waitPing(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var err error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		var got string
		got, err = s.Do(ctx, "PING")
		cancel()
		if err == nil && got == "+PONG" {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return err
}

// Group is a primary, one replica and three Sentinels (quorum 2) watching
// the primary under MasterName: the smallest set that fails over.
type Group struct {
	MasterName string
	Primary    *Server
	Replica    *Server
	Sentinels  []*Server
}

// StartGroup starts a Group and waits until every Sentinel knows the
// replica, so that killing the primary leads to a failover.
func StartGroup(tb testing.TB, masterName string) *Group {
	tb.Helper()
	g := &Group{MasterName: masterName, Primary: Start(tb)}
	_, port, _ := net.SplitHostPort(g.Primary.Addr())
	g.Replica = Start(tb, "replicaof 127.0.0.1 "+port)
	for range 3 {
		g.Sentinels = append(g.Sentinels, StartSentinel(tb, masterName, g.Primary.Addr(), 2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range g.Sentinels {
		if err := poll(ctx, func() bool {
			got, err := s.Do(ctx, "SENTINEL", "REPLICAS", masterName)
			return err == nil && got == "*1"
		}); err != nil {
			tb.Fatalf("Sentinel %s never saw the replica: %v", s.Addr(), err)
		}
	}
	return g
}

// SentinelAddrs are the Sentinels' host:port.
func (g *Group) SentinelAddrs() []string {
	var out []string
	for _, s := range g.Sentinels {
		out = append(out, s.Addr())
	}
	return out
}

// Sync waits until the replica has every write the primary acknowledged
// (WAIT), so a failover that follows loses nothing.
func (g *Group) Sync(tb testing.TB) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := poll(ctx, func() bool {
		got, err := g.Primary.Do(ctx, "WAIT", "1", "500")
		return err == nil && got == ":1"
	}); err != nil {
		tb.Fatalf("the replica did not acknowledge the primary's writes: %v", err)
	}
}

// poll runs cond every 100 ms until it holds or ctx ends.
func poll(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
