// Package inspect is the cache inspector: it compares what the read side
// holds — in Redis every cached time window, hot window (vc:{V}:hot), reply
// list, pin and private pending view with their ZSET members, scores and
// bodies, and the rows of the Cassandra read model (comments_by_video,
// comments_by_id, replies_by_parent, comment_likes, video_counts,
// video_pins, hot_by_video) — with the
// system of record, MySQL (comments, comment_likes, video_pins), and reports
// each disagreement with the comment or video it concerns and its age (now −
// the MySQL row's updated_at, or the version time when MySQL has no row).
//
// The expected body of a comment is comment.Public of its MySQL row with
// like_count = COUNT(*) of its comment_likes rows (comments.like_count stays
// 0) and edited_at when set. Replies belong to their root's reply list and
// replies_by_parent, never to the video's windows, comments_by_video or
// totals (docs/likes-hot-replies.md).
//
// Invariant 5 of DESIGN.md: when writes stop and the pipeline drains, the
// approved set in MySQL, Cassandra and every cached page are identical. While
// writes flow, a young mismatch is the pipeline at work; an old one is a bug.
// Callers therefore judge mismatches by age (see Report.Older).
//
// The comparisons are pure functions over loaded data (CompareWindow,
// CompareHot, CompareReplies, ComparePin, ComparePending, CompareCassandra),
// so each rule is unit-tested with constructed data; the Inspector loads
// that data from MySQL, Redis and, when given a CassandraSource
// (inspect/cqlsource), Cassandra. A new check is one more Kind, one more
// compare function and one more call in Inspector.Video.
//
// The Repairer (repair.go) corrects what an inspection found from MySQL,
// through the change log and cdc; Plan, pure too, is its rule table.
package inspect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Kind names one way the read side can disagree with MySQL.
type Kind string

// The kinds of mismatch.
const (
	// Redis time window (vc:{V}:meta/time/body): the video's roots.
	CacheMissing     Kind = "cache_missing"      // approved root, inside the window's range, not in the window
	CacheNotApproved Kind = "cache_not_approved" // in the window, not an approved root in MySQL (or no such row)
	CacheWrongVideo  Kind = "cache_wrong_video"  // in the window of another video than its row's
	CacheBody        Kind = "cache_body"         // body missing or not the row's public JSON (likes and edited_at included)
	CacheTotal       Kind = "cache_total"        // meta total differs from the approved root count
	// Redis hot window (vc:{V}:hmeta/hot/hbody).
	HotMissing    Kind = "hot_missing"     // approved root sorting inside the window's range, not in it
	HotNotVisible Kind = "hot_not_visible" // member that is not an approved root of the video
	HotScore      Kind = "hot_score"       // score differs from the MySQL like count
	HotBody       Kind = "hot_body"        // hbody missing or not the row's public JSON
	HotTotal      Kind = "hot_total"       // hmeta total differs from the approved root count
	// Redis reply lists (vc:{V}:rm:P/r:P/rb:P), one per root P.
	ReplyMissing    Kind = "reply_missing"     // approved reply of P inside the list's range, not in it
	ReplyNotVisible Kind = "reply_not_visible" // member that is not an approved reply of P
	ReplyBody       Kind = "reply_body"        // body missing or not the row's public JSON
	ReplyTotal      Kind = "reply_total"       // meta total differs from P's approved reply count
	// Redis pin (vc:{V}:pin).
	PinCache Kind = "pin_cache" // cached pin differs from MySQL video_pins
	// Cassandra read model.
	CassMissing     Kind = "cassandra_missing"      // approved (or any row, for comments_by_id) absent
	CassNotApproved Kind = "cassandra_not_approved" // in comments_by_video / replies_by_parent, not an approved root / reply of that parent
	CassOld         Kind = "cassandra_old"          // a row with an older version than MySQL's
	CassDiffers     Kind = "cassandra_differs"      // same version, other content or status
	CassCount       Kind = "cassandra_count"        // video_counts.approved differs from the approved root count
	CassLikes       Kind = "cassandra_likes"        // comment_likes or likes_by_bucket differs from MySQL's COUNT(*) of comment_likes
	CassPin         Kind = "cassandra_pin"          // video_pins differs from MySQL video_pins
	CassHot         Kind = "cassandra_hot"          // hot_by_video: an approved root absent or filed under another count, or an entry that is no approved root
	// Redis private pending views (vc:{V}:u:U), one per author U.
	PendingMissing Kind = "pending_missing" // the author's pending comment, changed within the views' TTL, not in their view
	PendingStale   Kind = "pending_stale"   // in U's view, but not a pending comment of U on the video (approved, removed, or no such row)
	PendingBody    Kind = "pending_body"    // in the view with a body other than the row's public JSON
)

// CacheKinds are the kinds of the Redis checks, the ones cdc's job reports.
var CacheKinds = []Kind{CacheMissing, CacheNotApproved, CacheWrongVideo, CacheBody, CacheTotal,
	HotMissing, HotNotVisible, HotScore, HotBody, HotTotal,
	ReplyMissing, ReplyNotVisible, ReplyBody, ReplyTotal, PinCache,
	PendingMissing, PendingStale, PendingBody}

// CassandraKinds are the kinds of the read-model checks.
var CassandraKinds = []Kind{CassMissing, CassNotApproved, CassOld, CassDiffers, CassCount, CassLikes, CassPin, CassHot}

// Kinds lists every Kind, for reports and metrics.
var Kinds = append(append([]Kind{}, CacheKinds...), CassandraKinds...)

// Mismatch is one disagreement.
type Mismatch struct {
	Kind   Kind
	Video  int64
	ID     int64         // the comment; 0 for a video-level mismatch (totals, counts)
	Age    time.Duration // now − the MySQL row's updated_at (or version time)
	Where  string        // the key or table holding the wrong entry
	Detail string
	// Ghost says the read side holds something no change of MySQL will
	// ever touch: a comment MySQL has no row for, another video's comment
	// in this video's list, another author's comment in a private view, a
	// pin MySQL has no row for.
	Ghost bool
	// Held is what the read side holds, where a repair needs more than the
	// MySQL row: the Cassandra row of a comment MySQL lacks, the pin
	// (ID, Version) of a pin MySQL lacks, the like count (LikeCount) a hot
	// entry is filed under (−1: none), the author (UserID) of a pending view.
	Held comment.Comment
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s video=%d id=%d age=%s %s: %s", m.Kind, m.Video, m.ID, m.Age.Round(time.Millisecond), m.Where, m.Detail)
}

// Row is a MySQL comments row with its last change time.
type Row struct {
	comment.Comment
	UpdatedAt time.Time
	// LikedAt is the newest created_at of the comment's comment_likes rows
	// (zero: none). A like never touches the comments row.
	LikedAt time.Time
}

// age is how long ago the row last changed, never negative.
func (r Row) age(now time.Time) time.Duration {
	return max(now.Sub(r.UpdatedAt), 0)
}

// likeAge is the age of a like count mismatch: since the row's or its
// likes' last change. (An unlike deletes its row and leaves no time: a
// count still on its way after one looks as old as the previous change.)
func (r Row) likeAge(now time.Time) time.Duration {
	last := r.UpdatedAt
	if r.LikedAt.After(last) {
		last = r.LikedAt
	}
	return max(now.Sub(last), 0)
}

// bodyAge is the age of a body mismatch: likeAge when the body differs
// from the expected one only in like_count, else age.
func (r Row) bodyAge(now time.Time, got []byte) time.Duration {
	var g comment.Public
	if json.Unmarshal(got, &g) == nil {
		w := r.Public()
		g.LikeCount = w.LikeCount
		if g == w {
			return r.likeAge(now)
		}
	}
	return r.age(now)
}

// versionAge is the age of a version with no MySQL row: versions are the
// microsecond clock of the change.
func versionAge(now time.Time, version int64) time.Duration {
	if version <= 0 {
		return 0
	}
	return max(now.Sub(time.UnixMicro(version)), 0)
}

// idAge is the age of a comment known only by its id.
func idAge(now time.Time, id int64) time.Duration {
	return max(now.Sub(comment.IDTime(id)), 0)
}

// Truth is what MySQL says about one video, as far as a check needs it.
type Truth struct {
	Video int64
	// Rows by id: every approved row the check covers, plus the row of every
	// id the read side holds (any status, any video), when MySQL has it.
	// LikeCount is COUNT(*) of the comment's comment_likes rows (the
	// comments.like_count column stays 0).
	Rows map[int64]Row
	// Approved is the video's approved root count (replies are not in the
	// video's total).
	Approved int64
	// RootsComplete says Rows holds every approved root of the video, so
	// the hot window's range can be checked.
	RootsComplete bool
	// Pin is the video's video_pins row.
	Pin PinRow
	// LastChange is the newest updated_at of the video's rows (the age of a
	// video-level mismatch); zero when unknown.
	LastChange time.Time
}

// PinRow is a MySQL video_pins row.
type PinRow struct {
	Exists    bool
	ID        int64 // the pinned comment; 0: unpinned
	Version   int64
	UpdatedAt time.Time
}

func (t Truth) videoAge(now time.Time) time.Duration {
	if t.LastChange.IsZero() {
		return 0
	}
	return max(now.Sub(t.LastChange), 0)
}

// approvedIDs returns the approved ids of the video in t whose parent is
// parent (0: roots), newest first.
func (t Truth) approvedIDs(parent int64) []int64 {
	var ids []int64
	for id, r := range t.Rows {
		if r.VideoID == t.Video && r.Status == comment.Approved && r.ParentID == parent {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	return ids
}

// PublicBody is the body a reader must see for row c: the JSON of
// comment.Public, exactly as cdc records it and readsvc serves it.
func PublicBody(c comment.Comment) []byte {
	b, _ := json.Marshal(c.Public()) // a struct of strings and ints cannot fail
	return b
}

// bodyDiff says how a cached body differs from the row's public JSON, or "".
// Bodies are compared as decoded comment.Public values, so key order and
// spacing do not matter, but every field does.
func bodyDiff(got []byte, want comment.Comment) string {
	wantB := PublicBody(want)
	if bytes.Equal(got, wantB) {
		return ""
	}
	var g comment.Public
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Sprintf("body is not a comment's JSON (%v): %.80q", err, got)
	}
	if w := want.Public(); g != w {
		return fmt.Sprintf("body %s, want %s", got, wantB)
	}
	return ""
}

// listRules are the kinds and keys of one cached list: the time window
// (parent 0) or a reply list.
type listRules struct {
	parent                                       int64
	missing, notVisible, wrongVideo, body, total Kind
	key, bodyKey, metaKey                        string
	what                                         string // "approved root", "approved reply of P"
	counted                                      string // what the total counts
}

func timeRules(video int64) listRules {
	return listRules{missing: CacheMissing, notVisible: CacheNotApproved, wrongVideo: CacheWrongVideo, body: CacheBody, total: CacheTotal,
		key: pagecache.KeyName(video, "time"), bodyKey: pagecache.KeyName(video, "body"), metaKey: pagecache.KeyName(video, "meta"),
		what: "approved root", counted: "approved roots"}
}

func replyRules(video, parent int64) listRules {
	return listRules{parent: parent, missing: ReplyMissing, notVisible: ReplyNotVisible, wrongVideo: ReplyNotVisible, body: ReplyBody, total: ReplyTotal,
		key: pagecache.KeyName(video, fmt.Sprint("r:", parent)), bodyKey: pagecache.KeyName(video, fmt.Sprint("rb:", parent)), metaKey: pagecache.KeyName(video, fmt.Sprint("rm:", parent)),
		what: fmt.Sprintf("approved reply of %d", parent), counted: fmt.Sprintf("approved replies of %d", parent)}
}

// visibility says why row r (ok: MySQL has it) may not be in a list of
// video's comments with parent, or "" when it belongs there.
func visibility(video, parent int64, r Row, ok bool) (wrongVideo bool, why string) {
	switch {
	case !ok:
		return false, "cached, but MySQL has no such comment"
	case r.VideoID != video:
		return true, fmt.Sprintf("cached, but the comment belongs to video %d", r.VideoID)
	case r.Status != comment.Approved:
		return false, fmt.Sprintf("cached, but %s in MySQL (version %d)", r.Status, r.Version)
	case r.ParentID != parent && parent == 0:
		return false, fmt.Sprintf("cached, but a reply of %d, not a root", r.ParentID)
	case r.ParentID != parent && r.ParentID == 0:
		return false, fmt.Sprintf("cached, but a root, not a reply of %d", parent)
	case r.ParentID != parent:
		return false, fmt.Sprintf("cached, but its parent is %d", r.ParentID)
	}
	return false, ""
}

// CompareWindow checks a video's cached time window against MySQL:
//
//   - every member must be an approved root comment of this video whose
//     cached body is its public JSON (with its like count and edited_at);
//   - every approved root inside the window's range must be a member: all
//     of them when the window claims to be complete, else those newer than
//     its oldest member (below it, pages come from Cassandra);
//   - meta total must be the approved root count.
//
// t.Rows must hold every approved root in that range and the row of every
// member. A window that is not cached (no meta) has nothing to compare.
func CompareWindow(now time.Time, t Truth, w pagecache.WindowSnapshot) []Mismatch {
	return compareList(now, t, w, t.Approved, timeRules(t.Video))
}

// CompareReplies checks root parent's cached reply list against MySQL with
// the rules of CompareWindow: members are approved replies of parent, the
// approved replies in the list's range are members, and the total is
// parent's approved reply count. t.Rows must hold every approved reply of
// parent and the row of every member.
func CompareReplies(now time.Time, t Truth, parent int64, w pagecache.WindowSnapshot) []Mismatch {
	return compareList(now, t, w, int64(len(t.approvedIDs(parent))), replyRules(t.Video, parent))
}

func compareList(now time.Time, t Truth, w pagecache.WindowSnapshot, total int64, k listRules) []Mismatch {
	if !w.Cached {
		return nil
	}
	var out []Mismatch
	member := make(map[int64]bool, len(w.IDs))
	var oldest int64
	for _, id := range w.IDs {
		member[id] = true
		if oldest == 0 || id < oldest {
			oldest = id
		}
		r, ok := t.Rows[id]
		if wrong, why := visibility(t.Video, k.parent, r, ok); why != "" {
			m := Mismatch{Kind: k.notVisible, Video: t.Video, ID: id, Age: r.age(now), Where: k.key, Detail: why, Ghost: !ok || wrong}
			if !ok {
				m.Age = idAge(now, id)
			}
			if wrong {
				m.Kind = k.wrongVideo
			}
			out = append(out, m)
			continue
		}
		body, ok := w.Bodies[id]
		if !ok {
			out = append(out, Mismatch{Kind: k.body, Video: t.Video, ID: id, Age: r.age(now), Where: k.bodyKey, Detail: "member without a body"})
			continue
		}
		if d := bodyDiff(body, r.Comment); d != "" {
			out = append(out, Mismatch{Kind: k.body, Video: t.Video, ID: id, Age: r.bodyAge(now, body), Where: k.bodyKey, Detail: d})
		}
	}
	for _, id := range t.approvedIDs(k.parent) {
		if member[id] {
			continue
		}
		if !w.Complete && (oldest == 0 || id < oldest) {
			continue // beyond the window: served from Cassandra
		}
		r := t.Rows[id]
		why := k.what + ", newer than the list's oldest member, not cached"
		if w.Complete {
			why = k.what + ", not in a list that claims to be complete"
		}
		out = append(out, Mismatch{Kind: k.missing, Video: t.Video, ID: id, Age: r.age(now), Where: k.key,
			Detail: fmt.Sprintf("%s (version %d)", why, r.Version)})
	}
	if w.Total != total {
		out = append(out, Mismatch{Kind: k.total, Video: t.Video, Age: t.videoAge(now), Where: k.metaKey,
			Detail: fmt.Sprintf("total %d, MySQL has %d (%s)", w.Total, total, k.counted)})
	}
	return out
}

// HotMember and HotSnapshot are the hot window as pagecache reads it raw.
type (
	HotMember   = pagecache.HotMember
	HotSnapshot = pagecache.HotSnapshot
)

// hotBefore says whether (likes a, id a) comes before (likes b, id b) in
// the hot order: likes desc, then id desc.
func hotBefore(la, ia, lb, ib int64) bool { return la > lb || la == lb && ia > ib }

// CompareHot checks a video's cached hot window against MySQL:
//
//   - every member must be an approved root of this video, scored with its
//     like count (COUNT of comment_likes), its hbody the public JSON;
//   - when t.RootsComplete, every approved root sorting inside the window's
//     range must be a member: all of them when the window claims to be
//     complete, else those before its lowest member in the hot order
//     (likes desc, id desc);
//   - hmeta total must be the approved root count.
//
// The members' order is Redis' own (score, member), so correct scores make
// a correct order.
func CompareHot(now time.Time, t Truth, h HotSnapshot) []Mismatch {
	if !h.Cached {
		return nil
	}
	var out []Mismatch
	key, bodyKey := pagecache.KeyName(t.Video, "hot"), pagecache.KeyName(t.Video, "hbody")
	member := make(map[int64]bool, len(h.Members))
	for _, hm := range h.Members {
		member[hm.ID] = true
		r, ok := t.Rows[hm.ID]
		if wrong, why := visibility(t.Video, 0, r, ok); why != "" {
			m := Mismatch{Kind: HotNotVisible, Video: t.Video, ID: hm.ID, Age: r.age(now), Where: key, Detail: why, Ghost: !ok || wrong}
			if !ok {
				m.Age = idAge(now, hm.ID)
			}
			out = append(out, m)
			continue
		}
		if hm.Likes != r.LikeCount {
			out = append(out, Mismatch{Kind: HotScore, Video: t.Video, ID: hm.ID, Age: r.likeAge(now), Where: key,
				Detail: fmt.Sprintf("score %d, MySQL has %d likes", hm.Likes, r.LikeCount)})
		}
		body, ok := h.Bodies[hm.ID]
		if !ok {
			out = append(out, Mismatch{Kind: HotBody, Video: t.Video, ID: hm.ID, Age: r.age(now), Where: bodyKey, Detail: "member without a body"})
			continue
		}
		if d := bodyDiff(body, r.Comment); d != "" {
			out = append(out, Mismatch{Kind: HotBody, Video: t.Video, ID: hm.ID, Age: r.bodyAge(now, body), Where: bodyKey, Detail: d})
		}
	}
	if t.RootsComplete && (h.Complete || len(h.Members) > 0) {
		var low HotMember
		if n := len(h.Members); n > 0 {
			low = h.Members[n-1]
		}
		for _, id := range t.approvedIDs(0) {
			r := t.Rows[id]
			if member[id] || !h.Complete && !hotBefore(r.LikeCount, id, low.Likes, low.ID) {
				continue
			}
			why := fmt.Sprintf("approved root with %d likes, above the window's lowest member (%d likes, id %d), not cached", r.LikeCount, low.Likes, low.ID)
			if h.Complete {
				why = fmt.Sprintf("approved root with %d likes, not in a window that claims to be complete", r.LikeCount)
			}
			out = append(out, Mismatch{Kind: HotMissing, Video: t.Video, ID: id, Age: r.likeAge(now), Where: key, Detail: why})
		}
	}
	if h.Total != t.Approved {
		out = append(out, Mismatch{Kind: HotTotal, Video: t.Video, Age: t.videoAge(now), Where: pagecache.KeyName(t.Video, "hmeta"),
			Detail: fmt.Sprintf("total %d, MySQL has %d approved roots", h.Total, t.Approved)})
	}
	return out
}

// ComparePin checks the cached pin vc:{V}:pin against MySQL video_pins: the
// same comment at the same version; without a MySQL row, nothing pinned.
func ComparePin(now time.Time, t Truth, p pagecache.Pin) []Mismatch {
	if !p.Cached {
		return nil
	}
	where := pagecache.KeyName(t.Video, "pin")
	switch {
	case !t.Pin.Exists && p.ID != 0:
		return []Mismatch{{Kind: PinCache, Video: t.Video, Age: versionAge(now, p.Version), Where: where, Ghost: true, Held: comment.Comment{ID: p.ID, Version: p.Version},
			Detail: fmt.Sprintf("comment %d pinned at version %d, MySQL has no pin row", p.ID, p.Version)}}
	case t.Pin.Exists && (p.ID != t.Pin.ID || p.Version != t.Pin.Version):
		return []Mismatch{{Kind: PinCache, Video: t.Video, Age: max(now.Sub(t.Pin.UpdatedAt), 0), Where: where,
			Detail: fmt.Sprintf("comment %d at version %d, MySQL has comment %d at version %d", p.ID, p.Version, t.Pin.ID, t.Pin.Version)}}
	}
	return nil
}

// CassRow is one Cassandra row of a comment.
type CassRow struct {
	comment.Comment // Status is Approved for comments_by_video and replies_by_parent rows
}

// CassHotEntry is one hot_by_video row.
type CassHotEntry struct {
	Band      int32
	Likes, ID int64
}

// CassPinRow is a Cassandra video_pins row.
type CassPinRow struct {
	ID, Version int64
}

// CassVideo is what the Cassandra read model holds for one video.
type CassVideo struct {
	// ByVideo are the comments_by_video rows of the video (every bucket
	// video_buckets lists plus every bucket of the video's MySQL rows).
	ByVideo map[int64]CassRow
	// ByID are the comments_by_id rows of the ids asked for.
	ByID map[int64]CassRow
	// ByParent are the replies_by_parent rows of the parents asked for.
	ByParent map[int64]CassRow
	// Likes are the comment_likes like_count of the ids asked for that
	// have a row.
	Likes map[int64]int64
	// BucketLikes are the likes_by_bucket counts of the video's buckets
	// (those ByVideo was read from), by comment id: what pages show.
	BucketLikes map[int64]int64
	// Count is video_counts.approved; HasCount false when there is no row.
	Count    int64
	HasCount bool
	// Pin is the video_pins row, when there is one.
	Pin *CassPinRow
	// Hot are the hot_by_video rows of every band video_hot_bands lists
	// (the syncer writes the band with every entry).
	Hot []CassHotEntry
}

// CompareCassandra checks the read model of one video against MySQL:
// comments_by_video must hold exactly the approved roots and
// replies_by_parent (of the parents read) exactly the approved replies,
// each at MySQL's version with the same content (like counts live in
// comment_likes: the rows' own like_count is never written);
// comments_by_id must hold every comment of the video at MySQL's version
// and status; comment_likes and likes_by_bucket must hold each comment's
// MySQL like count (a missing row is 0); video_counts the approved root count; video_pins
// MySQL's pin. t.Rows must hold every row of the video.
func CompareCassandra(now time.Time, t Truth, c CassVideo) []Mismatch {
	var out []Mismatch
	ids := make([]int64, 0, len(t.Rows))
	for id := range t.Rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	for _, id := range ids {
		r := t.Rows[id]
		if r.VideoID != t.Video {
			continue
		}
		if r.Status == comment.Approved {
			if r.ParentID == 0 {
				out = append(out, compareRow(now, t.Video, r, c.ByVideo, "comments_by_video", false)...)
			} else {
				out = append(out, compareRow(now, t.Video, r, c.ByParent, "replies_by_parent", false)...)
			}
		}
		out = append(out, compareRow(now, t.Video, r, c.ByID, "comments_by_id", true)...)
		for _, held := range []struct {
			where string
			likes map[int64]int64
		}{{"comment_likes", c.Likes}, {"likes_by_bucket", c.BucketLikes}} {
			if got := held.likes[id]; got != r.LikeCount {
				out = append(out, Mismatch{Kind: CassLikes, Video: t.Video, ID: id, Age: r.likeAge(now), Where: held.where,
					Detail: fmt.Sprintf("like_count %d, MySQL has %d likes", got, r.LikeCount)})
			}
		}
	}
	out = append(out, extraRows(now, t, c.ByVideo, "comments_by_video", func(r Row) bool { return r.ParentID == 0 })...)
	out = append(out, extraRows(now, t, c.ByParent, "replies_by_parent", func(r Row) bool { return r.ParentID != 0 })...)
	if !c.HasCount && t.Approved != 0 || c.HasCount && c.Count != t.Approved {
		got := "no row"
		if c.HasCount {
			got = fmt.Sprint(c.Count)
		}
		out = append(out, Mismatch{Kind: CassCount, Video: t.Video, Age: t.videoAge(now), Where: "video_counts",
			Detail: fmt.Sprintf("approved %s, MySQL has %d approved roots", got, t.Approved)})
	}
	var got CassPinRow
	if c.Pin != nil {
		got = *c.Pin
	}
	want := CassPinRow{ID: t.Pin.ID, Version: t.Pin.Version}
	if t.Pin.Exists && got != want || !t.Pin.Exists && got.ID != 0 {
		out = append(out, Mismatch{Kind: CassPin, Video: t.Video, Age: max(now.Sub(t.Pin.UpdatedAt), 0), Where: "video_pins",
			Detail: fmt.Sprintf("comment %d at version %d, MySQL has comment %d at version %d (row: %t)", got.ID, got.Version, want.ID, want.Version, t.Pin.Exists)})
		if !t.Pin.Exists {
			out[len(out)-1].Age = versionAge(now, got.Version)
			out[len(out)-1].Ghost = true
		}
		out[len(out)-1].Held = comment.Comment{ID: got.ID, Version: got.Version}
	}
	out = append(out, compareHotIndex(now, t, c.Hot)...)
	return out
}

// compareHotIndex checks hot_by_video: every approved root of the video
// filed exactly once, under its MySQL like count (in that count's band),
// and nothing else.
func compareHotIndex(now time.Time, t Truth, hot []CassHotEntry) []Mismatch {
	var out []Mismatch
	filed := map[int64]bool{}
	for _, e := range hot {
		r, ok := t.Rows[e.ID]
		m := Mismatch{Kind: CassHot, Video: t.Video, ID: e.ID, Where: "hot_by_video", Held: comment.Comment{ID: e.ID, LikeCount: e.Likes}}
		switch {
		case !ok:
			m.Age, m.Detail, m.Ghost = idAge(now, e.ID), fmt.Sprintf("filed under %d likes, but MySQL has no such comment", e.Likes), true
		case r.VideoID != t.Video || r.Status != comment.Approved || r.ParentID != 0:
			m.Age, m.Detail = r.age(now), fmt.Sprintf("filed under %d likes, but a %s %s of video %d in MySQL", e.Likes, r.Status, shapeOf(r), r.VideoID)
		case e.Likes != r.LikeCount || e.Band != comment.HotBand(e.Likes):
			m.Age, m.Detail = r.likeAge(now), fmt.Sprintf("filed under %d likes in band %d, MySQL has %d likes", e.Likes, e.Band, r.LikeCount)
		case filed[e.ID]:
			m.Age, m.Detail = r.likeAge(now), fmt.Sprintf("filed twice (again under %d likes)", e.Likes)
		default:
			filed[e.ID] = true
			continue
		}
		out = append(out, m)
	}
	for _, id := range t.approvedIDs(0) {
		if !filed[id] {
			r := t.Rows[id]
			out = append(out, Mismatch{Kind: CassHot, Video: t.Video, ID: id, Age: r.likeAge(now), Where: "hot_by_video",
				Detail: fmt.Sprintf("approved root with %d likes (version %d), not filed", r.LikeCount, r.Version), Held: comment.Comment{ID: id, LikeCount: -1}})
		}
	}
	return out
}

func shapeOf(r Row) string {
	if r.ParentID != 0 {
		return "reply"
	}
	return "root"
}

// PendingView is one author's private view vc:{V}:u:U as Redis holds it.
type PendingView struct {
	User   int64
	Bodies map[int64][]byte // id → body
}

// ComparePending checks the private pending views of the authors in views
// (every author the inspection looked at, with or without a view): each
// entry must be a pending comment of its author on the video, its body the
// row's public JSON; each pending comment of those authors changed since
// since (now − the views' TTL: an older view may have expired) must be in
// its author's view. t.Rows must hold every pending row of those authors and
// the row of every entry MySQL has.
func ComparePending(now time.Time, t Truth, since time.Time, views []PendingView) []Mismatch {
	var out []Mismatch
	for _, v := range views {
		where := pagecache.KeyName(t.Video, fmt.Sprint("u:", v.User))
		held := comment.Comment{UserID: v.User}
		ids := make([]int64, 0, len(v.Bodies))
		for id := range v.Bodies {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
		for _, id := range ids {
			r, ok := t.Rows[id]
			m := Mismatch{Kind: PendingStale, Video: t.Video, ID: id, Age: r.age(now), Where: where, Held: held}
			switch {
			case !ok:
				m.Age, m.Detail, m.Ghost = idAge(now, id), "in the view, but MySQL has no such comment", true
			case r.VideoID != t.Video || r.UserID != v.User:
				m.Detail, m.Ghost = fmt.Sprintf("in the view, but a comment of user %d on video %d", r.UserID, r.VideoID), true
			case r.Status != comment.Pending:
				m.Detail = fmt.Sprintf("in the view, but %s in MySQL (version %d)", r.Status, r.Version)
			default:
				d := bodyDiff(v.Bodies[id], r.Comment)
				if d == "" {
					continue
				}
				m.Kind, m.Age, m.Detail = PendingBody, r.bodyAge(now, v.Bodies[id]), d
			}
			out = append(out, m)
		}
		var mine []int64
		for id, r := range t.Rows {
			if r.VideoID == t.Video && r.UserID == v.User && r.Status == comment.Pending && !r.UpdatedAt.Before(since) && v.Bodies[id] == nil {
				mine = append(mine, id)
			}
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i] > mine[j] })
		for _, id := range mine {
			r := t.Rows[id]
			out = append(out, Mismatch{Kind: PendingMissing, Video: t.Video, ID: id, Age: r.age(now), Where: where, Held: held,
				Detail: fmt.Sprintf("pending comment of user %d (version %d), not in their view", v.User, r.Version)})
		}
	}
	return out
}

// extraRows reports the rows of table that are not approved comments of
// the video of the right shape (root or reply, by fits).
func extraRows(now time.Time, t Truth, rows map[int64]CassRow, table string, fits func(Row) bool) []Mismatch {
	var extra []int64
	for id, cr := range rows {
		r, ok := t.Rows[id]
		if !ok || r.Status != comment.Approved || r.VideoID != t.Video || !fits(r) || table == "replies_by_parent" && cr.ParentID != r.ParentID {
			extra = append(extra, id)
		}
	}
	sort.Slice(extra, func(i, j int) bool { return extra[i] > extra[j] })
	var out []Mismatch
	for _, id := range extra {
		cr := rows[id]
		m := Mismatch{Kind: CassNotApproved, Video: t.Video, ID: id, Where: table}
		if r, ok := t.Rows[id]; ok {
			m.Age = r.age(now)
			switch {
			case r.VideoID != t.Video:
				m.Detail = fmt.Sprintf("present, but the comment belongs to video %d", r.VideoID)
			case r.Status != comment.Approved:
				m.Detail = fmt.Sprintf("present at version %d, but %s in MySQL (version %d)", cr.Version, r.Status, r.Version)
			default:
				m.Detail = fmt.Sprintf("present under parent %d, but MySQL's parent is %d", cr.ParentID, r.ParentID)
			}
		} else {
			m.Age = versionAge(now, cr.Version)
			m.Detail = fmt.Sprintf("present at version %d, but MySQL has no such comment", cr.Version)
			m.Held, m.Ghost = cr.Comment, true
		}
		out = append(out, m)
	}
	return out
}

// compareRow checks one MySQL row against its Cassandra row in table.
func compareRow(now time.Time, video int64, r Row, rows map[int64]CassRow, table string, withStatus bool) []Mismatch {
	cr, ok := rows[r.ID]
	m := Mismatch{Video: video, ID: r.ID, Age: r.age(now), Where: table}
	switch {
	case !ok:
		m.Kind, m.Detail = CassMissing, fmt.Sprintf("%s in MySQL (version %d), absent", r.Status, r.Version)
	case cr.Version < r.Version:
		m.Kind, m.Detail = CassOld, fmt.Sprintf("version %d, MySQL has %d (%s)", cr.Version, r.Version, r.Status)
	case cr.Version > r.Version:
		m.Kind, m.Detail = CassDiffers, fmt.Sprintf("version %d is newer than MySQL's %d", cr.Version, r.Version)
	case withStatus && cr.Status != r.Status:
		m.Kind, m.Detail = CassDiffers, fmt.Sprintf("status %s at version %d, MySQL has %s", cr.Status, cr.Version, r.Status)
	default:
		want := r.Comment
		got := cr.Comment
		got.Status, want.Status = "", ""
		got.LikeCount, want.LikeCount = 0, 0 // comment_likes holds the count
		got.ID = want.ID
		if g, w := got.Public(), want.Public(); g != w {
			m.Kind, m.Detail = CassDiffers, fmt.Sprintf("row %s, MySQL has %s", PublicBody(got), PublicBody(want))
		} else {
			return nil
		}
	}
	return []Mismatch{m}
}
