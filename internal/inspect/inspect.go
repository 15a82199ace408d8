package inspect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// The MySQL statements of the inspector (read only).
const (
	rowColumns         = `id, video_id, user_id, parent_id, content, status, created_at, edited_at, like_count, reply_count, version, updated_at`
	selectVideoRows    = `SELECT ` + rowColumns + ` FROM comments WHERE video_id = ?`
	selectApproved     = `SELECT ` + rowColumns + ` FROM comments WHERE video_id = ? AND status = 'approved' AND parent_id = 0 AND id >= ? ORDER BY id DESC LIMIT ?`
	selectRoots        = `SELECT ` + rowColumns + ` FROM comments WHERE video_id = ? AND status = 'approved' AND parent_id = 0`
	selectByIDs        = `SELECT ` + rowColumns + ` FROM comments WHERE id IN (%s)`
	selectRepliesOf    = `SELECT ` + rowColumns + ` FROM comments WHERE parent_id IN (%s) AND status = 'approved'`
	countApproved      = `SELECT COUNT(*) FROM comments WHERE video_id = ? AND status = 'approved' AND parent_id = 0`
	selectLastChange   = `SELECT MAX(updated_at) FROM comments WHERE video_id = ?`
	selectVideos       = `SELECT DISTINCT video_id FROM comments WHERE video_id > ? ORDER BY video_id LIMIT ?`
	selectReplyParents = `SELECT DISTINCT parent_id FROM comments WHERE video_id = ? AND parent_id <> 0 LIMIT ?`
	countLikes         = `SELECT comment_id, COUNT(*), MAX(created_at) FROM comment_likes WHERE comment_id IN (%s) GROUP BY comment_id`
	selectPin          = `SELECT comment_id, version, updated_at FROM video_pins WHERE video_id = ?`
	selectAuthors      = `SELECT DISTINCT user_id FROM comments WHERE video_id = ? AND updated_at >= ? LIMIT ?`
	selectPendingOf    = `SELECT ` + rowColumns + ` FROM comments WHERE video_id = ? AND status = 'pending' AND user_id IN (%s)`
)

// Defaults of Options.
const (
	// DefaultMaxHotRoots bounds the approved roots loaded to check the hot
	// window's range: beyond it only the members are checked (unless the
	// Cassandra checks load every row anyway).
	DefaultMaxHotRoots = 5000
	// DefaultMaxReplyLists bounds the reply lists looked for per video: the
	// roots MySQL has replies of (full inspection), then up to as many
	// roots of the cached windows.
	DefaultMaxReplyLists = 1000
	// DefaultMaxPendingViews bounds the authors whose private pending views
	// are read per video: those with a comment changed within the views'
	// TTL (pagecache.Cache.PendingTTL), the only ones that can have a view.
	DefaultMaxPendingViews = 1000
	// idChunk is the size of one IN (…) list.
	idChunk = 500
)

// CassandraSource reads the Cassandra read model of one video: the
// comments_by_video rows (ids lets it find buckets the read model's own index
// lost), the comments_by_id and comment_likes rows of ids, the
// replies_by_parent rows of parents, video_counts and video_pins.
// inspect/cqlsource implements it; it is an interface so cdc, which must not
// depend on the Cassandra driver, can run the cache checks alone.
type CassandraSource interface {
	Video(ctx context.Context, video int64, ids, parents []int64) (CassVideo, error)
}

// Options tune an Inspector.
type Options struct {
	// Cassandra, when set, adds the read-model checks (which read every
	// MySQL row of the video).
	Cassandra CassandraSource
	// Lists adds the hot-window, reply-list and private-view checks to
	// the time window and the pin.
	Lists bool
	// MaxHotRoots: see DefaultMaxHotRoots.
	MaxHotRoots int
	// MaxReplyLists: see DefaultMaxReplyLists.
	MaxReplyLists int
	// MaxPendingViews: see DefaultMaxPendingViews.
	MaxPendingViews int
	// Now is the clock of mismatch ages; time.Now by default.
	Now func() time.Time
	// Concurrency is how many videos Run inspects at once (default 4).
	Concurrency int
}

// Inspector compares the read side with MySQL, one video at a time.
type Inspector struct {
	db    *sql.DB
	cache *pagecache.Cache
	opts  Options
}

// New returns an Inspector reading MySQL through db and the page cache
// through cache.
func New(db *sql.DB, cache *pagecache.Cache, opts Options) *Inspector {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	config.Default(&opts.Concurrency, 4)
	config.Default(&opts.MaxHotRoots, DefaultMaxHotRoots)
	config.Default(&opts.MaxReplyLists, DefaultMaxReplyLists)
	config.Default(&opts.MaxPendingViews, DefaultMaxPendingViews)
	return &Inspector{db: db, cache: cache, opts: opts}
}

// cacheState is what Redis holds of one video.
type cacheState struct {
	time    pagecache.WindowSnapshot
	hot     HotSnapshot
	pin     pagecache.Pin
	replies map[int64]pagecache.WindowSnapshot // cached lists by root
	pending []PendingView                      // the views of the authors looked at (empty ones too)
	since   time.Time                          // the oldest change a pending view can still hold
}

// Video inspects one video: its cached time window, hot window, reply
// lists, pin and private pending views and, with a CassandraSource, its
// read model.
func (in *Inspector) Video(ctx context.Context, video int64) ([]Mismatch, error) {
	cs, err := in.readCache(ctx, video)
	if err != nil {
		return nil, err
	}
	var t Truth
	if in.opts.Cassandra != nil {
		t, err = in.videoTruth(ctx, video, cs)
	} else {
		t, err = in.cacheTruth(ctx, video, cs)
	}
	if err != nil {
		return nil, err
	}
	now := in.opts.Now()
	var out []Mismatch
	out = append(out, CompareWindow(now, t, cs.time)...)
	out = append(out, CompareHot(now, t, cs.hot)...)
	parents := make([]int64, 0, len(cs.replies))
	for p := range cs.replies {
		parents = append(parents, p)
	}
	sort.Slice(parents, func(i, j int) bool { return parents[i] > parents[j] })
	for _, p := range parents {
		out = append(out, CompareReplies(now, t, p, cs.replies[p])...)
	}
	out = append(out, ComparePin(now, t, cs.pin)...)
	out = append(out, ComparePending(now, t, cs.since, cs.pending)...)
	if in.opts.Cassandra != nil {
		ids := make([]int64, 0, len(t.Rows))
		var rparents []int64
		seen := map[int64]bool{}
		for id, r := range t.Rows {
			if r.VideoID != video {
				continue
			}
			ids = append(ids, id)
			if r.ParentID != 0 && !seen[r.ParentID] {
				seen[r.ParentID] = true
				rparents = append(rparents, r.ParentID)
			}
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
		sort.Slice(rparents, func(i, j int) bool { return rparents[i] > rparents[j] })
		cv, err := in.opts.Cassandra.Video(ctx, video, ids, rparents)
		if err != nil {
			return nil, err
		}
		out = append(out, CompareCassandra(now, t, cv)...)
	}
	if err := in.videoAges(ctx, video, out); err != nil {
		return nil, err
	}
	return out, nil
}

// readCache reads the video's Redis state. Reply lists are looked for
// under the roots the time and hot windows hold and, in a full inspection
// (with Cassandra), under every root MySQL has replies of (at most
// MaxReplyLists): the bounded inspection (cdc's job) never walks all of a
// video's rows.
func (in *Inspector) readCache(ctx context.Context, video int64) (cacheState, error) {
	var cs cacheState
	var err error
	if cs.time, err = in.cache.Snapshot(ctx, video); err != nil {
		return cs, err
	}
	if cs.pin, err = in.cache.Pin(ctx, video); err != nil {
		return cs, err
	}
	if !in.opts.Lists {
		return cs, nil
	}
	if cs.hot, err = in.cache.SnapshotHot(ctx, video); err != nil {
		return cs, err
	}
	var parents []int64
	if in.opts.Cassandra != nil { // a full inspection: every root MySQL has replies of
		if parents, err = in.replyParents(ctx, video); err != nil {
			return cs, err
		}
	}
	seen := map[int64]bool{}
	for _, p := range parents {
		seen[p] = true
	}
	for _, id := range cs.time.IDs {
		if !seen[id] && len(parents) < 2*in.opts.MaxReplyLists {
			seen[id] = true
			parents = append(parents, id)
		}
	}
	for _, m := range cs.hot.Members {
		if !seen[m.ID] && len(parents) < 2*in.opts.MaxReplyLists {
			seen[m.ID] = true
			parents = append(parents, m.ID)
		}
	}
	if cs.replies, err = in.cache.SnapshotReplies(ctx, video, parents); err != nil {
		return cs, err
	}
	return cs, in.readPending(ctx, video, &cs)
}

// readPending reads the private views of the video's authors who changed
// a comment within the views' TTL.
func (in *Inspector) readPending(ctx context.Context, video int64, cs *cacheState) error {
	cs.since = in.opts.Now().Add(-in.cache.PendingTTL())
	users, err := in.queryIDs(ctx, fmt.Sprintf("recent authors of video %d", video), selectAuthors, video, cs.since, in.opts.MaxPendingViews)
	if err != nil {
		return err
	}
	for _, u := range users {
		entries, err := in.cache.Pending(ctx, video, u)
		if err != nil {
			return err
		}
		v := PendingView{User: u, Bodies: make(map[int64][]byte, len(entries))}
		for _, e := range entries {
			v.Bodies[e.ID] = e.Body
		}
		cs.pending = append(cs.pending, v)
	}
	return nil
}

func (in *Inspector) replyParents(ctx context.Context, video int64) ([]int64, error) {
	return in.queryIDs(ctx, fmt.Sprintf("reply parents of video %d", video), selectReplyParents, video, in.opts.MaxReplyLists)
}

// videoAges sets the age of video-level mismatches from the video's newest
// change, read only when there is such a mismatch.
func (in *Inspector) videoAges(ctx context.Context, video int64, ms []Mismatch) error {
	var last sql.NullTime
	for i := range ms {
		if ms[i].ID != 0 || ms[i].Age > 0 {
			continue
		}
		if !last.Valid {
			if err := in.db.QueryRowContext(ctx, selectLastChange, video).Scan(&last); err != nil {
				return fmt.Errorf("inspect: last change of video %d: %w", video, err)
			}
			if !last.Valid {
				return nil
			}
		}
		ms[i].Age = max(in.opts.Now().Sub(last.Time), 0)
	}
	return nil
}

// cacheTruth loads what the cache checks need, bounded by what is cached:
// the approved roots from the time window's oldest member up (from the
// newest when the window claims to be complete or is empty), every approved
// root when the hot window is cached and the video has at most MaxHotRoots,
// the approved replies of each cached reply list, the rows of every member,
// their like counts, the approved root count and the pin.
func (in *Inspector) cacheTruth(ctx context.Context, video int64, cs cacheState) (Truth, error) {
	t := Truth{Video: video, Rows: map[int64]Row{}}
	if err := in.db.QueryRowContext(ctx, countApproved, video).Scan(&t.Approved); err != nil {
		return Truth{}, fmt.Errorf("inspect: approved count of video %d: %w", video, err)
	}
	snap := cs.time
	if snap.Cached {
		var from int64
		if !snap.Complete && len(snap.IDs) > 0 {
			from = snap.IDs[len(snap.IDs)-1]
		}
		limit := len(snap.IDs) + in.cache.Window() + 1
		if !snap.Complete && len(snap.IDs) == 0 {
			limit = 0 // an empty, incomplete window covers no range
		}
		if limit > 0 {
			if err := in.queryRows(ctx, t.Rows, selectApproved, video, from, limit); err != nil {
				return Truth{}, err
			}
		}
	}
	if cs.hot.Cached && t.Approved <= int64(in.opts.MaxHotRoots) {
		if err := in.queryRows(ctx, t.Rows, selectRoots, video); err != nil {
			return Truth{}, err
		}
		t.RootsComplete = true
	}
	return t, in.complete(ctx, &t, cs)
}

// videoTruth loads every row of the video (and what complete adds).
func (in *Inspector) videoTruth(ctx context.Context, video int64, cs cacheState) (Truth, error) {
	t := Truth{Video: video, Rows: map[int64]Row{}, RootsComplete: true}
	if err := in.queryRows(ctx, t.Rows, selectVideoRows, video); err != nil {
		return Truth{}, err
	}
	for _, r := range t.Rows {
		if r.Status == comment.Approved && r.ParentID == 0 {
			t.Approved++
		}
	}
	return t, in.complete(ctx, &t, cs)
}

// complete adds to t the approved replies of the cached reply lists, the
// rows of every cached member and pending-view entry it lacks, the pending
// rows of the authors whose views were read, every row's like count and
// the pin.
func (in *Inspector) complete(ctx context.Context, t *Truth, cs cacheState) error {
	parents := make([]int64, 0, len(cs.replies))
	for p := range cs.replies {
		parents = append(parents, p)
	}
	if err := in.eachChunk(parents, func(args []any, marks string) error {
		return in.queryRows(ctx, t.Rows, fmt.Sprintf(selectRepliesOf, marks), args...)
	}); err != nil {
		return err
	}
	var missing []int64
	asked := map[int64]bool{}
	add := func(id int64) {
		if _, ok := t.Rows[id]; !ok && !asked[id] {
			asked[id] = true
			missing = append(missing, id)
		}
	}
	for _, id := range cs.time.IDs {
		add(id)
	}
	for _, m := range cs.hot.Members {
		add(m.ID)
	}
	for _, w := range cs.replies {
		for _, id := range w.IDs {
			add(id)
		}
	}
	users := make([]int64, 0, len(cs.pending))
	for _, v := range cs.pending {
		users = append(users, v.User)
		for id := range v.Bodies {
			add(id)
		}
	}
	if err := in.eachChunk(missing, func(args []any, marks string) error {
		return in.queryRows(ctx, t.Rows, fmt.Sprintf(selectByIDs, marks), args...)
	}); err != nil {
		return err
	}
	if err := in.eachChunk(users, func(args []any, marks string) error {
		return in.queryRows(ctx, t.Rows, fmt.Sprintf(selectPendingOf, marks), append([]any{t.Video}, args...)...)
	}); err != nil {
		return err
	}
	ids := make([]int64, 0, len(t.Rows))
	for id := range t.Rows {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
	if err := in.eachChunk(ids, func(args []any, marks string) error {
		return in.likeCounts(ctx, t.Rows, fmt.Sprintf(countLikes, marks), args...)
	}); err != nil {
		return err
	}
	var pinAt sql.NullTime
	err := in.db.QueryRowContext(ctx, selectPin, t.Video).Scan(&t.Pin.ID, &t.Pin.Version, &pinAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("inspect: pin of video %d: %w", t.Video, err)
	default:
		t.Pin.Exists, t.Pin.UpdatedAt = true, pinAt.Time
	}
	return nil
}

// eachChunk calls f with ids in IN (…) lists of at most idChunk.
func (in *Inspector) eachChunk(ids []int64, f func(args []any, marks string) error) error {
	for len(ids) > 0 {
		chunk := ids[:min(idChunk, len(ids))]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		if err := f(args, strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")); err != nil {
			return err
		}
	}
	return nil
}

// likeCounts sets LikeCount and LikedAt of the rows q (comment_id,
// COUNT(*), MAX(created_at)) counts.
func (in *Inspector) likeCounts(ctx context.Context, into map[int64]Row, q string, args ...any) error {
	return in.queryEach(ctx, "count likes", func(rows *sql.Rows) error {
		var (
			id, n int64
			at    sql.NullTime
		)
		if err := rows.Scan(&id, &n, &at); err != nil {
			return err
		}
		if r, ok := into[id]; ok {
			r.LikeCount, r.LikedAt = n, at.Time
			into[id] = r
		}
		return nil
	}, q, args...)
}

func (in *Inspector) queryRows(ctx context.Context, into map[int64]Row, q string, args ...any) error {
	return in.queryEach(ctx, "read comments", func(rows *sql.Rows) error {
		var (
			r      Row
			status string
			edited sql.NullTime
			err    error
		)
		if err := rows.Scan(&r.ID, &r.VideoID, &r.UserID, &r.ParentID, &r.Content, &status, &r.CreatedAt, &edited,
			&r.LikeCount, &r.ReplyCount, &r.Version, &r.UpdatedAt); err != nil {
			return err
		}
		if r.Status, err = comment.ParseStatus(status); err != nil {
			return fmt.Errorf("comment %d: %w", r.ID, err)
		}
		if edited.Valid {
			r.EditedAt = edited.Time
		}
		r.LikeCount = 0 // comments.like_count stays 0: comment_likes counts (likeCounts)
		if old, ok := into[r.ID]; ok {
			r.LikeCount, r.LikedAt = old.LikeCount, old.LikedAt
		}
		into[r.ID] = r
		return nil
	}, q, args...)
}

// queryEach runs q and hands every row to scan; what names the query in
// the errors ("inspect: what: …").
func (in *Inspector) queryEach(ctx context.Context, what string, scan func(*sql.Rows) error, q string, args ...any) error {
	rows, err := in.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("inspect: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("inspect: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inspect: %s: %w", what, err)
	}
	return nil
}

// queryIDs returns the single integer column of q's rows.
func (in *Inspector) queryIDs(ctx context.Context, what, q string, args ...any) ([]int64, error) {
	var ids []int64
	err := in.queryEach(ctx, what, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		ids = append(ids, id)
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// Videos lists every video worth inspecting: each video with a comment in
// MySQL and each video with cached pages in Redis, ascending.
func (in *Inspector) Videos(ctx context.Context) ([]int64, error) {
	seen := map[int64]bool{}
	var after int64
	for {
		rows, err := in.db.QueryContext(ctx, selectVideos, after, 10000)
		if err != nil {
			return nil, fmt.Errorf("inspect: list videos: %w", err)
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&after); err != nil {
				rows.Close()
				return nil, fmt.Errorf("inspect: list videos: %w", err)
			}
			seen[after] = true
			n++
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return nil, fmt.Errorf("inspect: list videos: %w", err)
		}
		if n < 10000 {
			break
		}
	}
	var cursor uint64
	for {
		vs, next, err := in.cache.ScanCachedVideos(ctx, cursor, 10000)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			seen[v] = true
		}
		if cursor = next; cursor == 0 {
			break
		}
	}
	out := make([]int64, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Report is the result of one inspection run.
type Report struct {
	Videos     int
	Mismatches []Mismatch // by video; within one, by check (time window, hot window, reply lists, pin, Cassandra)
	Took       time.Duration
}

// Older returns the mismatches at least grace old: while writes flow, a
// younger one is the pipeline at work.
func (r Report) Older(grace time.Duration) []Mismatch {
	var out []Mismatch
	for _, m := range r.Mismatches {
		if m.Age >= grace {
			out = append(out, m)
		}
	}
	return out
}

// ByKind counts mismatches per kind.
func ByKind(ms []Mismatch) map[Kind]int {
	out := map[Kind]int{}
	for _, m := range ms {
		out[m.Kind]++
	}
	return out
}

// Run inspects videos, Concurrency at a time. A video whose inspection
// fails fails the run (an inspector that cannot read is not a clean bill).
func (in *Inspector) Run(ctx context.Context, videos []int64) (Report, error) {
	start := time.Now()
	results := make([][]Mismatch, len(videos))
	errs := make([]error, len(videos))
	sem := make(chan struct{}, in.opts.Concurrency)
	var wg sync.WaitGroup
	for i, v := range videos {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i], errs[i] = in.Video(ctx, v)
		}()
	}
	wg.Wait()
	rep := Report{Videos: len(videos), Took: time.Since(start)}
	if err := errors.Join(append(errs, ctx.Err())...); err != nil {
		return rep, err
	}
	for _, r := range results {
		rep.Mismatches = append(rep.Mismatches, r...)
	}
	return rep, nil
}
