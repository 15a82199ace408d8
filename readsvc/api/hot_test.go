package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// seedHot writes n roots of a new video with random like counts (many
// ties) and returns the video and the ids in hot order.
func seedHot(t *testing.T, st *readtest.Stack, n int, maxLikes int64) (int64, []int64, map[int64]int64) {
	t.Helper()
	video, ids := st.SeedVideo(n)
	ctx := context.Background()
	likes := map[int64]int64{}
	for i, id := range ids {
		likes[id] = rand.Int64N(maxLikes)
		if err := st.Seed.PutLikes(ctx, video, id, -1, likes[id], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return video, hotOrder(ids, likes), likes
}

func hotOrder(ids []int64, likes map[int64]int64) []int64 {
	out := slices.Clone(ids)
	slices.SortFunc(out, func(a, b int64) int {
		if likes[a] != likes[b] {
			if likes[a] > likes[b] {
				return -1
			}
			return 1
		}
		if a > b {
			return -1
		}
		return 1
	})
	return out
}

// walk pages through a video's comments and returns every id served.
func walk(t *testing.T, r *readtest.Reader, video int64, query string, limit int, header ...string) []int64 {
	t.Helper()
	var all []int64
	cur := ""
	for pages := 0; pages < 1000; pages++ {
		q := fmt.Sprintf("%s&limit=%d", query, limit)
		if cur != "" {
			q += "&cursor=" + url.QueryEscape(cur)
		}
		resp := r.Get(t, readtest.PagePath(video, q), header...)
		if resp.Code != 200 {
			t.Fatalf("page %d: %d %s", pages, resp.Code, resp.Raw)
		}
		all = append(all, resp.IDs()...)
		if resp.Page.NextCursor == nil {
			return all
		}
		cur = *resp.Page.NextCursor
	}
	t.Fatal("paging does not end")
	return nil
}

func TestHotOrderAndPaging(t *testing.T) {
	st := readtest.NewStack(t)
	video, want, _ := seedHot(t, st, 60, 15)
	tests := []struct {
		name      string
		hotWindow int
	}{
		{"whole video in the hot window", 200},
		{"past the window from the hot index", 13},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := st.NewReader(readtest.Config{Options: pages.Options{HotWindow: tt.hotWindow}})
			if _, err := st.Cache.Invalidate(context.Background(), video); err != nil {
				t.Fatal(err)
			}
			for _, limit := range []int{7, 50} {
				if got := walk(t, r, video, "sort=hot", limit); !reflect.DeepEqual(got, want) {
					t.Errorf("limit %d: hot order\n got %v\nwant %v", limit, got, want)
				}
			}
		})
	}
}

func TestHotPagingWhileLikesChange(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids, likes := seedHot(t, st, 80, 10)
	r := st.NewReader(readtest.Config{Options: pages.Options{HotWindow: 200}})
	ctx := context.Background()
	// Warm the hot window, then let likes change under the reader.
	if resp := r.Get(t, readtest.PagePath(video, "sort=hot")); resp.Code != 200 {
		t.Fatalf("%d %s", resp.Code, resp.Raw)
	}
	stop := make(chan struct{})
	var applied atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		off := int64(1000)
		for {
			select {
			case <-stop:
				return
			default:
			}
			batch := make([]pagecache.LikeCount, 5)
			for i := range batch {
				off++
				id := ids[rand.IntN(len(ids))]
				batch[i] = pagecache.LikeCount{ID: id, Offset: off, Count: likes[id] + rand.Int64N(100)}
			}
			if err := st.Cache.ApplyLikes(ctx, video, batch); err != nil {
				t.Error(err)
				return
			}
			applied.Add(1)
			time.Sleep(time.Millisecond) // pace the writer; the reader waits on nothing
		}
	}()
	for round := 0; round < 4; round++ {
		got := walk(t, r, video, "sort=hot", 6)
		seen := map[int64]int{}
		for _, id := range got {
			seen[id]++
		}
		for id, n := range seen {
			if n > 1 {
				t.Errorf("round %d: comment %d served %d times", round, id, n)
			}
		}
		if len(seen) != len(ids) {
			t.Errorf("round %d: %d distinct comments served, want %d", round, len(seen), len(ids))
		}
	}
	close(stop)
	wg.Wait()
	if applied.Load() == 0 {
		t.Fatal("no like changes were applied while paging")
	}
}

// queryCounter counts the queries and rows of one table.
type queryCounter struct {
	table         string
	queries, rows atomic.Int64
}

func (q *queryCounter) ObserveQuery(_ context.Context, o gocql.ObservedQuery) {
	if strings.Contains(o.Statement, " FROM "+q.table+" ") {
		q.queries.Add(1)
		q.rows.Add(int64(o.Rows))
	}
}

func TestHotBackfillReadsOWindowRows(t *testing.T) {
	st := readtest.NewStack(t)
	ctx := context.Background()
	// 30 visible roots at the top (band 13) above 1,500 hot-index rows in
	// eleven lower bands: a scan would read them all.
	video, ids := st.SeedVideo(30)
	likes := map[int64]int64{}
	for i, id := range ids {
		likes[id] = 5000 + int64(i%7)
		if err := st.Seed.PutLikes(ctx, video, id, -1, likes[id], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < 1500; i += 8 {
				if err := st.Seed.PutLikes(ctx, video, 1_000_000+int64(i), -1, int64(i), 100+int64(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	counter := &queryCounter{table: "hot_by_video"}
	cl, err := cassandrastore.Cluster(st.Cass.Config, st.Cass.Config.Keyspace)
	if err != nil {
		t.Fatal(err)
	}
	cl.QueryObserver = counter
	sess, err := cl.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	const window = 20
	r := st.NewReader(readtest.Config{Session: sess, Options: pages.Options{HotWindow: window, CacheBytes: -1}})
	resp := r.Get(t, readtest.PagePath(video, "sort=hot&limit=10"))
	if want := hotOrder(ids, likes)[:10]; resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), want) {
		t.Fatalf("page one %d %v, want %v", resp.Code, resp.IDs(), want)
	}
	if got := readtest.Metric(t, r.Registry, "readsvc_fills_total", "result", "written"); got != 1 {
		t.Errorf("fills written = %v, want 1", got)
	}
	q, rows := counter.queries.Load(), counter.rows.Load()
	t.Logf("backfill of a %d-row hot window: %d hot_by_video queries, %d rows (index holds 1,530)", window, q, rows)
	if rows > 2*(window+1) || q > 4 {
		t.Errorf("backfill read %d rows in %d queries of hot_by_video: not O(window)", rows, q)
	}
}

func TestRepliesPagingAndModeration(t *testing.T) {
	st := readtest.NewStack(t)
	ctx := context.Background()
	video := readtest.Video()
	root := rootAt(video, 1)
	root.ReplyCount = 25
	st.Put(root)
	var replies []int64
	for i := 0; i < 25; i++ {
		c := rootAt(video, root.ID+int64(i+1)*1000)
		c.ParentID = root.ID
		if err := st.Seed.PutReply(ctx, c); err != nil {
			t.Fatal(err)
		}
		replies = append([]int64{c.ID}, replies...) // newest first
	}
	r := st.NewReader(readtest.Config{})
	walkReplies := func() ([]int64, int64) {
		var all []int64
		var total int64
		cur := ""
		for {
			path := fmt.Sprintf("/v1/comments/%d/replies?limit=10", root.ID)
			if cur != "" {
				path += "&cursor=" + url.QueryEscape(cur)
			}
			resp := r.Get(t, path)
			if resp.Code != 200 {
				t.Fatalf("%s: %d %s", path, resp.Code, resp.Raw)
			}
			all, total = append(all, resp.IDs()...), resp.Page.Total
			if resp.Page.NextCursor == nil {
				return all, total
			}
			cur = *resp.Page.NextCursor
		}
	}
	if got, total := walkReplies(); !reflect.DeepEqual(got, replies) || total != 25 {
		t.Fatalf("replies %v total %d\nwant %v", got, total, replies)
	}
	// The replies are not in the video's pages.
	if resp := r.Get(t, readtest.PagePath(video, "")); !reflect.DeepEqual(resp.IDs(), []int64{root.ID}) {
		t.Errorf("video page %v, want only the root", resp.IDs())
	}
	// cdc sees the newest reply rejected: gone at once, Cassandra lagging.
	gone := replies[0]
	if _, _, err := st.Cache.Record(ctx, pagecache.Change{VideoID: video, ID: gone, Version: comment.NextVersion(0, time.Now()) + 1e9, WasVisible: true, ParentID: root.ID}); err != nil {
		t.Fatal(err)
	}
	// Visible as soon as readsvc hears the version bump on the inval channel.
	readtest.WaitFor(t, 5*time.Second, "the rejected reply gone", func() bool {
		got, _ := walkReplies()
		return reflect.DeepEqual(got, replies[1:])
	})
	if resp := r.Get(t, fmt.Sprintf("/v1/comments/%d/replies", readtest.Video())); resp.Code != 404 {
		t.Errorf("replies of an unknown comment: %d", resp.Code)
	}
}

func rootAt(video, id int64) comment.Comment {
	at := time.Now().Add(-time.Hour)
	c := comment.Comment{ID: comment.MinIDAt(at) + id, VideoID: video, UserID: 7, Content: fmt.Sprintf("c%d", id),
		Status: comment.Approved, Version: comment.NextVersion(0, time.Now())}
	c.CreatedAt = comment.IDTime(c.ID)
	return c
}

const testSecret = "0123456789abcdef0123456789abcdef-readsvc"

func TestOwnPendingCommentsOnlyForTheirAuthor(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(5)
	ver, err := auth.NewVerifier(testSecret, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	r := st.NewReader(readtest.Config{Tokens: ver})
	token := func(user int64) string {
		tk, err := auth.Issue(testSecret, auth.Principal{UserID: user, Role: auth.RoleUser}, time.Now(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tk
	}
	const author, other = 4242, 4343
	p := rootAt(video, 999_999)
	p.Status, p.UserID = comment.Pending, author
	body, _ := cqlstore.Body(p)
	if _, _, err := st.Cache.Record(context.Background(), pagecache.Change{VideoID: video, ID: p.ID, Version: p.Version, Body: body, UserID: author, Pending: true}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		header  []string
		want    []int64
		private bool
	}{
		{"the author", []string{"Authorization", token(author)}, append([]int64{p.ID}, ids...), true},
		{"another user", []string{"Authorization", token(other)}, ids, true},
		{"anonymous", nil, ids, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.Get(t, readtest.PagePath(video, ""), tt.header...)
			if resp.Code != 200 || !reflect.DeepEqual(resp.IDs(), tt.want) {
				t.Fatalf("%d %v, want %v", resp.Code, resp.IDs(), tt.want)
			}
			cc := resp.Header.Get("Cache-Control")
			if tt.private != (cc == "private, no-store") || (tt.private && resp.Header.Get("ETag") != "") {
				t.Errorf("Cache-Control %q ETag %q", cc, resp.Header.Get("ETag"))
			}
			if tt.want[0] == p.ID && !strings.Contains(string(resp.Raw), `"status":"pending"`) {
				t.Errorf("pending comment not marked: %s", resp.Raw)
			}
		})
	}
	// The shared tiers never saw it: the Redis window and a fresh
	// anonymous page through groupcache.
	page, err := st.Cache.Read(context.Background(), video, 0, 50)
	if err != nil || slices.ContainsFunc(page.Entries, func(e pagecache.Entry) bool { return e.ID == p.ID }) {
		t.Errorf("pending comment in the shared Redis window: %+v %v", page, err)
	}
	if resp := r.Get(t, readtest.PagePath(video, "")); slices.Contains(resp.IDs(), p.ID) || strings.Contains(string(resp.Raw), "pending") {
		t.Errorf("pending comment in the shared page: %s", resp.Raw)
	}
	if resp := r.Get(t, readtest.PagePath(video, ""), "Authorization", "Bearer forged.token.here"); resp.Code != 401 {
		t.Errorf("forged token: %d", resp.Code)
	}
}

func TestPinFirstOnPageOneAndNowhereElse(t *testing.T) {
	st := readtest.NewStack(t)
	ctx := context.Background()
	video, timeOrder, _ := seedHotFromSeedVideo(t, st, 23)
	pinned := timeOrder[11]
	if err := st.Seed.PutPin(ctx, video, pinned, 100); err != nil {
		t.Fatal(err)
	}
	r := st.NewReader(readtest.Config{})
	for _, sort := range []string{"time", "hot"} {
		t.Run(sort, func(t *testing.T) {
			got := walk(t, r, video, "sort="+sort, 5)
			if len(got) == 0 || got[0] != pinned {
				t.Fatalf("page one does not start with the pin %d: %v", pinned, got)
			}
			n := 0
			for _, id := range got {
				if id == pinned {
					n++
				}
			}
			if n != 1 || len(got) != len(timeOrder) {
				t.Errorf("pin served %d times, %d comments in all (want %d)", n, len(got), len(timeOrder))
			}
		})
	}
	// cdc records a new pin: the version moves and page one shows it.
	if ok, err := st.Cache.SetPin(ctx, video, timeOrder[3], 200); err != nil || !ok {
		t.Fatalf("SetPin %v %v", ok, err)
	}
	readtest.WaitFor(t, 5*time.Second, "the new pin on page one", func() bool {
		resp := r.Get(t, readtest.PagePath(video, "limit=3"))
		return len(resp.IDs()) == 4 && resp.IDs()[0] == timeOrder[3]
	})
}

func seedHotFromSeedVideo(t *testing.T, st *readtest.Stack, n int) (int64, []int64, map[int64]int64) {
	t.Helper()
	video, ids := st.SeedVideo(n)
	likes := map[int64]int64{}
	for i, id := range ids {
		likes[id] = int64(i % 4)
		if err := st.Seed.PutLikes(context.Background(), video, id, -1, likes[id], int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	return video, ids, likes
}

func TestLikeCountsInEveryBody(t *testing.T) {
	st := readtest.NewStack(t)
	ctx := context.Background()
	video, ids := st.SeedVideo(4)
	if err := st.Seed.PutLikes(ctx, video, ids[1], -1, 7, 10); err != nil {
		t.Fatal(err)
	}
	r := st.NewReader(readtest.Config{Options: pages.Options{CacheBytes: -1}})
	likesOf := func(query string, id int64) int64 {
		t.Helper()
		resp := r.Get(t, readtest.PagePath(video, query))
		for _, c := range resp.Page.Comments {
			if c.ID == comment.FormatID(id) {
				return c.LikeCount
			}
		}
		t.Fatalf("comment %d not on %s: %s", id, query, resp.Raw)
		return 0
	}
	// Backfills join comment_likes (the comment rows carry no counts).
	for _, q := range []string{"sort=time", "sort=hot"} {
		if got := likesOf(q, ids[1]); got != 7 {
			t.Errorf("%s: like_count %d after backfill, want 7", q, got)
		}
	}
	// The syncer's ApplyLikes edits the cached bodies; no version bump.
	if err := st.Cache.ApplyLikes(ctx, video, []pagecache.LikeCount{{ID: ids[1], Offset: 11, Count: 9}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"sort=time", "sort=hot"} {
		if got := likesOf(q, ids[1]); got != 9 {
			t.Errorf("%s: like_count %d after ApplyLikes, want 9", q, got)
		}
	}
	if resp := r.Get(t, fmt.Sprintf("/v1/comments/%d", ids[1])); !strings.Contains(string(resp.Raw), `"like_count":7`) && !strings.Contains(string(resp.Raw), `"like_count":9`) {
		t.Errorf("single comment without its likes: %s", resp.Raw)
	}
}
