package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest/tcpproxy"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/writesvc/outbox"
)

// Kafka down: posts and moderation are still accepted (into MySQL and the
// outbox), the backlog shows in the metrics, and once an instance that can
// reach Kafka runs, every accepted version is on the topic — counted
// against the outbox — in per-partition outbox order.
func TestKafkaDownThenBack(t *testing.T) {
	st, down := startOnStack(t, func(c *Config) {
		c.Kafka.Brokers = []string{closedPort(t)}
		c.OutboxMaxBackoff = time.Second
	})
	topic := readTopic(t, st.kafka)

	var ids []int64
	for i := range 30 {
		ids = append(ids, down.mustPost(t, int64(100+i%4), int64(500+i%3), fmt.Sprintf("while kafka is down %d", i)))
	}
	for i, id := range ids[:20] {
		action, body := "approve", any(nil)
		switch {
		case i >= 15:
			action = "delete"
		case i >= 10:
			action, body = "reject", map[string]string{"reason": "no"}
		}
		if r := down.moderate(t, id, action, body); r.code != http.StatusOK {
			t.Fatalf("%s while kafka is down: %s", action, r)
		}
	}
	const accepted = 30 + 20
	waitFor(t, 20*time.Second, "the relay to fail on Kafka", func() bool {
		v, _ := down.metric(t, `writesvc_outbox_failures_total{stage="producer"}`)
		return v > 0
	})
	if n := st.count(t, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`); n != accepted {
		t.Fatalf("%d unsent outbox rows, want %d", n, accepted)
	}
	if v, ok := down.metric(t, "writesvc_outbox_backlog"); !ok || v != accepted {
		t.Errorf("writesvc_outbox_backlog = %v (%v), want %d", v, ok, accepted)
	}
	if v, ok := down.metric(t, "writesvc_outbox_oldest_unsent_age_seconds"); !ok || v <= 0 {
		t.Errorf("writesvc_outbox_oldest_unsent_age_seconds = %v (%v), want > 0", v, ok)
	}
	if msgs, _ := topic.snapshot(); len(msgs) != 0 {
		t.Fatalf("%d messages reached Kafka while it was unreachable", len(msgs))
	}

	// Kafka is back for a new instance; the old one keeps taking posts.
	up := start(t, st.config(t), overrides{})
	_ = up
	for i := range 5 {
		down.mustPost(t, 100, 500, fmt.Sprintf("after kafka returned %d", i))
	}
	want := st.outboxVersions(t)
	if len(want) != accepted+5 {
		t.Fatalf("outbox holds %d versions, want %d", len(want), accepted+5)
	}
	msgs := topic.waitVersions(t, want, 60*time.Second)
	t.Logf("%d accepted versions, %d messages on the topic", len(want), len(msgs))
	waitFor(t, 10*time.Second, "the outbox to drain", func() bool {
		return st.count(t, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) == 0
	})
	if v, _ := down.metric(t, "writesvc_outbox_backlog"); v != 0 {
		t.Errorf("backlog %v after delivery", v)
	}
	// One publisher published all of it: within each partition the outbox
	// ids are strictly increasing.
	sort.Slice(msgs, func(i, j int) bool {
		return msgs[i].partition < msgs[j].partition || msgs[i].partition == msgs[j].partition && msgs[i].offset < msgs[j].offset
	})
	last := map[int32]int64{}
	for _, m := range msgs {
		if m.outboxID <= last[m.partition] {
			t.Errorf("partition %d: outbox id %d after %d", m.partition, m.outboxID, last[m.partition])
		}
		last[m.partition] = m.outboxID
	}
}

// writesvc killed (SIGKILL) after commits whose publish is in flight: a
// broker that accepts the connection and never answers holds the relay
// inside its Kafka handshake. A fresh instance's relay publishes every
// accepted version after the kill.
func TestKilledBetweenCommitAndPublish(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	topic := readTopic(t, st.kafka)
	hole := newBlackhole(t)
	p := startProcess(t, st.config(t, func(c *Config) { c.Kafka.Brokers = []string{hole.addr()} }))

	var ids []int64
	for i := range 20 {
		ids = append(ids, p.mustPost(t, 7, 600+int64(i%2), fmt.Sprintf("doomed %d", i)))
	}
	for _, id := range ids[:5] {
		if r := p.moderate(t, id, "approve", nil); r.code != http.StatusOK {
			t.Fatal(r)
		}
	}
	const accepted = 25
	waitFor(t, 20*time.Second, "the relay to start publishing to the broker", func() bool { return hole.accepted.Load() > 0 })
	var holder any
	if err := st.my.DB.QueryRow(`SELECT IS_USED_LOCK(?)`, outbox.LockName(st.my.Name)).Scan(&holder); err != nil || holder == nil {
		t.Fatalf("the process does not hold the outbox lock (%v, %v)", holder, err)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`); n != accepted {
		t.Fatalf("%d unsent rows before the kill, want %d", n, accepted)
	}

	p.kill(t)

	start(t, st.config(t), overrides{})
	want := st.outboxVersions(t)
	if len(want) != accepted {
		t.Fatalf("outbox holds %d versions, want %d", len(want), accepted)
	}
	msgs := topic.waitVersions(t, want, 60*time.Second)
	t.Logf("%d versions accepted before the kill, %d messages on the topic after it", accepted, len(msgs))
	waitFor(t, 10*time.Second, "the outbox to drain", func() bool {
		return st.count(t, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) == 0
	})
}

// The per-user limit holds across two writesvc processes sharing Redis:
// 5 posts a minute means 5 accepted in all, whichever process took them.
func TestRateLimitAcrossProcesses(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	cfg := st.config(t, func(c *Config) { c.RateLimit, c.RateLimitBurst = 5, 5 })
	procs := []*process{startProcess(t, cfg), startProcess(t, cfg)}
	const user = 41
	acceptedBy := map[int]int{}
	limitedBy := map[int]int{}
	for i := range 12 {
		r := procs[i%2].post(t, user, 700, map[string]string{"content": fmt.Sprintf("post %d", i)})
		switch r.code {
		case http.StatusAccepted:
			acceptedBy[i%2]++
		case http.StatusTooManyRequests:
			limitedBy[i%2]++
			if r.errorCode() != "rate_limited" {
				t.Errorf("429 with code %q", r.errorCode())
			}
			if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
				t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
			}
		default:
			t.Fatalf("post %d: %s", i, r)
		}
	}
	if got := acceptedBy[0] + acceptedBy[1]; got != 5 {
		t.Errorf("%d posts accepted across both processes (%v), want 5", got, acceptedBy)
	}
	if limitedBy[0] == 0 || limitedBy[1] == 0 {
		t.Errorf("each process must have refused posts: %v", limitedBy)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE user_id = ?`, user); n != 5 {
		t.Errorf("%d comments stored, want 5", n)
	}
	if r := procs[1].post(t, user+1, 700, map[string]string{"content": "another user"}); r.code != http.StatusAccepted {
		t.Errorf("another user is limited too: %s", r)
	}
}

// With Redis unreachable, the limiter fails open (posts accepted, counted)
// or closed (503, nothing written, not ready), as configured.
func TestRateLimitWithRedisDown(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	dead := closedPort(t)
	for _, failOpen := range []bool{true, false} {
		t.Run(fmt.Sprintf("fail open %v", failOpen), func(t *testing.T) {
			in := start(t, st.config(t, func(c *Config) {
				c.Redis.Addrs = []string{dead}
				c.RateLimitFailOpen = failOpen
			}), overrides{})
			before := st.count(t, `SELECT COUNT(*) FROM comments`)
			r := in.post(t, 51, 800, map[string]string{"content": "redis is down"})
			after := st.count(t, `SELECT COUNT(*) FROM comments`)
			resp, err := in.client.Get(in.admin + "/readyz")
			if err != nil {
				t.Fatal(err)
			}
			ready, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if failOpen {
				if r.code != http.StatusAccepted || after != before+1 {
					t.Errorf("fail open: %s, %d comments written", r, after-before)
				}
				if v, _ := in.metric(t, `writesvc_rate_limit_decisions_total{result="failed_open"}`); v != 1 {
					t.Errorf("failed_open counted %v times", v)
				}
				if resp.StatusCode != http.StatusOK {
					t.Errorf("readyz %d %s: Redis is not needed when failing open", resp.StatusCode, ready)
				}
				return
			}
			if r.code != http.StatusServiceUnavailable || r.errorCode() != "unavailable" || r.header.Get("Retry-After") == "" || after != before {
				t.Errorf("fail closed: %s, %d comments written", r, after-before)
			}
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(ready), `"redis"`) {
				t.Errorf("readyz %d %s: want 503 naming redis", resp.StatusCode, ready)
			}
		})
	}
}

// blackhole is a TCP server that accepts connections, reads whatever comes
// and never answers.
type blackhole struct {
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newBlackhole(t *testing.T) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b.accepted.Add(1)
			b.mu.Lock()
			b.conns = append(b.conns, c)
			b.mu.Unlock()
			b.wg.Add(1)
			go func() {
				defer b.wg.Done()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		b.mu.Lock()
		for _, c := range b.conns {
			c.Close()
		}
		b.mu.Unlock()
		b.wg.Wait()
	})
	return b
}

func (b *blackhole) addr() string { return b.ln.Addr().String() }

// MySQL unreachable: posts and moderation answer 503 with Retry-After —
// never a 500, never a half-written row — and writesvc recovers by itself
// when MySQL is back.
func TestMySQLDown(t *testing.T) {
	t.Parallel()
	st := newStack(t)
	mc, err := mysqlstore.Config(st.my.Config.DSN)
	if err != nil {
		t.Fatal(err)
	}
	px := tcpproxy.Start(t, mc.Addr)
	mc.Addr = px.Addr()
	cfg := st.config(t)
	cfg.MySQL.DSN = mc.FormatDSN()
	in := start(t, cfg, overrides{})
	id := in.mustPost(t, 61, 900, "before the outage")
	before := st.count(t, `SELECT COUNT(*) FROM outbox`)

	px.Cut()
	for _, r := range []response{
		in.post(t, 61, 900, map[string]string{"content": "during the outage"}),
		in.moderate(t, id, "approve", nil),
		in.do(t, req{method: "GET", path: "/v1/mod/queue", token: token(t, 9000, "moderator")}),
	} {
		if r.code != http.StatusServiceUnavailable || r.errorCode() != "unavailable" || r.header.Get("Retry-After") == "" {
			t.Errorf("with MySQL down: %s, want 503 unavailable with Retry-After", r)
		}
	}
	px.Restore()
	waitFor(t, 20*time.Second, "posts to work again", func() bool {
		return in.post(t, 61, 900, map[string]string{"content": "after the outage"}).code == http.StatusAccepted
	})
	if r := in.moderate(t, id, "approve", nil); r.code != http.StatusOK {
		t.Errorf("moderation after the outage: %s", r)
	}
	// Exactly the one post and the one approval that succeeded were written.
	if n := st.count(t, `SELECT COUNT(*) FROM outbox`); n != before+2 {
		t.Errorf("%d outbox rows written around the outage, want 2", n-before)
	}
	if n := st.count(t, `SELECT COUNT(*) FROM comments WHERE content = ?`, "during the outage"); n != 0 {
		t.Errorf("the post refused with 503 left %d comment rows", n)
	}
}
