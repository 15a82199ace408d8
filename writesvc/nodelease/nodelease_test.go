package nodelease

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// clock is a settable clock whose readings carry a monotonic component
// (time.Now plus an offset), like the real one.
type clock struct{ off atomic.Int64 } // nanoseconds advanced

func (c *clock) now() time.Time { return time.Now().Add(time.Duration(c.off.Load())) }

func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

func claim(t *testing.T, my *stacktest.MySQL, cfg Config, now func() time.Time) (*Lease, error) {
	t.Helper()
	if now == nil {
		now = time.Now
	}
	l, err := claimWithClock(context.Background(), my.DB, cfg, quiet(), prometheus.NewRegistry(), now)
	if err == nil {
		t.Cleanup(func() { l.Close() })
	}
	return l, err
}

// Instances sharing a database get distinct node numbers, their ids carry
// them, and when every number is leased a new instance is refused.
func TestDistinctNodesAndExhaustion(t *testing.T) {
	my := stacktest.NewMySQL(t)
	cfg := Config{TTL: time.Minute, MaxNode: 2}
	var leases []*Lease
	for range 3 {
		l, err := claim(t, my, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	seen := map[int]bool{}
	for _, l := range leases {
		if seen[l.Node()] {
			t.Fatalf("node %d leased twice", l.Node())
		}
		seen[l.Node()] = true
		id, err := l.NextID()
		if err != nil {
			t.Fatal(err)
		}
		if node := int(id>>comment.SeqBits) & comment.MaxNode; node != l.Node() {
			t.Errorf("id %d carries node %d, lease has %d", id, node, l.Node())
		}
	}
	if _, err := claim(t, my, cfg, nil); !errors.Is(err, ErrNoFreeNode) {
		t.Fatalf("fourth claim of 0..2: %v, want ErrNoFreeNode", err)
	}
	// Close releases: the number is free again at once.
	freed := leases[1].Node()
	if err := leases[1].Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := leases[1].NextID(); !errors.Is(err, ErrNotHeld) {
		t.Errorf("NextID after Close: %v", err)
	}
	l, err := claim(t, my, cfg, nil)
	if err != nil || l.Node() != freed {
		t.Fatalf("claim after release: node %v, %v; want %d", l, err, freed)
	}
}

// Concurrent claims never share a number.
func TestConcurrentClaims(t *testing.T) {
	my := stacktest.NewMySQL(t)
	var wg sync.WaitGroup
	nodes := make([]int, 8)
	errs := make([]error, 8)
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := claimWithClock(context.Background(), my.DB, Config{TTL: time.Minute}, quiet(), prometheus.NewRegistry(), time.Now)
			errs[i] = err
			if err == nil {
				nodes[i] = l.Node()
				t.Cleanup(func() { l.Close() })
			}
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if seen[n] {
			t.Errorf("node %d claimed twice: %v", n, nodes)
		}
		seen[n] = true
	}
}

// Minting stops the moment the lease can no longer be proven held, even
// with no renewal attempted — the local clock alone decides.
func TestMintingStopsWhenTheLeaseRunsOut(t *testing.T) {
	my := stacktest.NewMySQL(t)
	c := &clock{}
	l, err := claim(t, my, Config{TTL: 10 * time.Second}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.NextID(); err != nil {
		t.Fatal(err)
	}
	c.advance(7 * time.Second) // within 80% of the TTL
	if _, err := l.NextID(); err != nil {
		t.Fatalf("at 70%% of the TTL: %v", err)
	}
	c.advance(2 * time.Second) // past 80%
	if _, err := l.NextID(); !errors.Is(err, ErrNotHeld) {
		t.Fatalf("at 90%% of the TTL: %v, want ErrNotHeld", err)
	}
	if err := l.Check(context.Background()); err == nil {
		t.Error("readiness check passes without a lease")
	}
	// A successful renewal (the row is still ours) makes it valid again.
	if err := l.renew(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.NextID(); err != nil {
		t.Fatalf("after renewing: %v", err)
	}
}

// A lease taken over after it expired cannot be renewed by its old owner:
// the old owner stops minting with that node and claims another.
func TestTakenOverLeaseIsNotRenewed(t *testing.T) {
	my := stacktest.NewMySQL(t)
	a, err := claim(t, my, Config{TTL: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The lease expires in the database (as if a renewal was missed) and
	// another instance takes the number.
	if _, err := my.DB.Exec(`UPDATE node_leases SET expires_at = NOW(6) - INTERVAL 1 SECOND WHERE node = ?`, a.Node()); err != nil {
		t.Fatal(err)
	}
	b, err := claim(t, my, Config{TTL: time.Minute}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Node() != a.Node() {
		t.Fatalf("b claimed node %d, want the expired %d", b.Node(), a.Node())
	}
	old := a.Node()
	if err := a.renew(); err != nil {
		t.Fatal(err)
	}
	if a.Node() == old {
		t.Fatalf("a still mints with node %d, now b's", old)
	}
	idA, errA := a.NextID()
	idB, errB := b.NextID()
	if errA != nil || errB != nil || idA == idB {
		t.Errorf("ids %d (%v) and %d (%v)", idA, errA, idB, errB)
	}
}

// The renewal loop keeps the lease valid well past its TTL.
func TestRenewalsKeepTheLease(t *testing.T) {
	my := stacktest.NewMySQL(t)
	l, err := claim(t, my, Config{TTL: time.Second}, nil) // renewed every ~333ms, valid 800ms past each
	if err != nil {
		t.Fatal(err)
	}
	l.Start()
	deadline := time.Now().Add(2500 * time.Millisecond) // more than two TTLs
	for time.Now().Before(deadline) {
		if _, err := l.NextID(); err != nil {
			t.Fatalf("minting failed while renewals run: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
