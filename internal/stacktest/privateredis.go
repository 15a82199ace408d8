package stacktest

import (
	"context"
	"net"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
)

// PrivateRedis is a redis-server of one test's own, without persistence:
// for tests that scan or invalidate every cached video, flush Redis or
// restart it empty, which must not touch the videos of the tests sharing
// the stack's Redis.
type PrivateRedis struct {
	Addr   string
	Client redis.UniversalClient // closed when the test ends

	t    testing.TB
	path string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
}

// NewPrivateRedis starts a redis-server on a free port, stopped when the
// test ends.
func NewPrivateRedis(t testing.TB) *PrivateRedis {
	t.Helper()
	Integration(t)
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): %s", err, StartHint)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &PrivateRedis{Addr: ln.Addr().String(), t: t, path: path, dir: t.TempDir()}
	ln.Close()
	r.start()
	t.Cleanup(r.kill)
	r.Client = redisstore.New(config.Redis{Addrs: []string{r.Addr}})
	t.Cleanup(func() { r.Client.Close() })
	r.waitReady()
	return r
}

// Restart kills the server (SIGKILL) and starts it again on the same port,
// empty: a Redis restarted without persistence.
func (r *PrivateRedis) Restart() {
	r.t.Helper()
	r.kill()
	r.start()
	r.waitReady()
}

func (r *PrivateRedis) start() {
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command(r.path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.mu.Lock()
	r.cmd = cmd
	r.mu.Unlock()
}

func (r *PrivateRedis) kill() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

func (r *PrivateRedis) waitReady() {
	r.t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("private redis-server on %s does not answer: %v", r.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
