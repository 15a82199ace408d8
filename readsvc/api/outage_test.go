package api_test

import (
	"net/url"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// fastFail is DESIGN.md's bound for refusing a request that needs a
// dependency that is down.
const fastFail = 50 * time.Millisecond

func frozenClock() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

// Redis down: pages come from groupcache, or from Cassandra under the
// concurrency cap; beyond the cap, 503 with Retry-After at once.
func TestRedisDown(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(12)
	proxy := st.RedisProxy()
	var gate *readtest.Gate
	r := st.NewReader(readtest.Config{
		Options: pages.Options{MaxInflight: 2, Now: frozenClock(), MaxAge: time.Hour},
		Redis:   st.RedisVia(proxy),
		Wrap:    func(s pages.Store) pages.Store { gate = readtest.NewGate(s); return gate },
	})
	readtest.WaitFor(t, 5*time.Second, "the inval subscription", func() bool {
		return readtest.Metric(t, r.Registry, "readsvc_inval_subscribed") == 1
	})
	proxy.Cut()

	t.Run("pages come from Cassandra, marked stale", func(t *testing.T) {
		resp := r.Get(t, readtest.PagePath(video, "limit=5"))
		if resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), ids[:5]) || resp.Page.Total != 12 || resp.Header.Get("X-Cache-Stale") != "1" {
			t.Fatalf("first page: %d %v total %d stale %q", resp.Code, resp.IDs(), resp.Page.Total, resp.Header.Get("X-Cache-Stale"))
		}
		next := r.Get(t, readtest.PagePath(video, "limit=5&cursor="+url.QueryEscape(*resp.Page.NextCursor)))
		if next.Code != 200 || !reflect.DeepEqual(next.IDs(), ids[5:10]) {
			t.Fatalf("second page: %d %v", next.Code, next.IDs())
		}
	})
	t.Run("and then from groupcache", func(t *testing.T) {
		before := readtest.Metric(t, r.Registry, "readsvc_cassandra_page_queries_total")
		for range 5 {
			if resp := r.Get(t, readtest.PagePath(video, "limit=5")); resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), ids[:5]) {
				t.Fatalf("repeat: %d %v", resp.Code, resp.IDs())
			}
		}
		if after := readtest.Metric(t, r.Registry, "readsvc_cassandra_page_queries_total"); after != before {
			t.Errorf("repeats went to Cassandra: %v page queries, then %v", before, after)
		}
		if readtest.Metric(t, r.Registry, "readsvc_dependency_down", "dependency", "redis") != 1 {
			t.Error("the Redis breaker is not open")
		}
	})
	t.Run("beyond the cap: 503 and Retry-After, at once", func(t *testing.T) {
		gate.Arm()
		var wg sync.WaitGroup
		held := make([]*readtest.Response, 2)
		for i := range held {
			wg.Add(1)
			go func() { defer wg.Done(); held[i] = r.Get(t, readtest.PagePath(video, "limit="+itoa(int64(10+i)))) }()
		}
		<-gate.Entered
		<-gate.Entered // both slots taken
		for i := range 5 {
			resp := r.Get(t, readtest.PagePath(video, "limit="+itoa(int64(20+i))))
			if resp.Code != 503 || resp.Header.Get("Retry-After") != "1" || resp.Elapsed > fastFail ||
				string(resp.Raw) != `{"error":{"code":"overloaded","message":"too many reads are waiting for storage; retry shortly"}}`+"\n" {
				t.Errorf("over the cap: %d Retry-After %q after %v: %s", resp.Code, resp.Header.Get("Retry-After"), resp.Elapsed, resp.Raw)
			}
		}
		gate.Release()
		wg.Wait()
		for i, resp := range held {
			if resp.Code != 200 || len(resp.IDs()) != min(10+i, 12) {
				t.Errorf("held request %d: %d %d ids", i, resp.Code, len(resp.IDs()))
			}
		}
	})
	t.Run("Redis back: fresh pages again", func(t *testing.T) {
		proxy.Restore()
		readtest.WaitFor(t, 10*time.Second, "a page that is not stale", func() bool {
			resp := r.Get(t, readtest.PagePath(video, "limit=4"))
			return resp.Code == 200 && resp.Header.Get("X-Cache-Stale") == "" && reflect.DeepEqual(resp.IDs(), ids[:4])
		})
	})
}

// Cassandra down: cached pages keep being served (a copy whose freshness
// cannot be confirmed marked stale); a miss is refused in under 50 ms.
func TestCassandraDown(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(30)
	proxy := st.CassandraProxy()
	r := st.NewReader(readtest.Config{
		Options: pages.Options{Window: 10, Now: frozenClock(), MaxAge: time.Hour},
		Session: st.CassandraVia(proxy),
	})
	first := r.Get(t, readtest.PagePath(video, "limit=5"))
	second := r.Get(t, readtest.PagePath(video, "limit=5&cursor="+url.QueryEscape(*first.Page.NextCursor)))
	deepPath := readtest.PagePath(video, "limit=5&cursor="+url.QueryEscape(*second.Page.NextCursor))
	deep := r.Get(t, deepPath) // past the window of 10: from Cassandra
	if first.Code != 200 || second.Code != 200 || deep.Code != 200 || !reflect.DeepEqual(deep.IDs(), ids[10:15]) {
		t.Fatalf("warm-up: %d %d %d %v", first.Code, second.Code, deep.Code, deep.IDs())
	}
	commentPath := "/v1/comments/" + itoa(ids[0])
	if resp := r.Get(t, commentPath); resp.Code != 200 {
		t.Fatalf("comment: %d", resp.Code)
	}

	proxy.Cut()

	t.Run("cached pages are served fresh", func(t *testing.T) {
		for _, q := range []string{"limit=5", "limit=3"} { // a groupcache hit, then a Redis window hit
			resp := r.Get(t, readtest.PagePath(video, q))
			if resp.Code != 200 || resp.Header.Get("X-Cache-Stale") != "" || resp.IDs()[0] != ids[0] {
				t.Errorf("%s: %d stale %q", q, resp.Code, resp.Header.Get("X-Cache-Stale"))
			}
		}
	})
	t.Run("after an invalidation, last good copies are served marked stale", func(t *testing.T) {
		if _, err := st.Cache.Invalidate(t.Context(), video); err != nil { // the syncer settling a change cdc missed
			t.Fatal(err)
		}
		readtest.WaitFor(t, 5*time.Second, "the first page to be served stale", func() bool {
			return r.Get(t, readtest.PagePath(video, "limit=5")).Header.Get("X-Cache-Stale") == "1"
		})
		for _, path := range []string{readtest.PagePath(video, "limit=5"), deepPath} {
			resp := r.Get(t, path)
			if resp.Code != 200 || resp.Header.Get("X-Cache-Stale") != "1" || len(resp.IDs()) != 5 {
				t.Errorf("%s: %d stale %q %v", path, resp.Code, resp.Header.Get("X-Cache-Stale"), resp.IDs())
			}
		}
	})
	t.Run("misses are refused in under 50 ms", func(t *testing.T) {
		paths := []string{"/v1/comments/" + itoa(ids[1])}
		for limit := 11; limit <= 20; limit++ {
			paths = append(paths, readtest.PagePath(video, "limit="+itoa(int64(limit))))
		}
		for _, path := range paths {
			resp := r.Get(t, path)
			if resp.Code != 503 || resp.Header.Get("Retry-After") != "1" || resp.Elapsed > fastFail {
				t.Errorf("%s: %d Retry-After %q after %v: %s", path, resp.Code, resp.Header.Get("Retry-After"), resp.Elapsed, resp.Raw)
			}
		}
		if readtest.Metric(t, r.Registry, "readsvc_dependency_down", "dependency", "cassandra") != 1 {
			t.Error("the Cassandra breaker is not open")
		}
	})
	t.Run("Cassandra back: fresh pages again", func(t *testing.T) {
		proxy.Restore()
		readtest.WaitFor(t, 20*time.Second, "a fresh first page", func() bool {
			resp := r.Get(t, readtest.PagePath(video, "limit=5"))
			return resp.Code == 200 && resp.Header.Get("X-Cache-Stale") == ""
		})
		if resp := r.Get(t, readtest.PagePath(video, "limit=11")); resp.Code != 200 || len(resp.IDs()) != 11 {
			t.Errorf("a former miss: %d %d ids", resp.Code, len(resp.IDs()))
		}
	})
}
