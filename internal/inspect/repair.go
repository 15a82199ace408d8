package inspect

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Action is one way of repairing a mismatch.
//
// A repair corrects the read side from MySQL through the paths every change
// takes, so it obeys the same ordering rules as any change and can never
// move the read side backwards: a row MySQL has is touched (a new version
// goes through the change log to Cassandra and through the binlog to cdc,
// which edits every cached page); what MySQL lacks is answered by an event
// the syncer applies like any other (an erasure, a recount, an unpin).
// Dropping a video's cached pages is the last resort: for a cached total or
// a member no change will ever touch again, and for a video whose earlier
// repair did not take.
type Action string

// The actions, in the order Repair runs them.
const (
	// EraseGhost: a read-model row MySQL has no row for gets a "deleted"
	// event at the read model's version + 1 in the outbox.
	EraseGhost Action = "erase_ghost"
	// TouchComment: UPDATE comments SET updated_at = NOW(6) — the version
	// trigger moves the version, the change log and the binlog carry it.
	TouchComment Action = "touch_comment"
	// TouchBuckets: TouchComment of the newest approved root in each of the
	// video's buckets, so the syncer recounts every bucket (video_counts).
	TouchBuckets Action = "touch_buckets"
	// Recount: a like recount event (comment.Like.Recount) with COUNT(*) of
	// comment_likes read under lock, naming the stray hot entry.
	Recount Action = "recount"
	// TouchPin: UPDATE video_pins SET updated_at = NOW(6) (its version
	// trigger moves the version).
	TouchPin Action = "touch_pin"
	// Unpin: a pin MySQL has no row for is set to "nothing" at the held
	// version + 1: an outbox event for Cassandra, pagecache.SetPin for Redis.
	Unpin Action = "unpin"
	// DropPending: a private-view entry of a comment MySQL does not hold
	// for that author is removed (pagecache.DropPending).
	DropPending Action = "drop_pending"
	// DropPages: pagecache.Invalidate of the video; the next read refills.
	DropPages Action = "drop_pages"
)

// Actions lists every Action in the order Repair runs them.
var Actions = []Action{EraseGhost, TouchComment, TouchBuckets, Recount, TouchPin, Unpin, DropPending, DropPages}

// Step is one repair: an action on a video and, for most actions, one
// comment; Kinds are the mismatches it answers.
type Step struct {
	Action Action
	Video  int64
	ID     int64           // the comment (TouchComment, EraseGhost, Recount, DropPending)
	Held   comment.Comment // the read side's copy (EraseGhost, Unpin), Held.LikeCount the stray count (Recount), Held.UserID the view's author (DropPending)
	Kinds  []Kind
}

// Plan turns mismatches into steps, one per action and target, in the
// order of Actions. drop lists videos whose every Redis mismatch goes
// straight to DropPages (the job's videos whose repair did not take).
// Plan is pure: each rule is unit-tested.
func Plan(ms []Mismatch, drop map[int64]bool) []Step {
	type key struct {
		a     Action
		video int64
		id    int64
		stale int64 // Recount: one step per stray count; DropPending: the view's author
	}
	steps := map[key]*Step{}
	var order []key
	add := func(k key, held comment.Comment, kind Kind) {
		s, ok := steps[k]
		if !ok {
			s = &Step{Action: k.a, Video: k.video, ID: k.id, Held: held}
			steps[k] = s
			order = append(order, k)
		}
		if held.Version > s.Held.Version { // a ghost seen in two tables: past the newest
			s.Held = held
		}
		if !slices.Contains(s.Kinds, kind) {
			s.Kinds = append(s.Kinds, kind)
		}
	}
	for _, m := range ms {
		v, id := m.Video, m.ID
		if slices.Contains(CacheKinds, m.Kind) && drop[v] {
			add(key{a: DropPages, video: v}, comment.Comment{}, m.Kind)
			continue
		}
		switch m.Kind {
		case CassMissing, CassOld, CassDiffers:
			add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
		case CassNotApproved:
			if m.Ghost && m.Held.ID == id {
				add(key{a: EraseGhost, video: v, id: id}, m.Held, m.Kind)
			} else {
				add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
			}
		case CassCount:
			add(key{a: TouchBuckets, video: v}, comment.Comment{}, m.Kind)
		case CassLikes, HotScore:
			add(key{a: Recount, video: v, id: id}, comment.Comment{}, m.Kind)
		case CassHot:
			if m.Held.LikeCount < 0 { // not filed: the touch files it at its count
				add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
			} else {
				add(key{a: Recount, video: v, id: id, stale: m.Held.LikeCount}, comment.Comment{LikeCount: m.Held.LikeCount}, m.Kind)
			}
		case CassPin, PinCache:
			if m.Ghost {
				add(key{a: Unpin, video: v}, m.Held, m.Kind)
			} else {
				add(key{a: TouchPin, video: v}, comment.Comment{}, m.Kind)
			}
		case PendingStale:
			if m.Ghost { // no change of the row will ever reach this view
				add(key{a: DropPending, video: v, id: id, stale: m.Held.UserID}, comment.Comment{UserID: m.Held.UserID}, m.Kind)
			} else { // the author's row, no longer pending: cdc's record of it removes it
				add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
			}
		case PendingMissing, PendingBody,
			CacheMissing, CacheBody, HotMissing, HotBody, ReplyMissing, ReplyBody:
			add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
		case CacheNotApproved, CacheWrongVideo, HotNotVisible, ReplyNotVisible:
			if m.Ghost { // no change will ever remove it
				add(key{a: DropPages, video: v}, comment.Comment{}, m.Kind)
			} else {
				add(key{a: TouchComment, video: v, id: id}, comment.Comment{}, m.Kind)
			}
		default: // CacheTotal, HotTotal, ReplyTotal: a number no single change corrects
			add(key{a: DropPages, video: v}, comment.Comment{}, m.Kind)
		}
	}
	out := make([]Step, 0, len(order))
	for _, k := range order {
		out = append(out, *steps[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(Actions, out[i].Action) < slices.Index(Actions, out[j].Action)
	})
	return out
}

// Repairs counts the steps Repair carried out, by action and by kind.
type Repairs struct {
	ByAction map[Action]int
	ByKind   map[Kind]int
}

// Total is the number of steps carried out.
func (r Repairs) Total() int {
	n := 0
	for _, c := range r.ByAction {
		n += c
	}
	return n
}

// Repairer carries out repair plans against MySQL and the page cache.
type Repairer struct {
	db      *sql.DB
	cache   *pagecache.Cache
	log     *slog.Logger
	repairs *prometheus.CounterVec
}

// NewRepairer returns a Repairer writing MySQL through db (comments and
// video_pins touches, outbox events) and Redis through cache. With reg it
// exports cdc_inspector_repairs_total{kind,action}.
func NewRepairer(db *sql.DB, cache *pagecache.Cache, log *slog.Logger, reg prometheus.Registerer) *Repairer {
	if log == nil {
		log = slog.Default()
	}
	r := &Repairer{db: db, cache: cache, log: log, repairs: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdc_inspector_repairs_total",
		Help: "Mismatches older than the grace period the inspector repaired, by mismatch kind and action (drop_pages is the last resort).",
	}, []string{"kind", "action"})}
	if reg != nil {
		reg.MustRegister(r.repairs)
	}
	return r
}

// Repair plans ms and carries the plan out, each step on its own: a step
// that fails is logged and skipped (the next inspection finds its
// mismatch again). It returns what was done and the errors met.
func (r *Repairer) Repair(ctx context.Context, ms []Mismatch, drop map[int64]bool) (Repairs, error) {
	done := Repairs{ByAction: map[Action]int{}, ByKind: map[Kind]int{}}
	var errs []error
	for _, s := range Plan(ms, drop) {
		if err := r.step(ctx, s); err != nil {
			errs = append(errs, err)
			r.log.Warn("inspector: repair failed", "action", s.Action, "video", s.Video, "id", s.ID, "err", err)
			continue
		}
		done.ByAction[s.Action]++
		for _, k := range s.Kinds {
			done.ByKind[k]++
			r.repairs.WithLabelValues(string(k), string(s.Action)).Inc()
		}
		r.log.Info("inspector: repaired", "action", s.Action, "video", s.Video, "id", s.ID, "kinds", s.Kinds)
	}
	return done, errors.Join(errs...)
}

// The MySQL statements of the repairs.
const (
	touchComment  = `UPDATE comments SET updated_at = NOW(6) WHERE id = ?`
	selectRootIDs = `SELECT id FROM comments WHERE video_id = ? AND status = 'approved' AND parent_id = 0`
	lockLikes     = `SELECT COUNT(*) FROM comment_likes WHERE comment_id = ? FOR UPDATE`
	touchPin      = `UPDATE video_pins SET updated_at = NOW(6) WHERE video_id = ?`
	// insertEvent writes one event unless MySQL holds the row it is about
	// (the last argument is the row's existence check).
	insertEvent = `INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
		SELECT ?, ?, ?, ?, ?, NOW(6) FROM DUAL WHERE NOT EXISTS (%s)`
	commentExists = `SELECT 1 FROM comments WHERE id = ?`
	pinExists     = `SELECT 1 FROM video_pins WHERE video_id = ?`
	// insertRecount writes a recount event unconditionally.
	insertRecount = `INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at) VALUES (?, ?, 0, 'like', ?, NOW(6))`
)

func (r *Repairer) step(ctx context.Context, s Step) error {
	switch s.Action {
	case EraseGhost:
		c := s.Held
		c.Status, c.Content, c.LikeCount, c.Version = comment.Deleted, "", 0, c.Version+1
		return r.event(ctx, comment.NewEvent(comment.EventDeleted, c), s.ID, fmt.Sprintf(insertEvent, commentExists), s.ID)
	case TouchComment:
		_, err := r.db.ExecContext(ctx, touchComment, s.ID)
		return err
	case TouchBuckets:
		return r.touchBuckets(ctx, s.Video)
	case Recount:
		return r.recount(ctx, s)
	case TouchPin:
		_, err := r.db.ExecContext(ctx, touchPin, s.Video)
		return err
	case Unpin:
		p := comment.Pin{VideoID: s.Video, CommentID: 0, Version: s.Held.Version + 1}
		e := comment.Event{Schema: comment.EventSchema, Type: comment.EventPinned, Version: p.Version, Pin: p}
		if err := r.event(ctx, e, 0, fmt.Sprintf(insertEvent, pinExists), s.Video); err != nil {
			return err
		}
		_, err := r.cache.SetPin(ctx, s.Video, 0, p.Version)
		return err
	case DropPending:
		return r.cache.DropPending(ctx, s.Video, s.Held.UserID, s.ID)
	case DropPages:
		_, err := r.cache.Invalidate(ctx, s.Video)
		return err
	}
	return fmt.Errorf("inspect: unknown repair %q", s.Action)
}

// event writes e to the outbox unless exists (with arg) finds MySQL holds
// what e would erase.
func (r *Repairer) event(ctx context.Context, e comment.Event, id int64, q string, arg any) error {
	payload, err := e.Encode()
	if err != nil {
		return fmt.Errorf("inspect: repair event: %w", err)
	}
	_, err = r.db.ExecContext(ctx, q, e.VideoID(), id, e.Version, string(e.Type), payload, arg)
	return err
}

// touchBuckets touches the newest approved root of each of the video's
// buckets.
func (r *Repairer) touchBuckets(ctx context.Context, video int64) error {
	rows, err := r.db.QueryContext(ctx, selectRootIDs, video)
	if err != nil {
		return err
	}
	newest := map[int32]int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		if b := comment.Bucket(id); id > newest[b] {
			newest[b] = id
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	for _, id := range newest {
		if _, err := r.db.ExecContext(ctx, touchComment, id); err != nil {
			return err
		}
	}
	return nil
}

// recount writes a like recount of s.ID in one transaction with its likes
// locked: a like committed before it is counted and sits before it in the
// outbox; one after it waits for the lock and comes after it.
func (r *Repairer) recount(ctx context.Context, s Step) error {
	tx, err := r.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int64
	if err := tx.QueryRowContext(ctx, lockLikes, s.ID).Scan(&n); err != nil {
		return err
	}
	e := comment.NewLikeEvent(comment.Like{CommentID: s.ID, VideoID: s.Video, Recount: true, Count: n, Stale: max(s.Held.LikeCount, 0)})
	payload, err := e.Encode()
	if err != nil {
		return fmt.Errorf("inspect: recount event: %w", err)
	}
	if _, err := tx.ExecContext(ctx, insertRecount, s.Video, s.ID, payload); err != nil {
		return err
	}
	return tx.Commit()
}
