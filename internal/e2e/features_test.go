package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
)

// Issue #10 end to end: likes, hot order, replies, own pending comments,
// pins and edits, each sent to the real writesvc and read back from the
// real readsvc, with syncer and cdc carrying the changes as separate
// processes on private storage. One cluster (pre-moderation) serves every
// subtest; each subtest uses its own video and its own users, so they do
// not see each other's data.
//
// readsvc's groupcache epoch (-max-age) is 1s, the smallest it accepts
// and startCluster's default; likes do not bump the cache version, so the
// waits below allow for a page up to that old.
func TestFeatures(t *testing.T) {
	c := startCluster(t, "pre")
	t.Cleanup(client.CloseIdleConnections)
	seed := time.Now().UnixNano()
	videos := func(i int64) int64 { return seed%1e12 + 1000 + i }
	users := func(i int64) int64 { return (seed%1e9)*1000 + i*100000 } // distinct per subtest: posts are rate-limited per user in shared Redis

	t.Run("LikesReachReaders", func(t *testing.T) { likesReachReaders(t, c.on(t), videos(1), users(1)) })
	t.Run("HotOrderThroughTheStack", func(t *testing.T) { hotOrderThroughTheStack(t, c.on(t), videos(2), users(2)) })
	t.Run("RepliesThroughTheStack", func(t *testing.T) { repliesThroughTheStack(t, c.on(t), videos(3), users(3)) })
	t.Run("OwnPendingComments", func(t *testing.T) { ownPendingComments(t, c.on(t), videos(4), users(4)) })
	t.Run("PinnedFirst", func(t *testing.T) { pinnedFirst(t, c.on(t), videos(5), users(5)) })
	t.Run("EditReachesReaders", func(t *testing.T) { editReachesReaders(t, c.on(t), videos(6), users(6)) })
}

// likesReachReaders: 200 users like one approved comment concurrently, 50
// of them take it back, a few repeat their PUT or DELETE (idempotent: no
// event); the single comment, the time page and the hot page all end at
// exactly 150.
func likesReachReaders(t *testing.T, c *cluster, video, users int64) {
	const likers, unlikers, want = 200, 50, 150
	id := c.approved(video, users, "like me")
	c.approved(video, users+1, "a neighbour without likes")

	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	run := func(user int64, method string, liked bool) {
		defer wg.Done()
		sem <- struct{}{}
		defer func() { <-sem }()
		code, out, b, err := c.setLike(id, user, method == http.MethodPut)
		if err != nil {
			t.Errorf("%s like as %d: %v", method, user, err)
			return
		}
		if code != http.StatusOK || out == nil || out.CommentId != fmt.Sprint(id) || out.Liked != liked {
			t.Errorf("%s like as %d: %d %s, want 200 liked=%v", method, user, code, b, liked)
		}
	}
	liker := func(i int) int64 { return users + 10 + int64(i) }
	for i := range likers {
		wg.Add(1)
		go run(liker(i), http.MethodPut, true)
	}
	wg.Wait()
	for i := range unlikers {
		wg.Add(2)
		go run(liker(i*4), http.MethodDelete, false)
		go run(liker(i*4+1), http.MethodPut, true) // a repeated like changes nothing
	}
	wg.Wait()
	for i := range 10 {
		wg.Add(1)
		go run(liker(i*4), http.MethodDelete, false) // a repeated unlike changes nothing
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if n := c.count(fmt.Sprintf(`SELECT COUNT(*) FROM comment_likes WHERE comment_id = %d`, id)); n != want {
		t.Fatalf("MySQL comment_likes holds %d rows, want %d", n, want)
	}

	settled := time.Now()
	likesOf := func(what string, get func() (int64, bool)) {
		t.Helper()
		eventually(t, 60*time.Second, what+" like_count = "+fmt.Sprint(want), func() (bool, string) {
			n, ok := get()
			if ok && (n < 0 || n > likers) {
				t.Errorf("%s like_count %d is outside 0..%d", what, n, likers)
			}
			return ok && n == want, fmt.Sprintf("like_count %d (found %v)", n, ok)
		})
	}
	likesOf("GET /v1/comments/{id}", func() (int64, bool) {
		_, one, _ := c.comment(id)
		if one == nil {
			return -1, false
		}
		return one.LikeCount, one.Id == fmt.Sprint(id)
	})
	for _, order := range []string{"time", "hot"} {
		likesOf("sort="+order+" page", func() (int64, bool) {
			p, ok := c.page(t, video, order, 50, "", "")
			if !ok {
				return -1, false
			}
			for _, cm := range p.Comments {
				if cm.Id == fmt.Sprint(id) {
					return cm.LikeCount, true
				}
			}
			return -1, false
		})
	}
	t.Logf("last like/unlike answered → the single comment and both pages show %d: %v", want, time.Since(settled).Round(time.Millisecond))
	code, one, b := c.comment(id)
	if one == nil || one.LikeCount != want {
		t.Errorf("GET /v1/comments/%d after the pages settled: %d %s, want like_count %d", id, code, b, want)
	}
	// The liked comment leads the hot order.
	p, _ := c.page(t, video, "hot", 50, "", "")
	if len(p.Comments) != 2 || p.Comments[0].Id != fmt.Sprint(id) {
		t.Errorf("sort=hot page shows %v, want %d first of 2", ids(p.Comments), id)
	}
}

// hotOrderThroughTheStack: comments with different like counts (ties
// included) are listed by sort=hot pages of 2, following next_cursor, likes
// desc then id desc, each exactly once.
func hotOrderThroughTheStack(t *testing.T, c *cluster, video, users int64) {
	likes := []int{3, 0, 5, 3, 1, 0, 2, 5}
	type want struct {
		id    int64
		likes int
	}
	var all []want
	for i, n := range likes {
		all = append(all, want{c.approved(video, users+int64(i), fmt.Sprintf("hot %d", i)), n})
	}
	for _, w := range all {
		for u := range w.likes {
			c.like(w.id, users+1000+int64(u))
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].likes != all[j].likes {
			return all[i].likes > all[j].likes
		}
		return all[i].id > all[j].id
	})
	var wantIDs []string
	for _, w := range all {
		wantIDs = append(wantIDs, fmt.Sprint(w.id))
	}
	for _, w := range all {
		c.waitLikes(t, w.id, int64(w.likes))
	}
	eventually(t, 60*time.Second, "sort=hot pages in likes desc, id desc order", func() (bool, string) {
		got, pages, ok := c.walk(t, video, "hot", 2, "")
		if !ok {
			return false, "a page failed"
		}
		if dup := duplicates(got); len(dup) > 0 {
			t.Errorf("sort=hot pages %v repeat %v", pages, dup)
		}
		for _, p := range pages {
			if len(p) > 2 {
				t.Errorf("sort=hot page %v holds more than limit 2", p)
			}
		}
		return slices.Equal(ids(got), wantIDs), fmt.Sprintf("pages %v, want order %v", pages, wantIDs)
	})
	// The counts shown agree with the order.
	got, _, _ := c.walk(t, video, "hot", 2, "")
	for i, cm := range got {
		if i < len(all) && cm.LikeCount != int64(all[i].likes) {
			t.Errorf("comment %s shows like_count %d, want %d", cm.Id, cm.LikeCount, all[i].likes)
		}
	}

	// Likes changing while a reader pages: page one pins a snapshot, so
	// the last comment jumping to the top neither repeats nor skips one.
	first, ok := c.page(t, video, "hot", 2, "", "")
	if !ok || !slices.Equal(ids(first.Comments), wantIDs[:2]) || first.NextCursor == nil {
		t.Fatalf("sort=hot page one %v (ok %v), want %v and a cursor", ids(first.Comments), ok, wantIDs[:2])
	}
	last := all[len(all)-1]
	for u := range 7 {
		c.like(last.id, users+2000+int64(u))
	}
	c.waitLikes(t, last.id, int64(last.likes)+7)
	eventually(t, 30*time.Second, "the liked-up comment on top of a new sort=hot page one", func() (bool, string) {
		p, ok := c.page(t, video, "hot", 2, "", "")
		return ok && len(p.Comments) > 0 && p.Comments[0].Id == fmt.Sprint(last.id), fmt.Sprint(ids(p.Comments))
	})
	seen := ids(first.Comments)
	cursor := *first.NextCursor
	for cursor != "" && len(seen) < 100 {
		p, ok := c.page(t, video, "hot", 2, cursor, "")
		if !ok {
			t.Fatalf("sort=hot page after %v failed", seen)
		}
		seen = append(seen, ids(p.Comments)...)
		cursor = ""
		if p.NextCursor != nil {
			cursor = *p.NextCursor
		}
	}
	if !slices.Equal(seen, wantIDs) {
		t.Errorf("paging from a page one taken before the likes changed listed %v, want the snapshot's order %v (each once)", seen, wantIDs)
	}
}

// repliesThroughTheStack: an approved reply is listed under its root and
// counted in the root's reply_count; a reject takes it out again through
// cdc; the video's root pages never show it.
func repliesThroughTheStack(t *testing.T, c *cluster, video, users int64) {
	root := c.approved(video, users, "the root")
	reply := c.reply(video, users+1, root, "a reply")
	if p, ok := c.replies(t, root); ok && len(p.Comments) != 0 {
		t.Errorf("a pending reply is listed: %v", ids(p.Comments))
	}
	c.moderate(reply, "approve")

	notOnRootPage := func() string {
		for _, order := range []string{"time", "hot"} {
			got, _, ok := c.walk(t, video, order, 50, "")
			if ok && slices.Contains(ids(got), fmt.Sprint(reply)) {
				t.Errorf("reply %d is on the video's sort=%s root page: %v", reply, order, ids(got))
			}
		}
		p, _ := c.page(t, video, "time", 50, "", "")
		return fmt.Sprintf("root page %v total %d", ids(p.Comments), p.Total)
	}
	rootCount := func(n int64) (bool, string) {
		p, ok := c.page(t, video, "time", 50, "", "")
		if !ok {
			return false, "page failed"
		}
		for _, cm := range p.Comments {
			if cm.Id == fmt.Sprint(root) {
				return cm.ReplyCount == n && p.Total == 1, fmt.Sprintf("root reply_count %d, page total %d, %s", cm.ReplyCount, p.Total, notOnRootPage())
			}
		}
		return false, "root not on its page: " + notOnRootPage()
	}
	eventually(t, 30*time.Second, "the approved reply in GET /v1/comments/{root}/replies", func() (bool, string) {
		p, ok := c.replies(t, root)
		if ok {
			for _, cm := range p.Comments {
				if cm.ParentId != fmt.Sprint(root) {
					t.Errorf("reply %s has parent_id %q, want %d", cm.Id, cm.ParentId, root)
				}
			}
		}
		return ok && slices.Equal(ids(p.Comments), []string{fmt.Sprint(reply)}) && p.Total == 1,
			fmt.Sprintf("replies %v total %d (ok %v)", ids(p.Comments), p.Total, ok)
	})
	eventually(t, 30*time.Second, "root reply_count 1 on the video page", func() (bool, string) { return rootCount(1) })
	notOnRootPage()

	start := time.Now()
	c.moderate(reply, "reject")
	eventually(t, 10*time.Second, "the rejected reply gone from the replies", func() (bool, string) {
		p, ok := c.replies(t, root)
		return ok && len(p.Comments) == 0, fmt.Sprintf("replies %v total %d (ok %v)", ids(p.Comments), p.Total, ok)
	})
	t.Logf("reject → reply gone from GET /replies in %v", time.Since(start).Round(time.Millisecond))
	eventually(t, 30*time.Second, "root reply_count back to 0", func() (bool, string) { return rootCount(0) })
	eventually(t, 30*time.Second, "replies total back to 0", func() (bool, string) {
		p, ok := c.replies(t, root)
		return ok && len(p.Comments) == 0 && p.Total == 0, fmt.Sprintf("replies %v total %d (ok %v)", ids(p.Comments), p.Total, ok)
	})

	// Two levels: a reply to a reply is stored and listed under the root.
	second := c.reply(video, users+2, root, "a second reply")
	c.moderate(second, "approve")
	nested := c.reply(video, users+3, second, "a reply to the reply")
	c.moderate(nested, "approve")
	eventually(t, 30*time.Second, "both replies under the root, newest first", func() (bool, string) {
		p, ok := c.replies(t, root)
		ok = ok && slices.Equal(ids(p.Comments), strs([]int64{nested, second})) && p.Total == 2 && p.Comments[0].ParentId == fmt.Sprint(root)
		return ok, fmt.Sprintf("replies %v total %d", p.Comments, p.Total)
	})
	eventually(t, 30*time.Second, "root reply_count 2", func() (bool, string) { return rootCount(2) })
	if p, ok := c.replies(t, second); !ok || len(p.Comments) != 0 {
		t.Errorf("the reply %d lists replies of its own: %v (ok %v)", second, ids(p.Comments), ok)
	}
	notOnRootPage()
	notOnRootPage()
}

// ownPendingComments: a pending comment is shown to its author only, first
// on page one with "status":"pending" in a private response; once approved
// everyone sees it as a plain public comment.
func ownPendingComments(t *testing.T, c *cluster, video, users int64) {
	a, b := users, users+1
	other := c.approved(video, users+2, "someone else's approved comment")
	c.waitVisible(video, []int64{other}, 30*time.Second)
	mine := c.post(video, a, "my pending comment")
	tokA, tokB := c.token(a, auth.RoleUser), c.token(b, auth.RoleUser)

	eventually(t, 30*time.Second, "A's pending comment first on A's page one", func() (bool, string) {
		code, h, body, pp := c.pageAs(video, "time", 20, "", tokA)
		if pp == nil {
			return false, fmt.Sprintf("%d %s", code, body)
		}
		p := *pp
		ok := len(p.Comments) == 2 && p.Comments[0].Id == fmt.Sprint(mine) && status(p.Comments[0]) == "pending" &&
			p.Comments[1].Id == fmt.Sprint(other) && status(p.Comments[1]) == ""
		if ok {
			cc := h.Get("Cache-Control")
			if !strings.Contains(cc, "private") || !strings.Contains(cc, "no-store") || strings.Contains(cc, "public") {
				t.Errorf("A's page Cache-Control %q, want private, no-store", cc)
			}
			if h.Get("ETag") != "" {
				t.Errorf("A's private page has an ETag %q", h.Get("ETag"))
			}
		}
		return ok, string(body)
	})
	for _, tc := range []struct {
		name, token string
		private     bool
	}{{"no token", "", false}, {"B's token", tokB, true}} {
		for _, order := range []string{"time", "hot"} {
			code, h, body, p := c.pageAs(video, order, 20, "", tc.token)
			if p == nil {
				t.Errorf("%s sort=%s: %d %s", tc.name, order, code, body)
				continue
			}
			if !slices.Equal(ids(p.Comments), []string{fmt.Sprint(other)}) {
				t.Errorf("%s sort=%s shows %v, want only %d (A's pending %d must not show)", tc.name, order, ids(p.Comments), other, mine)
			}
			if cc := h.Get("Cache-Control"); tc.private != strings.Contains(cc, "private") {
				t.Errorf("%s sort=%s Cache-Control %q", tc.name, order, cc)
			}
		}
	}
	// The same pending comment on the hot page one for A.
	code, _, body, hp := c.pageAs(video, "hot", 20, "", tokA)
	if hp == nil || len(hp.Comments) == 0 || hp.Comments[0].Id != fmt.Sprint(mine) || status(hp.Comments[0]) != "pending" {
		t.Errorf("A's sort=hot page one: %d %s, want %d first as pending", code, body, mine)
	}

	// A rejected pending comment leaves its author's page.
	dropped := c.post(video, a, "my pending comment that gets rejected")
	eventually(t, 30*time.Second, "A's second pending comment on A's page", func() (bool, string) {
		p, ok := c.page(t, video, "time", 20, "", tokA)
		return ok && slices.Contains(ids(p.Comments), fmt.Sprint(dropped)), fmt.Sprint(ids(p.Comments))
	})
	c.moderate(dropped, "reject")
	eventually(t, 10*time.Second, "the rejected comment gone from A's page", func() (bool, string) {
		p, ok := c.page(t, video, "time", 20, "", tokA)
		return ok && slices.Equal(ids(p.Comments), strs([]int64{mine, other})), fmt.Sprint(ids(p.Comments))
	})

	c.moderate(mine, "approve")
	for _, tc := range []struct{ name, token string }{{"no token", ""}, {"A's token", tokA}, {"B's token", tokB}} {
		eventually(t, 30*time.Second, tc.name+" sees the approved comment", func() (bool, string) {
			code, _, body, p := c.pageAs(video, "time", 20, "", tc.token)
			if p == nil {
				return false, fmt.Sprintf("%d %s", code, body)
			}
			for _, cm := range p.Comments {
				if status(cm) != "" {
					return false, string(body)
				}
			}
			return slices.Equal(ids(p.Comments), []string{fmt.Sprint(mine), fmt.Sprint(other)}), string(body)
		})
	}
}

// pinnedFirst: a pinned older comment leads page one of either sort (on
// top of limit others) and shows on no other page; unpinning restores the
// natural order.
func pinnedFirst(t *testing.T, c *cluster, video, users int64) {
	var cs []int64 // oldest first
	for i := range 5 {
		cs = append(cs, c.approved(video, users+int64(i), fmt.Sprintf("pin candidate %d", i)))
	}
	c.like(cs[1], users+100) // hot order differs from time order: cs[1] leads it
	c.waitLikes(t, cs[1], 1)
	c.waitVisible(video, reversed(cs), 30*time.Second)
	natural := map[string][]int64{
		"time": reversed(cs),
		"hot":  {cs[1], cs[4], cs[3], cs[2], cs[0]},
	}
	pinned := cs[0]
	mod := c.token(1, auth.RoleModerator)
	pin := func(method string, comment int64) {
		t.Helper()
		var code int
		var b []byte
		var err error
		if method == http.MethodPut {
			var r *apiclient.PinCommentResponse
			if r, err = c.write().PinCommentWithResponse(context.Background(), apiID(video), apiclient.PinRequest{CommentId: apiID(comment)}, bearer(mod)); err == nil {
				code, b = r.StatusCode(), r.Body
			}
		} else {
			var r *apiclient.UnpinCommentResponse
			if r, err = c.write().UnpinCommentWithResponse(context.Background(), apiID(video), bearer(mod)); err == nil {
				code, b = r.StatusCode(), r.Body
			}
		}
		if err != nil {
			t.Fatalf("%s pin: %v", method, err)
		}
		if code != http.StatusOK {
			t.Fatalf("%s pin: %d %s", method, code, b)
		}
	}
	pin(http.MethodPut, pinned)
	for _, order := range []string{"time", "hot"} {
		want := append([]string{fmt.Sprint(pinned)}, strs(slices.DeleteFunc(slices.Clone(natural[order]), func(id int64) bool { return id == pinned }))...)
		eventually(t, 30*time.Second, "pinned first on sort="+order+" page one", func() (bool, string) {
			got, pages, ok := c.walk(t, video, order, 2, "")
			if !ok {
				return false, "a page failed"
			}
			first := len(pages) > 0 && len(pages[0]) == 3 && pages[0][0] == fmt.Sprint(pinned)
			return first && slices.Equal(ids(got), want), fmt.Sprintf("pages %v, want %v with the pin on top of page one", pages, want)
		})
	}
	pin(http.MethodDelete, 0)
	for _, order := range []string{"time", "hot"} {
		want := strs(natural[order])
		eventually(t, 30*time.Second, "natural sort="+order+" order after unpin", func() (bool, string) {
			got, pages, ok := c.walk(t, video, order, 2, "")
			if !ok {
				return false, "a page failed"
			}
			return slices.Equal(ids(got), want) && len(pages[0]) == 2, fmt.Sprintf("pages %v, want %v", pages, want)
		})
	}
}

// editReachesReaders: the author's edit shows on readsvc's page and single
// comment with edited_at; someone else's edit is a 403 JSON error.
func editReachesReaders(t *testing.T, c *cluster, video, users int64) {
	id := c.approved(video, users, "before the edit")
	c.waitFor(60*time.Second, "the comment in Cassandra", func() bool { return c.commentCode(id) == http.StatusOK })

	edit := func(token, content string) *apiclient.EditCommentResponse {
		t.Helper()
		r, err := c.write().EditCommentWithResponse(context.Background(), apiID(id), apiclient.EditRequest{Content: content}, bearer(token))
		if err != nil {
			t.Fatalf("edit %q: %v", content, err)
		}
		return r
	}
	if r := edit(c.token(users+1, auth.RoleUser), "not yours"); r.StatusCode() != http.StatusForbidden || errorCode(r.Body) != "not_author" {
		t.Errorf("edit by another user: %d %s, want 403 not_author", r.StatusCode(), r.Body)
	}
	if r := edit(c.token(1, auth.RoleModerator), "nor a moderator's"); r.StatusCode() != http.StatusForbidden || errorCode(r.Body) != "not_author" {
		t.Errorf("edit by a moderator: %d %s, want 403 not_author", r.StatusCode(), r.Body)
	}

	start := time.Now()
	if r := edit(c.token(users, auth.RoleUser), "after the edit"); r.StatusCode() != http.StatusOK || r.JSON200 == nil || !r.JSON200.Changed || r.JSON200.EditedAt == nil {
		t.Fatalf("edit by the author: %d %s, want 200 changed with edited_at", r.StatusCode(), r.Body)
	}
	// edited_at and created_at decode as RFC 3339 times (or the page
	// fails); the edit is the later.
	shows := func(cm pub) (bool, string) {
		ok := cm.Content == "after the edit" && cm.EditedAt != nil
		if ok && cm.EditedAt.Before(cm.CreatedAt) {
			t.Errorf("edited_at %v is before created_at %v", cm.EditedAt, cm.CreatedAt)
		}
		return ok, fmt.Sprintf("content %q edited_at %v", cm.Content, cm.EditedAt)
	}
	eventually(t, 10*time.Second, "the edit on the video page", func() (bool, string) {
		p, ok := c.page(t, video, "time", 20, "", "")
		if !ok || len(p.Comments) != 1 {
			return false, fmt.Sprint(ids(p.Comments))
		}
		return shows(p.Comments[0])
	})
	t.Logf("edit → on the video page in %v", time.Since(start).Round(time.Millisecond))
	eventually(t, 30*time.Second, "the edit in GET /v1/comments/{id}", func() (bool, string) {
		code, one, b := c.comment(id)
		if one == nil {
			return false, fmt.Sprintf("%d %s", code, b)
		}
		return shows(*one)
	})
}

// --- helpers ---

// pub is a comment as readsvc serves it (Status only on own pending ones).
type pub = apiclient.PublicComment

type page = apiclient.Page

// on returns the cluster with t as the test its helpers fail: a subtest
// must not fail its parent from its own goroutine.
func (c *cluster) on(t *testing.T) *cluster {
	cc := *c
	cc.t = t
	return &cc
}

// client carries every API call of the tests (through c.Read and
// c.Write).
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// pageAs reads one page of video with token ("": none); p is nil unless
// it was a 200 page.
func (c *cluster) pageAs(video int64, order string, limit int, cursor, token string) (code int, h http.Header, body []byte, p *page) {
	r, err := c.read().ListVideoCommentsWithResponse(context.Background(), apiID(video), pageParams(order, limit, cursor), bearer(token))
	if err != nil {
		return 0, nil, []byte(err.Error()), nil
	}
	return r.StatusCode(), r.HTTPResponse.Header, r.Body, r.JSON200
}

// page reads one page of video; ok false when it was not a 200 page.
func (c *cluster) page(t *testing.T, video int64, order string, limit int, cursor, token string) (page, bool) {
	t.Helper()
	_, _, _, p := c.pageAs(video, order, limit, cursor, token)
	if p == nil {
		return page{}, false
	}
	return *p, true
}

// comment is readsvc's GET /v1/comments/{id}; one is nil unless it was a
// 200 comment.
func (c *cluster) comment(id int64) (code int, one *pub, body []byte) {
	r, err := c.read().GetCommentWithResponse(context.Background(), apiID(id), nil)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	return r.StatusCode(), r.JSON200, r.Body
}

// walk reads every page of video in order, following next_cursor (at most
// 50 pages), and returns the comments in order and each page's ids.
func (c *cluster) walk(t *testing.T, video int64, order string, limit int, token string) ([]pub, [][]string, bool) {
	t.Helper()
	var all []pub
	var pages [][]string
	cursor := ""
	for range 50 {
		p, ok := c.page(t, video, order, limit, cursor, token)
		if !ok {
			return all, pages, false
		}
		all = append(all, p.Comments...)
		pages = append(pages, ids(p.Comments))
		if p.NextCursor == nil || *p.NextCursor == "" {
			return all, pages, true
		}
		cursor = *p.NextCursor
	}
	t.Errorf("sort=%s paging of video %d did not end after 50 pages: %v", order, video, pages)
	return all, pages, false
}

// replies reads GET /v1/comments/{root}/replies.
func (c *cluster) replies(t *testing.T, root int64) (page, bool) {
	t.Helper()
	limit := 50
	r, err := c.read().ListRepliesWithResponse(context.Background(), apiID(root), &apiclient.ListRepliesParams{Limit: &limit})
	if err != nil || r.JSON200 == nil {
		return page{}, false
	}
	return *r.JSON200, true
}

// approved posts a comment and approves it.
func (c *cluster) approved(video, user int64, content string) int64 {
	c.t.Helper()
	id := c.post(video, user, content)
	c.moderate(id, "approve")
	return id
}

// reply posts a reply to parent and returns its id.
func (c *cluster) reply(video, user, parent int64, content string) int64 {
	c.t.Helper()
	r, err := c.write().PostCommentWithResponse(context.Background(), apiID(video), nil,
		apiclient.NewComment{Content: content, ParentId: ptr(apiID(parent))}, bearer(c.token(user, auth.RoleUser)))
	if err != nil {
		c.t.Fatal(err)
	}
	if r.StatusCode() != http.StatusAccepted || r.JSON202 == nil {
		c.t.Fatalf("reply: %d %s", r.StatusCode(), r.Body)
	}
	id := parseID(r.JSON202.Id)
	if id == 0 {
		c.t.Fatalf("reply id %q is not an id", r.JSON202.Id)
	}
	return id
}

// like likes comment id as user.
func (c *cluster) like(id, user int64) {
	c.t.Helper()
	code, _, b, err := c.setLike(id, user, true)
	if err != nil {
		c.t.Fatalf("like %d as %d: %v", id, user, err)
	}
	if code != http.StatusOK {
		c.t.Fatalf("like %d as %d: %d %s", id, user, code, b)
	}
}

// setLike likes (PUT) or unlikes (DELETE) comment id as user, and never
// fails the test (safe from goroutines); out is nil unless it was a 200.
func (c *cluster) setLike(id, user int64, like bool) (code int, out *apiclient.LikeResult, body []byte, err error) {
	ctx, as := context.Background(), bearer(c.token(user, auth.RoleUser))
	if like {
		r, err := c.write().LikeCommentWithResponse(ctx, apiID(id), as)
		if err != nil {
			return 0, nil, nil, err
		}
		return r.StatusCode(), r.JSON200, r.Body, nil
	}
	r, err := c.write().UnlikeCommentWithResponse(ctx, apiID(id), as)
	if err != nil {
		return 0, nil, nil, err
	}
	return r.StatusCode(), r.JSON200, r.Body, nil
}

// waitLikes waits until readsvc's single comment shows n likes.
func (c *cluster) waitLikes(t *testing.T, id, n int64) {
	t.Helper()
	eventually(t, 60*time.Second, fmt.Sprintf("comment %d like_count %d", id, n), func() (bool, string) {
		code, one, b := c.comment(id)
		if one == nil {
			return false, fmt.Sprintf("%d %s", code, b)
		}
		return one.LikeCount == n, string(b)
	})
}

// eventually polls cond until it holds, failing t with cond's last
// description after within.
func eventually(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			if testing.Verbose() {
				t.Logf("%s: %s", what, tail([]byte(state), 400))
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; last: %s", within, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ids(cs []pub) []string {
	out := []string{}
	for _, cm := range cs {
		out = append(out, cm.Id)
	}
	return out
}

func strs(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprint(id)
	}
	return out
}

func duplicates(cs []pub) []string {
	seen := map[string]bool{}
	var dup []string
	for _, cm := range cs {
		if seen[cm.Id] {
			dup = append(dup, cm.Id)
		}
		seen[cm.Id] = true
	}
	return dup
}
