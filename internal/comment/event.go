package comment

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// EventType says what changed. Every event carries the whole row after the
// change, so a consumer applies any type the same way — state transfer, not
// deltas — and replaying or reordering events, ordered by version, is
// harmless.
type EventType string

// The event types.
const (
	EventCreated  EventType = "created"
	EventApproved EventType = "approved"
	EventRejected EventType = "rejected"
	EventDeleted  EventType = "deleted"
	EventEdited   EventType = "edited"
)

func (t EventType) valid() bool {
	switch t {
	case EventCreated, EventApproved, EventRejected, EventDeleted, EventEdited:
		return true
	}
	return false
}

// EventSchema is the version of the envelope below.
const EventSchema = 1

// Event is the Kafka message on topic "comments", keyed by video id.
type Event struct {
	Schema  int       `json:"schema"`
	Type    EventType `json:"type"`
	Version int64     `json:"version"` // equals Comment.Version
	Comment Comment   `json:"comment"`
}

// NewEvent wraps the row c after a change of type t.
func NewEvent(t EventType, c Comment) Event {
	return Event{Schema: EventSchema, Type: t, Version: c.Version, Comment: c}
}

// Key is the Kafka message key of e: the video id, so one video's events
// keep their order within one partition.
func (e Event) Key() []byte { return []byte(strconv.FormatInt(e.Comment.VideoID, 10)) }

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
	c := e.Comment
	var why string
	switch {
	case e.Schema != EventSchema:
		why = fmt.Sprintf("schema %d, want %d", e.Schema, EventSchema)
	case !e.Type.valid():
		why = fmt.Sprintf("type %q", e.Type)
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
	if why != "" {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, why)
	}
	return nil
}
