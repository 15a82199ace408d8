package api_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// Every shared response names what it shows in Surrogate-Key, and tells
// shared caches their s-maxage.
func TestResponsesCarryTagsForSharedCaches(t *testing.T) {
	_, r, video, ids := readtest.Seeded(t, 3, readtest.Config{SharedMaxAge: 30 * time.Second})
	id := strconv.FormatInt(ids[1], 10)
	for _, c := range []struct{ path, tag string }{
		{readtest.PagePath(video, "limit=2"), cdn.VideoTag(video)},
		{readtest.PagePath(video, "sort=hot"), cdn.VideoTag(video)},
		{"/v1/comments/" + id, cdn.CommentTag(ids[1])},
		{"/v1/comments/" + id + "/replies", cdn.CommentTag(ids[1])},
	} {
		resp := r.Get(t, c.path)
		if resp.Code != 200 {
			t.Fatalf("GET %s: %d %s", c.path, resp.Code, resp.Raw)
		}
		if got := resp.Header.Get(cdn.KeyHeader); got != c.tag {
			t.Errorf("GET %s: Surrogate-Key %q, want %q", c.path, got, c.tag)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=1, s-maxage=30" {
			t.Errorf("GET %s: Cache-Control %q", c.path, cc)
		}
	}
}

// Varnish in front of readsvc: a removal recorded in Redis and purged by
// tag, as cdc does, is gone from Varnish at once — p99 over 100 trials
// within 300 ms — and the page is shared again right after.
func TestVarnishDropsARemovedCommentAtOnce(t *testing.T) {
	const trials = 100
	st, r, video, ids := readtest.Seeded(t, trials+25, readtest.Config{SharedMaxAge: time.Minute})
	v, err := cdn.Start(context.Background(), t.TempDir(), "127.0.0.1:0", strings.TrimPrefix(r.Server.URL, "http://"), 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	purger, err := cdn.NewPurger(cdn.PurgerConfig{URLs: []string{v.URL()}, Repeat: pages.DefaultMaxAge})
	if err != nil {
		t.Fatal(err)
	}
	defer purger.Close()

	path := readtest.PagePath(video, "limit=20")
	took := make([]time.Duration, 0, trials)
	for i := range trials {
		top := ids[i]
		readtest.WaitFor(t, 5*time.Second, "Varnish to share page one", func() bool {
			resp := readtest.GetFrom(t, v.URL(), path)
			return resp.Code == 200 && resp.Header.Get("X-Cache") == "HIT" && resp.IDs()[0] == top
		})
		removed := cqlseed.Comment(video, top)
		removed.Status, removed.Version = comment.Rejected, comment.NextVersion(removed.Version, time.Now())
		st.Record(removed, true)
		purger.Purge(cdn.ChangeTags(pagecache.Change{VideoID: video, ID: top})...)
		took = append(took, stacktest.Latency(t, 3*time.Second, fmt.Sprintf("trial %d: removed comment %d gone from Varnish", i, top), func() bool {
			resp := readtest.GetFrom(t, v.URL(), path)
			return resp.Code == 200 && !slices.Contains(resp.IDs(), top)
		}))
	}
	p50, p99, most := stacktest.Quantiles(took)
	t.Logf("removal gone from Varnish over %d trials: p50 %v, p99 %v, max %v", trials, p50, p99, most)
	if p99 > 300*time.Millisecond {
		t.Errorf("p99 %v, want at most 300ms", p99)
	}
}

// A fetch Varnish marks as one it will share asks Redis for the video's
// version, never the local map; a reader's request takes it from the map.
func TestSharedFetchesConfirmTheVersion(t *testing.T) {
	_, r, video, _ := readtest.Seeded(t, 3, readtest.Config{})
	path := readtest.PagePath(video, "limit=2")
	r.Get(t, path) // the video's version is in the local map now
	lookups := func(source string) float64 {
		return readtest.Metric(t, r.Registry, "readsvc_version_lookups_total", "source", source)
	}
	fromMap := lookups("map")
	for range 3 {
		r.Get(t, path)
	}
	if n := lookups("map") - fromMap; n < 1 {
		t.Errorf("readers' requests took the version from the local map %v times, want some", n)
	}
	fromMap, fromRedis := lookups("map"), lookups("redis")
	for range 3 {
		if resp := r.Get(t, path, cdn.FetchHeader, "1"); resp.Code != 200 {
			t.Fatalf("shared fetch: %d %s", resp.Code, resp.Raw)
		}
	}
	if n := lookups("redis") - fromRedis; n != 3 {
		t.Errorf("Varnish's fetches asked Redis %v times for the version, want 3", n)
	}
	if n := lookups("map") - fromMap; n != 0 {
		t.Errorf("Varnish's fetches took the version from the local map %v times, want 0", n)
	}
}
