package inspect

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

var (
	now     = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	changed = now.Add(-time.Minute) // every row's updated_at
)

const video = 77

// row builds a MySQL row of video; ids grow with time like real ones.
func row(id int64, st comment.Status) Row {
	return Row{Comment: comment.Comment{ID: id, VideoID: video, UserID: 5, Content: "c" + comment.FormatID(id), Status: st,
		CreatedAt: changed, Version: 1000 + id}, UpdatedAt: changed}
}

func truth(rows ...Row) Truth {
	t := Truth{Video: video, Rows: map[int64]Row{}, LastChange: changed}
	for _, r := range rows {
		t.Rows[r.ID] = r
		if r.Status == comment.Approved && r.VideoID == video {
			t.Approved++
		}
	}
	return t
}

// window caches rows (newest first by id) the way cdc and fills do.
func window(complete bool, total int64, rows ...Row) pagecache.WindowSnapshot {
	w := pagecache.WindowSnapshot{Cached: true, Complete: complete, Total: total, Bodies: map[int64][]byte{}}
	for _, r := range rows {
		w.IDs = append(w.IDs, r.ID)
		w.Bodies[r.ID] = PublicBody(r.Comment)
	}
	slices.SortFunc(w.IDs, func(a, b int64) int { return int(b - a) })
	return w
}

type found struct {
	kind Kind
	id   int64
}

func kinds(ms []Mismatch) []found {
	out := make([]found, 0, len(ms))
	for _, m := range ms {
		out = append(out, found{m.Kind, m.ID})
	}
	return out
}

// requireMismatches requires got to be the mismatches want, in order, each
// one complete: of the video, aged, with a detail and a place.
func requireMismatches(t *testing.T, got []Mismatch, want []found) {
	t.Helper()
	if !slices.Equal(kinds(got), want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, m := range got {
		if m.Video != video || m.Age <= 0 || m.Detail == "" || m.Where == "" {
			t.Errorf("incomplete mismatch %+v", m)
		}
	}
}

func TestCompareWindow(t *testing.T) {
	a1, a2, a3, a4 := row(101, comment.Approved), row(102, comment.Approved), row(103, comment.Approved), row(104, comment.Approved)
	p5, r6 := row(105, comment.Pending), row(106, comment.Rejected)
	other := row(107, comment.Approved)
	other.VideoID = 78
	tests := []struct {
		name string
		t    Truth
		w    func() pagecache.WindowSnapshot
		want []found
	}{
		{"agrees, complete", truth(a1, a2, a3, p5), func() pagecache.WindowSnapshot { return window(true, 3, a1, a2, a3) }, nil},
		{"agrees, incomplete, older ids beyond the window", truth(a1, a2, a3, a4), func() pagecache.WindowSnapshot { return window(false, 4, a3, a4) }, nil},
		{"not cached", truth(a1), func() pagecache.WindowSnapshot { return pagecache.WindowSnapshot{} }, nil},
		{"complete window lacks an approved one", truth(a1, a2, a3), func() pagecache.WindowSnapshot { return window(true, 3, a1, a3) },
			[]found{{CacheMissing, 102}}},
		{"incomplete window lacks one newer than its oldest", truth(a1, a2, a3, a4), func() pagecache.WindowSnapshot { return window(false, 4, a2, a4) },
			[]found{{CacheMissing, 103}}},
		{"pending comment cached", truth(a1, p5), func() pagecache.WindowSnapshot { return window(true, 1, a1, p5) },
			[]found{{CacheNotApproved, 105}}},
		{"rejected comment cached", truth(a1, r6), func() pagecache.WindowSnapshot { return window(true, 1, a1, r6) },
			[]found{{CacheNotApproved, 106}}},
		{"unknown comment cached", truth(a1), func() pagecache.WindowSnapshot { return window(true, 1, a1, row(200, comment.Approved)) },
			[]found{{CacheNotApproved, 200}}},
		{"another video's comment cached", truth(a1, other), func() pagecache.WindowSnapshot { return window(true, 1, a1, other) },
			[]found{{CacheWrongVideo, 107}}},
		{"body differs", truth(a1, a2), func() pagecache.WindowSnapshot {
			w := window(true, 2, a1, a2)
			b := a2
			b.Content = "edited"
			w.Bodies[102] = PublicBody(b.Comment)
			return w
		}, []found{{CacheBody, 102}}},
		{"body is not JSON", truth(a1), func() pagecache.WindowSnapshot {
			w := window(true, 1, a1)
			w.Bodies[101] = []byte("garbage")
			return w
		}, []found{{CacheBody, 101}}},
		{"member without body", truth(a1), func() pagecache.WindowSnapshot {
			w := window(true, 1, a1)
			delete(w.Bodies, 101)
			return w
		}, []found{{CacheBody, 101}}},
		{"same body, other key order", truth(a1), func() pagecache.WindowSnapshot {
			w := window(true, 1, a1)
			w.Bodies[101] = []byte(`{"video_id":"77","id":"101","user_id":"5","parent_id":"0","content":"c101","created_at":"` +
				comment.FormatTime(changed) + `","like_count":0,"reply_count":0}`)
			return w
		}, nil},
		{"wrong total", truth(a1, a2), func() pagecache.WindowSnapshot { return window(true, 5, a1, a2) },
			[]found{{CacheTotal, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			requireMismatches(t, CompareWindow(now, tc.t, tc.w()), tc.want)
		})
	}
}

// cass builds the read model as the syncer would write rows.
func cass(count int64, rows ...Row) CassVideo {
	c := CassVideo{ByVideo: map[int64]CassRow{}, ByID: map[int64]CassRow{}, Count: count, HasCount: true}
	for _, r := range rows {
		c.ByID[r.ID] = CassRow{Comment: r.Comment}
		if r.Status == comment.Approved {
			byVideo := r.Comment
			byVideo.Status = comment.Approved
			c.ByVideo[r.ID] = CassRow{Comment: byVideo}
			c.Hot = append(c.Hot, CassHotEntry{Band: comment.HotBand(r.LikeCount), Likes: r.LikeCount, ID: r.ID})
		}
	}
	return c
}

// editRow changes the row id of a read model table in place.
func editRow(table map[int64]CassRow, id int64, change func(r *CassRow)) {
	r := table[id]
	change(&r)
	table[id] = r
}

func TestCompareCassandra(t *testing.T) {
	a1, a2, p3, r4 := row(101, comment.Approved), row(102, comment.Approved), row(103, comment.Pending), row(104, comment.Rejected)
	all := truth(a1, a2, p3, r4)
	tests := []struct {
		name   string
		change func(c *CassVideo) // of the read model of all
		want   []found
	}{
		{"agrees", func(c *CassVideo) {}, nil},
		{"approved missing from comments_by_video", func(c *CassVideo) { delete(c.ByVideo, 102) }, []found{{CassMissing, 102}}},
		{"row missing from comments_by_id", func(c *CassVideo) { delete(c.ByID, 103) }, []found{{CassMissing, 103}}},
		{"rejected one present in comments_by_video", func(c *CassVideo) { c.ByVideo[104] = CassRow{Comment: r4.Comment} },
			[]found{{CassNotApproved, 104}}},
		{"unknown one present in comments_by_video", func(c *CassVideo) {
			c.ByVideo[300] = CassRow{Comment: comment.Comment{ID: 300, VideoID: video, Version: now.Add(-time.Hour).UnixMicro()}}
		}, []found{{CassNotApproved, 300}}},
		{"older version", func(c *CassVideo) {
			editRow(c.ByID, 104, func(r *CassRow) { r.Version, r.Status = r.Version-1, comment.Approved })
		}, []found{{CassOld, 104}}},
		{"other content at the same version", func(c *CassVideo) { editRow(c.ByVideo, 101, func(r *CassRow) { r.Content = "changed" }) },
			[]found{{CassDiffers, 101}}},
		{"other status at the same version", func(c *CassVideo) { editRow(c.ByID, 103, func(r *CassRow) { r.Status = comment.Approved }) },
			[]found{{CassDiffers, 103}}},
		{"wrong count", func(c *CassVideo) { c.Count = 3 }, []found{{CassCount, 0}}},
		{"no count row", func(c *CassVideo) { c.HasCount = false }, []found{{CassCount, 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := cass(2, a1, a2, p3, r4)
			tc.change(&c)
			requireMismatches(t, CompareCassandra(now, all, c), tc.want)
		})
	}
}

func TestCompareHotIndex(t *testing.T) {
	a1, a2, p3 := liked(row(101, comment.Approved), 5), row(102, comment.Approved), row(103, comment.Pending)
	r4 := reply(104, 101, comment.Approved)
	all := truth(a1, a2, p3, r4)
	all.Approved = 2
	entry := func(likes, id int64) CassHotEntry {
		return CassHotEntry{Band: comment.HotBand(likes), Likes: likes, ID: id}
	}
	tests := []struct {
		name  string
		hot   []CassHotEntry
		want  []found
		ghost bool
	}{
		{"agrees", []CassHotEntry{entry(5, 101), entry(0, 102)}, nil, false},
		{"a root not filed", []CassHotEntry{entry(5, 101)}, []found{{CassHot, 102}}, false},
		{"filed under an old count", []CassHotEntry{entry(4, 101), entry(0, 102)}, []found{{CassHot, 101}, {CassHot, 101}}, false},
		{"filed in the wrong band", []CassHotEntry{{Band: 2, Likes: 5, ID: 101}, entry(0, 102)}, []found{{CassHot, 101}, {CassHot, 101}}, false},
		{"filed twice", []CassHotEntry{entry(5, 101), entry(5, 101), entry(0, 102)}, []found{{CassHot, 101}}, false},
		{"a pending comment filed", []CassHotEntry{entry(5, 101), entry(0, 102), entry(0, 103)}, []found{{CassHot, 103}}, false},
		{"a reply filed", []CassHotEntry{entry(5, 101), entry(0, 102), entry(0, 104)}, []found{{CassHot, 104}}, false},
		{"a comment MySQL lacks filed", []CassHotEntry{entry(5, 101), entry(0, 102), entry(3, 300)}, []found{{CassHot, 300}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := compareHotIndex(now, all, tc.hot)
			requireMismatches(t, got, tc.want)
			for _, m := range got {
				if m.Where != "hot_by_video" {
					t.Errorf("mismatch %+v not of hot_by_video", m)
				}
				if m.Held.LikeCount < -1 || (m.Held.LikeCount == -1) != strings.Contains(m.Detail, "not filed") {
					t.Errorf("held count %d for %q", m.Held.LikeCount, m.Detail)
				}
			}
			if len(got) > 0 && got[0].Ghost != tc.ghost {
				t.Errorf("ghost %v, want %v", got[0].Ghost, tc.ghost)
			}
		})
	}
}

func TestComparePending(t *testing.T) {
	p1, p2, a3 := row(101, comment.Pending), row(102, comment.Pending), row(103, comment.Approved)
	old := row(99, comment.Pending)
	old.UpdatedAt = now.Add(-48 * time.Hour)
	theirs := row(104, comment.Pending)
	theirs.UserID = 6
	all := truth(p1, p2, a3, old, theirs)
	since := now.Add(-24 * time.Hour)
	view := func(rows ...Row) PendingView {
		v := PendingView{User: 5, Bodies: map[int64][]byte{}}
		for _, r := range rows {
			v.Bodies[r.ID] = PublicBody(r.Comment)
		}
		return v
	}
	tests := []struct {
		name  string
		view  func() PendingView
		want  []found
		ghost []bool
	}{
		{"agrees (an expired view may lack an old one)", func() PendingView { return view(p1, p2) }, nil, nil},
		{"agrees, the old one kept by a later write", func() PendingView { return view(p1, p2, old) }, nil, nil},
		{"no view at all", func() PendingView { return view() }, []found{{PendingMissing, 102}, {PendingMissing, 101}}, []bool{false, false}},
		{"an approved one left behind", func() PendingView { return view(p1, p2, a3) }, []found{{PendingStale, 103}}, []bool{false}},
		{"another author's comment", func() PendingView { return view(p1, p2, theirs) }, []found{{PendingStale, 104}}, []bool{true}},
		{"a comment MySQL lacks", func() PendingView { return view(p1, p2, row(300, comment.Pending)) }, []found{{PendingStale, 300}}, []bool{true}},
		{"body differs", func() PendingView {
			v := view(p1, p2)
			b := p2
			b.Content = "not this"
			v.Bodies[102] = PublicBody(b.Comment)
			return v
		}, []found{{PendingBody, 102}}, []bool{false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ComparePending(now, all, since, []PendingView{tc.view()})
			requireMismatches(t, got, tc.want)
			for i, m := range got {
				if m.Where != "vc:{77}:u:5" || m.Held.UserID != 5 || m.Ghost != tc.ghost[i] {
					t.Errorf("mismatch %+v (want ghost %v)", m, tc.ghost[i])
				}
			}
		})
	}
}

func TestReportOlder(t *testing.T) {
	r := Report{Mismatches: []Mismatch{{Kind: CacheBody, Age: time.Second}, {Kind: CacheTotal, Age: time.Minute}, {Kind: CacheTotal, Age: 30 * time.Second}}}
	tests := []struct {
		grace time.Duration
		want  int
	}{{0, 3}, {30 * time.Second, 2}, {time.Hour, 0}}
	for _, tc := range tests {
		t.Run(tc.grace.String(), func(t *testing.T) {
			if got := len(r.Older(tc.grace)); got != tc.want {
				t.Errorf("Older(%v) = %d mismatches, want %d", tc.grace, got, tc.want)
			}
		})
	}
	if got := ByKind(r.Mismatches); got[CacheTotal] != 2 || got[CacheBody] != 1 {
		t.Errorf("ByKind = %v", got)
	}
}
