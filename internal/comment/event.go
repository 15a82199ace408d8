package comment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// EventType says what changed. Every comment event carries the whole row
// after the change, so a consumer applies any type the same way — state
// transfer, not deltas — and replaying or reordering events, ordered by
// version, is harmless.
//
// Two types carry no comment row (docs/likes-hot-replies.md): "like" carries
// a Like, a delta of ±1 that consumers order by Kafka offset (Version is 0),
// and "pinned" carries a Pin, the state of a video's pin ordered by its
// Version.
type EventType string

// The event types.
const (
	EventCreated  EventType = "created"
	EventApproved EventType = "approved"
	EventRejected EventType = "rejected"
	EventDeleted  EventType = "deleted"
	EventEdited   EventType = "edited"
	EventLike     EventType = "like"
	EventPinned   EventType = "pinned"
)

// IsComment reports whether events of type t carry a comment row.
func (t EventType) IsComment() bool {
	switch t {
	case EventCreated, EventApproved, EventRejected, EventDeleted, EventEdited:
		return true
	}
	return false
}

// Like is one user liking (Delta +1) or unliking (Delta −1) a comment, or
// a recount.
//
// A recount (Recount true, Delta 0, no user) is the inspector's repair of a
// like count the read model got wrong (internal/inspect, Repairer): Count is
// the comment's COUNT(*) of comment_likes rows, read in the transaction that
// wrote the event with the comment's likes locked, so every like before it in
// the comment's Kafka partition is counted and none after it is. A consumer
// sets the count instead of adding to it. Stale is a hot-index count the
// inspector saw the comment filed under: the consumer removes that entry
// too (unless it is Count).
type Like struct {
	CommentID int64 `json:"comment_id"`
	VideoID   int64 `json:"video_id"`
	UserID    int64 `json:"user_id"`
	Delta     int64 `json:"delta"`
	Recount   bool  `json:"recount,omitzero"`
	Count     int64 `json:"count,omitzero"`
	Stale     int64 `json:"stale,omitzero"`
}

// Pin is a video's pinned comment after a change: CommentID 0 means none.
// Version orders a video's pin changes (video_pins.version in MySQL).
type Pin struct {
	VideoID   int64 `json:"video_id"`
	CommentID int64 `json:"comment_id"`
	Version   int64 `json:"version"`
}

// EventSchema is the version of the envelope below.
const EventSchema = 1

// Event is the Kafka message on topic "comments", keyed by video id.
// Exactly one of Comment, Like and Pin is set, as Type says.
type Event struct {
	Schema  int       `json:"schema"`
	Type    EventType `json:"type"`
	Version int64     `json:"version"` // Comment.Version, Pin.Version, or 0 for a like
	Comment Comment   `json:"comment,omitzero"`
	Like    Like      `json:"like,omitzero"`
	Pin     Pin       `json:"pin,omitzero"`
}

// NewEvent wraps the row c after a change of type t.
func NewEvent(t EventType, c Comment) Event {
	return Event{Schema: EventSchema, Type: t, Version: c.Version, Comment: c}
}

// NewLikeEvent is the event of one like (+1) or unlike (−1).
func NewLikeEvent(l Like) Event {
	return Event{Schema: EventSchema, Type: EventLike, Like: l}
}

// NewPinEvent is the event of a video's pin after a change.
func NewPinEvent(p Pin) Event {
	return Event{Schema: EventSchema, Type: EventPinned, Version: p.Version, Pin: p}
}

// VideoID is the video e belongs to.
func (e Event) VideoID() int64 { video, _ := e.subject(); return video }

// CommentID is the comment e is about (the liked one for a like, the pinned
// one — 0 when unpinned — for a pin).
func (e Event) CommentID() int64 { _, comment := e.subject(); return comment }

// subject is the video and comment e is about, from whichever of Comment,
// Like and Pin its Type says is set.
func (e Event) subject() (video, comment int64) {
	switch e.Type {
	case EventLike:
		return e.Like.VideoID, e.Like.CommentID
	case EventPinned:
		return e.Pin.VideoID, e.Pin.CommentID
	}
	return e.Comment.VideoID, e.Comment.ID
}

// Key is the Kafka message key of e: the video id, so one video's events —
// comment changes, likes and pins alike — keep their order within one
// partition.
func (e Event) Key() []byte { return []byte(strconv.FormatInt(e.VideoID(), 10)) }

// Encode returns the JSON of e after validating it.
func (e Event) Encode() ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(e)
}

// ErrInvalidEvent marks an event no consumer can apply: it belongs in the
// dead-letter topic, not in a retry loop.
var ErrInvalidEvent = errors.New("invalid comment event")

// DecodeEvent parses and validates one Kafka message value.
func DecodeEvent(b []byte) (Event, error) {
	var e Event
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if d.More() {
		return Event{}, fmt.Errorf("%w: trailing data", ErrInvalidEvent)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Validate checks what every consumer relies on.
func (e Event) Validate() error {
	var why string
	switch {
	case e.Schema != EventSchema:
		why = fmt.Sprintf("schema %d, want %d", e.Schema, EventSchema)
	case e.Type == EventLike:
		why = e.validateLike()
	case e.Type == EventPinned:
		why = e.validatePin()
	case !e.Type.IsComment():
		why = fmt.Sprintf("type %q", e.Type)
	default:
		why = e.validateComment()
	}
	if why != "" {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, why)
	}
	return nil
}

func (e Event) validateLike() string {
	l := e.Like
	switch {
	case e.Comment != (Comment{}) || e.Pin != (Pin{}):
		return "a like event carries only a like"
	case e.Version != 0:
		return fmt.Sprintf("like event with version %d, want 0", e.Version)
	case l.Recount && (l.CommentID <= 0 || l.VideoID <= 0 || l.UserID != 0 || l.Delta != 0):
		return "like recount: comment and video ids must be positive, user and delta 0"
	case l.Recount && (l.Count < 0 || l.Stale < 0):
		return fmt.Sprintf("like recount: count %d, stale %d must not be negative", l.Count, l.Stale)
	case l.Recount:
	case l.CommentID <= 0 || l.VideoID <= 0 || l.UserID <= 0:
		return "like: ids must be positive"
	case l.Count != 0 || l.Stale != 0:
		return "like: count and stale belong to a recount"
	case l.Delta != 1 && l.Delta != -1:
		return fmt.Sprintf("like: delta %d, want 1 or -1", l.Delta)
	}
	return ""
}

func (e Event) validatePin() string {
	p := e.Pin
	switch {
	case e.Comment != (Comment{}) || e.Like != (Like{}):
		return "a pinned event carries only a pin"
	case e.Version <= 0 || e.Version != p.Version:
		return fmt.Sprintf("version %d (pin version %d)", e.Version, p.Version)
	case p.VideoID <= 0 || p.CommentID < 0:
		return "pin: video id must be positive, comment id not negative"
	}
	return ""
}

func (e Event) validateComment() string {
	c := e.Comment
	var why string
	switch {
	case e.Like != (Like{}) || e.Pin != (Pin{}):
		why = "a comment event carries only a comment"
	case e.Version <= 0 || e.Version != c.Version:
		why = fmt.Sprintf("version %d (comment version %d)", e.Version, c.Version)
	case c.ID <= 0 || c.VideoID <= 0 || c.UserID <= 0 || c.ParentID < 0:
		why = "ids must be positive"
	case c.ParentID == c.ID:
		why = "comment is its own parent"
	case c.CreatedAt.IsZero():
		why = "no created_at"
	case !utf8.ValidString(c.Content):
		why = "content is not UTF-8"
	case c.LikeCount < 0 || c.ReplyCount < 0:
		why = "negative count"
	}
	if why == "" {
		if _, err := ParseStatus(string(c.Status)); err != nil {
			why = err.Error()
		}
	}
	return why
}
