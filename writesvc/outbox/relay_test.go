package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

func quiet() *slog.Logger {
	if os.Getenv("VC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fakeProducer records what it is sent. With block set, SendMessages
// records the batch and then waits until Close.
type fakeProducer struct {
	block  bool
	fail   error
	mu     sync.Mutex
	sent   []*sarama.ProducerMessage
	closed chan struct{}
	once   sync.Once
}

func newFake() *fakeProducer { return &fakeProducer{closed: make(chan struct{})} }

func (f *fakeProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	f.mu.Lock()
	f.sent = append(f.sent, msgs...)
	f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	if f.block {
		<-f.closed
		return errors.New("producer closed during send")
	}
	return nil
}

func (f *fakeProducer) Close() error {
	f.once.Do(func() { close(f.closed) })
	return nil
}

func (f *fakeProducer) outboxIDs() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []int64
	for _, m := range f.sent {
		for _, h := range m.Headers {
			if string(h.Key) == HeaderOutboxID {
				id, _ := strconv.ParseInt(string(h.Value), 10, 64)
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// writeEvents commits n outbox rows, one transaction each, spread over
// three videos, and returns their outbox ids.
func writeEvents(t *testing.T, my *stacktest.MySQL, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := range n {
		tx, err := my.DB.Begin()
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		c := comment.Comment{ID: int64(1000 + i), VideoID: int64(1 + i%3), UserID: 5, Content: "x", Status: comment.Pending,
			CreatedAt: now, Version: comment.NextVersion(0, now)}
		id, err := Write(context.Background(), tx, comment.EventCreated, c)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func unsent(t *testing.T, my *stacktest.MySQL) int {
	t.Helper()
	var n int
	if err := my.DB.QueryRow(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func testConfig() Config {
	return Config{Topic: "t", Poll: 10 * time.Millisecond, LockRetry: 20 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
}

func newRelay(t *testing.T, my *stacktest.MySQL, pf ProducerFactory, cfg Config) (*Relay, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	r, err := NewRelay(my.DB, pf, cfg, quiet(), reg)
	if err != nil {
		t.Fatal(err)
	}
	return r, reg
}

func factory(p Producer) ProducerFactory { return func() (Producer, error) { return p, nil } }

// Two relays on one database: exactly one publishes, everything exactly
// once, in outbox id order; the backlog metric drains to zero.
func TestOneLeaderPublishesEverythingInOrder(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ids := writeEvents(t, my, 40)
	fa, fb := newFake(), newFake()
	a, regA := newRelay(t, my, factory(fa), testConfig())
	b, _ := newRelay(t, my, factory(fb), testConfig())
	if got := metricValue(t, regA, "writesvc_outbox_backlog"); got != 40 {
		t.Errorf("backlog %v before the relays start, want 40", got)
	}
	a.Start()
	b.Start()
	defer a.Close()
	defer b.Close()
	more := writeEvents(t, my, 10) // committed while they run, then Notify
	a.Notify()
	b.Notify()
	stacktest.Eventually(t, 30*time.Second, "the outbox to drain", func() bool { return unsent(t, my) == 0 })

	got := append(fa.outboxIDs(), fb.outboxIDs()...)
	want := append(ids, more...)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("published %v,\nwant %v (each once, in id order)", got, want)
	}
	if len(fa.outboxIDs()) > 0 && len(fb.outboxIDs()) > 0 {
		t.Errorf("both relays published (%d and %d): the lock did not hold", len(fa.outboxIDs()), len(fb.outboxIDs()))
	}
	if got := metricValue(t, regA, "writesvc_outbox_backlog"); got != 0 {
		t.Errorf("backlog %v after draining", got)
	}
	// The keys are the video ids, the values the events as written.
	fa.mu.Lock()
	fb.mu.Lock()
	for _, m := range append(fa.sent, fb.sent...) {
		v, _ := m.Value.Encode()
		e, err := comment.DecodeEvent(v)
		k, _ := m.Key.Encode()
		if err != nil || string(k) != string(e.Key()) {
			t.Errorf("message key %q event %+v: %v", k, e, err)
		}
	}
	fb.mu.Unlock()
	fa.mu.Unlock()
}

// A leader whose producer cannot be opened steps down, so another relay
// that can reach Kafka takes over and publishes everything.
func TestFailingLeaderStepsDown(t *testing.T) {
	my := stacktest.NewMySQL(t)
	writeEvents(t, my, 20)
	var attempts atomic.Int64
	broken := func() (Producer, error) {
		attempts.Add(1)
		return nil, errors.New("kafka: client has run out of available brokers")
	}
	cfg := testConfig()
	cfg.MaxBackoff = 200 * time.Millisecond
	a, regA := newRelay(t, my, broken, cfg)
	a.Start()
	defer a.Close()
	stacktest.Eventually(t, 30*time.Second, "the broken relay to try", func() bool { return attempts.Load() >= 2 })
	if n := unsent(t, my); n != 20 {
		t.Fatalf("%d unsent, want 20", n)
	}
	if v := metricValue(t, regA, "writesvc_outbox_oldest_unsent_age_seconds"); v <= 0 {
		t.Errorf("oldest unsent age %v, want > 0", v)
	}
	good := newFake()
	b, _ := newRelay(t, my, factory(good), testConfig())
	b.Start()
	defer b.Close()
	stacktest.Eventually(t, 30*time.Second, "the healthy relay to publish everything", func() bool { return unsent(t, my) == 0 })
	if n := len(good.outboxIDs()); n != 20 {
		t.Errorf("healthy relay published %d, want 20", n)
	}
}

// A relay that dies with a batch in flight — sent to its producer, never
// acknowledged — leaves the rows unsent; the next leader publishes them.
// Duplicates are allowed, loss is not.
func TestLeaderDiesWithABatchInFlight(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ids := writeEvents(t, my, 15)
	stuck := newFake()
	stuck.block = true
	a, _ := newRelay(t, my, factory(stuck), testConfig())
	a.Start()
	stacktest.Eventually(t, 30*time.Second, "the batch to reach the stuck producer", func() bool { return len(stuck.outboxIDs()) == 15 })
	if n := unsent(t, my); n != 15 {
		t.Fatalf("%d unsent while the send hangs, want 15", n)
	}
	if err := a.Close(); err != nil { // interrupts the send; nothing may be marked
		t.Fatal(err)
	}
	if n := unsent(t, my); n != 15 {
		t.Fatalf("%d unsent after the leader died, want 15", n)
	}
	next := newFake()
	b, _ := newRelay(t, my, factory(next), testConfig())
	b.Start()
	defer b.Close()
	stacktest.Eventually(t, 30*time.Second, "the next leader to publish", func() bool { return unsent(t, my) == 0 })
	if fmt.Sprint(next.outboxIDs()) != fmt.Sprint(ids) {
		t.Errorf("next leader published %v, want %v", next.outboxIDs(), ids)
	}
}

// A failed send is retried (after a backoff) with the same rows, in the
// same order; nothing is marked sent in between.
func TestFailedSendIsRetried(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ids := writeEvents(t, my, 5)
	var calls atomic.Int64
	flaky := newFake()
	pf := func() (Producer, error) {
		if calls.Add(1) == 1 {
			f := newFake()
			f.fail = errors.New("kafka: NOT_ENOUGH_REPLICAS")
			return f, nil
		}
		return flaky, nil
	}
	r, reg := newRelay(t, my, pf, testConfig())
	r.Start()
	defer r.Close()
	stacktest.Eventually(t, 30*time.Second, "the retry to publish", func() bool { return unsent(t, my) == 0 })
	if fmt.Sprint(flaky.outboxIDs()) != fmt.Sprint(ids) {
		t.Errorf("retry published %v, want %v", flaky.outboxIDs(), ids)
	}
	if v := metricValue(t, reg, `writesvc_outbox_failures_total`); v < 1 {
		t.Errorf("failures %v", v)
	}
}

// Sent rows older than the retention are pruned; younger ones stay.
func TestPruneDeletesOnlyOldSentRows(t *testing.T) {
	my := stacktest.NewMySQL(t)
	writeEvents(t, my, 6)
	if _, err := my.DB.Exec(`UPDATE outbox SET sent_at = IF(id % 2 = 0, NOW(6) - INTERVAL 2 DAY, NOW(6) - INTERVAL 1 HOUR)`); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Retention, cfg.PruneEvery = 24*time.Hour, time.Millisecond
	r, reg := newRelay(t, my, factory(newFake()), cfg)
	r.Start()
	defer r.Close()
	stacktest.Eventually(t, 30*time.Second, "pruning", func() bool {
		var n int
		_ = my.DB.QueryRow(`SELECT COUNT(*) FROM outbox`).Scan(&n)
		return n == 3
	})
	var odd int
	_ = my.DB.QueryRow(`SELECT COUNT(*) FROM outbox WHERE id % 2 = 1`).Scan(&odd)
	if odd != 3 {
		t.Errorf("%d recent rows left, want 3", odd)
	}
	if v := metricValue(t, reg, "writesvc_outbox_pruned_total"); v != 3 {
		t.Errorf("pruned_total %v, want 3", v)
	}
}

func TestLockName(t *testing.T) {
	if got := LockName("vidcomments"); got != "vidcomments.outbox.vidcomments" {
		t.Errorf("LockName = %q", got)
	}
	long := LockName(string(make([]byte, 64)))
	if len(long) > 64 {
		t.Errorf("LockName of a 64-byte name is %d bytes", len(long))
	}
}

// metricValue gathers reg and returns the sum of the named family's
// gauges or counters.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}
