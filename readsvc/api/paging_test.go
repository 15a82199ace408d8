package api_test

import (
	"cmp"
	"net/url"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// Pages through the window and past it: every comment once, in order, with
// the tiers counted.
func TestPagesThroughWindowAndBeyond(t *testing.T) {
	_, r, video, ids := readtest.Seeded(t, 30, readtest.Config{Options: pages.Options{Window: 10}})

	var got []int64
	query := "limit=7"
	for i := 0; ; i++ {
		resp := r.Get(t, readtest.PagePath(video, query))
		if resp.Code != 200 {
			t.Fatalf("page %d: %d %s", i, resp.Code, resp.Raw)
		}
		if resp.Page.Total != 30 {
			t.Errorf("page %d: total %d", i, resp.Page.Total)
		}
		got = append(got, resp.IDs()...)
		if resp.Page.NextCursor == nil {
			break
		}
		query = "limit=7&cursor=" + url.QueryEscape(*resp.Page.NextCursor)
	}
	if !reflect.DeepEqual(got, ids) {
		t.Errorf("paged ids\n got %v\nwant %v", got, ids)
	}
	t.Logf("loads: redis %v backfill %v cassandra %v direct %v; page queries %v",
		readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "redis"),
		readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "backfill"),
		readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "cassandra"),
		readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "direct"),
		readtest.Metric(t, r.Registry, "readsvc_cassandra_page_queries_total"))
}

// Cursor paging while comments keep arriving (cdc edits the window, trimming
// it from the bottom, then the syncer writes Cassandra and settles): 20
// pages across the window's moving lower edge and beyond it, no duplicate,
// no gap.
func TestCursorPagingWhileCommentsArrive(t *testing.T) {
	st, r, video, seeded := readtest.Seeded(t, 250, readtest.Config{Options: pages.Options{Window: 100}})

	gen, err := comment.NewIDGenerator(1, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		inserted []int64
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			id, err := gen.Next()
			if err != nil {
				t.Error(err)
				return
			}
			c := cqlseed.Comment(video, id)
			st.Record(c, false) // cdc first: the window grows, its oldest id is trimmed
			st.Put(c)           // then the syncer
			mu.Lock()
			inserted = append(inserted, id)
			mu.Unlock()
		}
	}()

	var got []int64
	query := "limit=10"
	for page := 0; page < 20; page++ {
		resp := r.Get(t, readtest.PagePath(video, query))
		if resp.Code != 200 || len(resp.IDs()) != 10 || resp.Page.NextCursor == nil {
			close(stop)
			<-done
			t.Fatalf("page %d: %d %d ids %s", page, resp.Code, len(resp.IDs()), resp.Raw)
		}
		got = append(got, resp.IDs()...)
		query = "limit=10&cursor=" + url.QueryEscape(*resp.Page.NextCursor)
		// Let a few comments arrive between pages.
		mu.Lock()
		n := len(inserted)
		mu.Unlock()
		readtest.WaitFor(t, 10*time.Second, "more comments to arrive", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(inserted) >= n+2
		})
	}
	close(stop)
	<-done

	for i := 1; i < len(got); i++ {
		if got[i] >= got[i-1] {
			t.Fatalf("ids not strictly decreasing at %d: %d then %d", i, got[i-1], got[i])
		}
	}
	// Everything that existed at or below the first id read, newest first.
	all := append(append([]int64(nil), seeded...), inserted...)
	slices.SortFunc(all, func(a, b int64) int { return cmp.Compare(b, a) })
	i := slices.Index(all, got[0])
	if i < 0 {
		t.Fatalf("first id %d unknown", got[0])
	}
	want := all[i : i+len(got)]
	if !slices.Equal(got, want) {
		t.Errorf("paged ids differ from the comments that existed:\n got %v\nwant %v", got, want)
	}
	t.Logf("200 ids over 20 pages while %d comments arrived; loads: redis %v, past the window %v",
		len(inserted), readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "redis"),
		readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "cassandra"))
	if readtest.Metric(t, r.Registry, "readsvc_page_loads_total", "source", "cassandra") == 0 {
		t.Error("no page was read past the window: the test did not cross it")
	}
}
