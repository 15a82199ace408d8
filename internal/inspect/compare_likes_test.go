package inspect

import (
	"slices"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// liked returns r with n likes (what comment_likes counts).
func liked(r Row, n int64) Row {
	r.LikeCount = n
	return r
}

// reply builds an approved (or st) reply of parent.
func reply(id, parent int64, st comment.Status) Row {
	r := row(id, st)
	r.ParentID = parent
	return r
}

// rootTruth is truth with only roots counted in Approved and every root
// loaded, as the inspector builds it.
func rootTruth(rows ...Row) Truth {
	t := Truth{Video: video, Rows: map[int64]Row{}, LastChange: changed, RootsComplete: true}
	for _, r := range rows {
		t.Rows[r.ID] = r
		if r.Status == comment.Approved && r.VideoID == video && r.ParentID == 0 {
			t.Approved++
		}
	}
	return t
}

// hot caches rows in the hot window with their like counts as scores.
func hot(complete bool, total int64, rows ...Row) HotSnapshot {
	h := HotSnapshot{Cached: true, Complete: complete, Total: total, Bodies: map[int64][]byte{}}
	for _, r := range rows {
		h.Members = append(h.Members, HotMember{ID: r.ID, Likes: r.LikeCount})
		h.Bodies[r.ID] = PublicBody(r.Comment)
	}
	slices.SortFunc(h.Members, func(a, b HotMember) int {
		if hotBefore(a.Likes, a.ID, b.Likes, b.ID) {
			return -1
		}
		return 1
	})
	return h
}

// The time window holds roots only, with like counts and edited_at in the
// bodies; its total counts roots.
func TestCompareWindowLikesEditsReplies(t *testing.T) {
	a1, a2 := liked(row(101, comment.Approved), 3), row(102, comment.Approved)
	a2.EditedAt = changed.Add(time.Second)
	rep := reply(103, 101, comment.Approved)
	tests := []struct {
		name string
		w    func() pagecache.WindowSnapshot
		want []found
	}{
		{"agrees: replies are neither members nor counted", func() pagecache.WindowSnapshot { return window(true, 2, a1, a2) }, nil},
		{"reply in the root window", func() pagecache.WindowSnapshot { return window(true, 2, a1, a2, rep) }, []found{{CacheNotApproved, 103}}},
		{"like count stale in the body", func() pagecache.WindowSnapshot {
			w := window(true, 2, a1, a2)
			w.Bodies[101] = PublicBody(liked(a1, 2).Comment)
			return w
		}, []found{{CacheBody, 101}}},
		{"edited_at missing from the body", func() pagecache.WindowSnapshot {
			w := window(true, 2, a1, a2)
			b := a2
			b.EditedAt = time.Time{}
			w.Bodies[102] = PublicBody(b.Comment)
			return w
		}, []found{{CacheBody, 102}}},
		{"total counts the reply", func() pagecache.WindowSnapshot { return window(true, 3, a1, a2) }, []found{{CacheTotal, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireMismatches(t, CompareWindow(now, rootTruth(a1, a2, rep), tc.w()), tc.want)
		})
	}
}

func TestCompareHot(t *testing.T) {
	// Hot order: a3 (5 likes), a4 (2, id 104), a1 (2, id 101), a2 (0).
	a1, a2, a3, a4 := liked(row(101, comment.Approved), 2), row(102, comment.Approved), liked(row(103, comment.Approved), 5), liked(row(104, comment.Approved), 2)
	p5, rep := liked(row(105, comment.Pending), 0), reply(106, 101, comment.Approved)
	other := liked(row(107, comment.Approved), 9)
	other.VideoID = 78
	all := rootTruth(a1, a2, a3, a4, p5, rep, other)
	tests := []struct {
		name string
		t    Truth
		h    func() HotSnapshot
		want []found
	}{
		{"agrees, complete", all, func() HotSnapshot { return hot(true, 4, a1, a2, a3, a4) }, nil},
		{"agrees, incomplete prefix of the order", all, func() HotSnapshot { return hot(false, 4, a3, a4) }, nil},
		{"not cached", all, func() HotSnapshot { return HotSnapshot{} }, nil},
		{"complete window lacks a root", all, func() HotSnapshot { return hot(true, 4, a1, a3, a4) }, []found{{HotMissing, 102}}},
		{"incomplete window skips one above its lowest", all, func() HotSnapshot { return hot(false, 4, a3, a1) }, []found{{HotMissing, 104}}},
		{"incomplete window: below its lowest is not missing", all, func() HotSnapshot { return hot(false, 4, a3, a4, a1) }, nil},
		{"wrong score", all, func() HotSnapshot {
			h := hot(true, 4, a1, a2, a3, a4)
			for i := range h.Members {
				if h.Members[i].ID == 102 {
					h.Members[i].Likes = 1
				}
			}
			return h
		}, []found{{HotScore, 102}}},
		{"pending comment in the window", all, func() HotSnapshot { return hot(true, 4, a1, a2, a3, a4, p5) }, []found{{HotNotVisible, 105}}},
		{"reply in the window", all, func() HotSnapshot { return hot(true, 4, a1, a2, a3, a4, rep) }, []found{{HotNotVisible, 106}}},
		{"another video's comment", all, func() HotSnapshot { return hot(true, 4, a1, a2, a3, a4, other) }, []found{{HotNotVisible, 107}}},
		{"unknown comment", all, func() HotSnapshot { return hot(true, 4, a1, a2, a3, a4, liked(row(300, comment.Approved), 1)) }, []found{{HotNotVisible, 300}}},
		{"body with a stale like count", all, func() HotSnapshot {
			h := hot(true, 4, a1, a2, a3, a4)
			h.Bodies[103] = PublicBody(liked(a3, 4).Comment)
			return h
		}, []found{{HotBody, 103}}},
		{"member without a body", all, func() HotSnapshot {
			h := hot(true, 4, a1, a2, a3, a4)
			delete(h.Bodies, 101)
			return h
		}, []found{{HotBody, 101}}},
		{"wrong total", all, func() HotSnapshot { return hot(true, 5, a1, a2, a3, a4) }, []found{{HotTotal, 0}}},
		{"range unknown: members only", func() Truth {
			t := rootTruth(a3, a4)
			t.RootsComplete, t.Approved = false, 4
			return t
		}(), func() HotSnapshot { return hot(true, 4, a3, a4) }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireMismatches(t, CompareHot(now, tc.t, tc.h()), tc.want)
		})
	}
}

func TestCompareReplies(t *testing.T) {
	root, root2 := row(100, comment.Approved), row(90, comment.Approved)
	r1, r2, r3 := reply(101, 100, comment.Approved), liked(reply(102, 100, comment.Approved), 2), reply(103, 100, comment.Approved)
	p4, other := reply(104, 100, comment.Pending), reply(105, 90, comment.Approved)
	all := rootTruth(root, root2, r1, r2, r3, p4, other)
	tests := []struct {
		name string
		w    func() pagecache.WindowSnapshot
		want []found
	}{
		{"agrees, complete", func() pagecache.WindowSnapshot { return window(true, 3, r1, r2, r3) }, nil},
		{"agrees, incomplete", func() pagecache.WindowSnapshot { return window(false, 3, r2, r3) }, nil},
		{"complete list lacks a reply", func() pagecache.WindowSnapshot { return window(true, 3, r1, r3) }, []found{{ReplyMissing, 102}}},
		{"pending reply listed", func() pagecache.WindowSnapshot { return window(true, 3, r1, r2, r3, p4) }, []found{{ReplyNotVisible, 104}}},
		{"another root's reply listed", func() pagecache.WindowSnapshot { return window(true, 3, r1, r2, r3, other) }, []found{{ReplyNotVisible, 105}}},
		{"a root listed", func() pagecache.WindowSnapshot { return window(true, 3, r1, r2, r3, root2) }, []found{{ReplyNotVisible, 90}}},
		{"body without the like count", func() pagecache.WindowSnapshot {
			w := window(true, 3, r1, r2, r3)
			w.Bodies[102] = PublicBody(liked(r2, 0).Comment)
			return w
		}, []found{{ReplyBody, 102}}},
		{"wrong total", func() pagecache.WindowSnapshot { return window(true, 2, r1, r2, r3) }, []found{{ReplyTotal, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireMismatches(t, CompareReplies(now, all, 100, tc.w()), tc.want)
		})
	}
}

func TestComparePin(t *testing.T) {
	pinned := rootTruth(row(101, comment.Approved))
	pinned.Pin = PinRow{Exists: true, ID: 101, Version: 5000, UpdatedAt: changed}
	unpinned := pinned
	unpinned.Pin = PinRow{Exists: true, ID: 0, Version: 6000, UpdatedAt: changed}
	none := rootTruth(row(101, comment.Approved))
	old := now.Add(-time.Hour).UnixMicro()
	tests := []struct {
		name string
		t    Truth
		p    pagecache.Pin
		want []found
	}{
		{"agrees", pinned, pagecache.Pin{Cached: true, ID: 101, Version: 5000}, nil},
		{"not cached", pinned, pagecache.Pin{}, nil},
		{"agrees, unpinned", unpinned, pagecache.Pin{Cached: true, ID: 0, Version: 6000}, nil},
		{"agrees, no row, filled empty", none, pagecache.Pin{Cached: true}, nil},
		{"agrees, no row after a hand-made delete", none, pagecache.Pin{Cached: true, Version: old}, nil},
		{"other comment", pinned, pagecache.Pin{Cached: true, ID: 102, Version: 5000}, []found{{PinCache, 0}}},
		{"older version", unpinned, pagecache.Pin{Cached: true, ID: 101, Version: 5000}, []found{{PinCache, 0}}},
		{"pinned without a row", none, pagecache.Pin{Cached: true, ID: 101, Version: old}, []found{{PinCache, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireMismatches(t, ComparePin(now, tc.t, tc.p), tc.want)
		})
	}
}

// Replies live in replies_by_parent, like counts in comment_likes and
// again in likes_by_bucket, beside the rows pages read, the pin
// in video_pins; video_counts counts roots.
func TestCompareCassandraLikesRepliesPin(t *testing.T) {
	a1, a2 := liked(row(101, comment.Approved), 4), row(102, comment.Approved)
	a2.EditedAt = changed.Add(time.Second)
	r3, p4 := liked(reply(103, 101, comment.Approved), 1), reply(104, 101, comment.Pending)
	all := rootTruth(a1, a2, r3, p4)
	all.Pin = PinRow{Exists: true, ID: 101, Version: 5000, UpdatedAt: changed}
	good := func() CassVideo {
		c := CassVideo{ByVideo: map[int64]CassRow{}, ByID: map[int64]CassRow{}, ByParent: map[int64]CassRow{},
			Likes: map[int64]int64{101: 4, 103: 1}, BucketLikes: map[int64]int64{101: 4, 103: 1}, Count: 2, HasCount: true, Pin: &CassPinRow{ID: 101, Version: 5000},
			Hot: []CassHotEntry{{Band: 3, Likes: 4, ID: 101}, {Band: 0, Likes: 0, ID: 102}}}
		for _, r := range []Row{a1, a2, r3, p4} {
			x := r.Comment
			x.LikeCount = 0 // never written in the comment tables
			c.ByID[r.ID] = CassRow{Comment: x}
			switch {
			case r.Status != comment.Approved:
			case r.ParentID == 0:
				c.ByVideo[r.ID] = CassRow{Comment: x}
			default:
				c.ByParent[r.ID] = CassRow{Comment: x}
			}
		}
		return c
	}
	tests := []struct {
		name   string
		change func(c *CassVideo)
		want   []found
	}{
		{"agrees", func(c *CassVideo) {}, nil},
		{"like count differs", func(c *CassVideo) { c.Likes[101] = 3 }, []found{{CassLikes, 101}}},
		{"like row missing", func(c *CassVideo) { delete(c.Likes, 103) }, []found{{CassLikes, 103}}},
		{"page's like count differs", func(c *CassVideo) { c.BucketLikes[101] = 5 }, []found{{CassLikes, 101}}},
		{"page's like row missing", func(c *CassVideo) { delete(c.BucketLikes, 101) }, []found{{CassLikes, 101}}},
		{"a removed comment's count beside the rows", func(c *CassVideo) { c.BucketLikes[99] = 7 }, nil},
		{"reply missing from replies_by_parent", func(c *CassVideo) { delete(c.ByParent, 103) }, []found{{CassMissing, 103}}},
		{"pending reply in replies_by_parent", func(c *CassVideo) { c.ByParent[104] = c.ByID[104] }, []found{{CassNotApproved, 104}}},
		{"reply in comments_by_video", func(c *CassVideo) { c.ByVideo[103] = c.ByParent[103] }, []found{{CassNotApproved, 103}}},
		{"edited_at lost", func(c *CassVideo) { editRow(c.ByVideo, 102, func(r *CassRow) { r.EditedAt = time.Time{} }) },
			[]found{{CassDiffers, 102}}},
		{"pin differs", func(c *CassVideo) { c.Pin = &CassPinRow{ID: 102, Version: 4000} }, []found{{CassPin, 0}}},
		{"pin row missing", func(c *CassVideo) { c.Pin = nil }, []found{{CassPin, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.change(&c)
			requireMismatches(t, CompareCassandra(now, all, c), tc.want)
		})
	}
}

// A like never touches the comments row, so a like count on its way is as
// young as the newest like, not as old as the row; any other difference
// keeps the row's age.
func TestLikeMismatchAge(t *testing.T) {
	a1 := liked(row(101, comment.Approved), 3)
	a1.LikedAt = now.Add(-time.Second)
	tr := rootTruth(a1)
	stale := liked(a1, 2)
	edited := a1
	edited.Content = "other"
	tests := []struct {
		name string
		got  []Mismatch
		kind Kind
		age  time.Duration
	}{
		{"time body with an old like count", CompareWindow(now, tr, func() pagecache.WindowSnapshot {
			w := window(true, 1, a1)
			w.Bodies[101] = PublicBody(stale.Comment)
			return w
		}()), CacheBody, time.Second},
		{"time body with other content", CompareWindow(now, tr, func() pagecache.WindowSnapshot {
			w := window(true, 1, a1)
			w.Bodies[101] = PublicBody(edited.Comment)
			return w
		}()), CacheBody, time.Minute},
		{"hot score", CompareHot(now, tr, func() HotSnapshot {
			h := hot(true, 1, a1)
			h.Members[0].Likes = 2
			return h
		}()), HotScore, time.Second},
		{"comment_likes", CompareCassandra(now, tr, CassVideo{ByVideo: map[int64]CassRow{101: {Comment: a1.Comment}},
			ByID: map[int64]CassRow{101: {Comment: a1.Comment}}, Likes: map[int64]int64{101: 2}, Count: 1, HasCount: true}), CassLikes, time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := slices.IndexFunc(tc.got, func(m Mismatch) bool { return m.Kind == tc.kind })
			if i < 0 {
				t.Fatalf("no %s in %v", tc.kind, tc.got)
			}
			if got := tc.got[i].Age; got != tc.age {
				t.Errorf("age %v, want %v", got, tc.age)
			}
		})
	}
}
