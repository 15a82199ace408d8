package comment

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNextVersionNeverGoesBack(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		prev int64
		want int64
	}{
		{"clock ahead", 5, now.UnixMicro()},
		{"same microsecond", now.UnixMicro(), now.UnixMicro() + 1},
		{"clock behind the row", now.UnixMicro() + 1000, now.UnixMicro() + 1001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NextVersion(tt.prev, now); got != tt.want {
				t.Errorf("NextVersion(%d) = %d, want %d", tt.prev, got, tt.want)
			}
		})
	}
}

func TestIDGeneratorOrderAndLayout(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 30, 0, 0, time.UTC)
	g, err := NewIDGenerator(7, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	var prev int64
	for i := 0; i <= maxSeq; i++ { // a whole millisecond's worth
		id, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if id <= prev {
			t.Fatalf("id %d after %d", id, prev)
		}
		prev = id
	}
	if !IDTime(prev).Equal(at) {
		t.Errorf("IDTime = %v, want %v", IDTime(prev), at)
	}
	if node := (prev >> SeqBits) & MaxNode; node != 7 {
		t.Errorf("node bits = %d", node)
	}
	if MinIDAt(at) > prev || MinIDAt(at.Add(time.Millisecond)) <= prev {
		t.Errorf("MinIDAt does not bracket %d", prev)
	}
	if b := Bucket(prev); int64(b) != at.Unix()/3600 {
		t.Errorf("Bucket = %d", b)
	}
}

func TestIDGeneratorWaitsForTheNextMillisecond(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	calls := 0
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls > maxSeq+3 { // the sequence is used up: time moves on
			return clock.Add(time.Millisecond)
		}
		return clock
	}
	g, _ := NewIDGenerator(1, now)
	seen := map[int64]bool{}
	for i := 0; i < maxSeq+10; i++ {
		id, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		if seen[id] {
			t.Fatalf("duplicate id %d", id)
		}
		seen[id] = true
	}
}

func TestIDGeneratorRefusesALargeClockStepBack(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := at
	g, _ := NewIDGenerator(1, func() time.Time { return clock })
	if _, err := g.Next(); err != nil {
		t.Fatal(err)
	}
	clock = at.Add(-2 * MaxClockSkew)
	if _, err := g.Next(); !errors.Is(err, ErrClockBackwards) {
		t.Errorf("err = %v, want ErrClockBackwards", err)
	}
	if _, err := NewIDGenerator(MaxNode+1, time.Now); err == nil {
		t.Error("node out of range accepted")
	}
}

func TestParseID(t *testing.T) {
	for s, ok := range map[string]bool{
		"1": true, "9223372036854775807": true,
		"": false, "0": false, "-1": false, "+1": false, "01": false, "1.5": false, "9223372036854775808": false, "abc": false, " 1": false,
	} {
		if _, err := ParseID(s); (err == nil) != ok {
			t.Errorf("ParseID(%q) err = %v, want ok=%v", s, err, ok)
		}
	}
}

func sample() Comment {
	return Comment{ID: 100, VideoID: 7, UserID: 42, Content: "héllo <b>", Status: Approved,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Version: 3}
}

func TestEventRoundTrip(t *testing.T) {
	e := NewEvent(EventApproved, sample())
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if got != e {
		t.Errorf("round trip\n got %+v\nwant %+v", got, e)
	}
	if string(e.Key()) != "7" {
		t.Errorf("key %q", e.Key())
	}
}

func TestDecodeEventRejects(t *testing.T) {
	good, _ := NewEvent(EventCreated, sample()).Encode()
	tests := map[string]string{
		"not json":        `{`,
		"trailing data":   string(good) + `{}`,
		"unknown field":   strings.Replace(string(good), `"schema"`, `"extra":1,"schema"`, 1),
		"wrong schema":    strings.Replace(string(good), `"schema":1`, `"schema":2`, 1),
		"unknown type":    strings.Replace(string(good), `"created"`, `"exploded"`, 1),
		"version differs": strings.Replace(string(good), `"version":3,"comment"`, `"version":4,"comment"`, 1),
		"bad status":      strings.Replace(string(good), `"approved"`, `"hidden"`, 1),
		"zero id":         strings.Replace(string(good), `"id":100`, `"id":0`, 1),
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := DecodeEvent([]byte(in)); !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("err = %v, want ErrInvalidEvent", err)
			}
		})
	}
}

func TestFormatTimeIsMillisecondUTC(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.FixedZone("x", 3600))
	if got := FormatTime(at); got != "2026-03-04T04:06:07.891Z" {
		t.Errorf("FormatTime = %q", got)
	}
}

func TestPublicViewUsesStringIDs(t *testing.T) {
	p := sample().Public()
	if p.ID != "100" || p.VideoID != "7" || p.ParentID != "0" || p.CreatedAt != "2026-01-01T00:00:00.000Z" {
		t.Errorf("public view %+v", p)
	}
	if m := sample().Moderated(); m.Status != Approved || m.Version != "3" {
		t.Errorf("moderated view %+v", m)
	}
}

func TestLikeAndPinEvents(t *testing.T) {
	tests := []struct {
		name    string
		e       Event
		key     string
		comment int64
		valid   bool
	}{
		{"like", NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: 1}), "7", 100, true},
		{"unlike", NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: -1}), "7", 100, true},
		{"like delta 2", NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: 2}), "7", 100, false},
		{"like without user", NewLikeEvent(Like{CommentID: 100, VideoID: 7, Delta: 1}), "7", 100, false},
		{"like with a comment", Event{Schema: EventSchema, Type: EventLike, Like: Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: 1}, Comment: sample()}, "7", 100, false},
		{"like with a version", Event{Schema: EventSchema, Type: EventLike, Version: 3, Like: Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: 1}}, "7", 100, false},
		{"recount", NewLikeEvent(Like{CommentID: 100, VideoID: 7, Recount: true, Count: 5, Stale: 9}), "7", 100, true},
		{"recount to zero", NewLikeEvent(Like{CommentID: 100, VideoID: 7, Recount: true}), "7", 100, true},
		{"recount with a delta", NewLikeEvent(Like{CommentID: 100, VideoID: 7, Recount: true, Count: 5, Delta: 1}), "7", 100, false},
		{"recount with a user", NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Recount: true, Count: 5}), "7", 100, false},
		{"recount below zero", NewLikeEvent(Like{CommentID: 100, VideoID: 7, Recount: true, Count: -1}), "7", 100, false},
		{"like with a count", NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: 1, Count: 5}), "7", 100, false},
		{"pin", NewPinEvent(Pin{VideoID: 9, CommentID: 100, Version: 5}), "9", 100, true},
		{"unpin", NewPinEvent(Pin{VideoID: 9, Version: 6}), "9", 0, true},
		{"pin without version", NewPinEvent(Pin{VideoID: 9, CommentID: 100}), "9", 100, false},
		{"comment event with a like", Event{Schema: EventSchema, Type: EventApproved, Version: 3, Comment: sample(), Like: Like{CommentID: 1}}, "7", 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.e.Key()) != tt.key || tt.e.CommentID() != tt.comment {
				t.Errorf("key %q comment %d, want %q %d", tt.e.Key(), tt.e.CommentID(), tt.key, tt.comment)
			}
			b, err := tt.e.Encode()
			if !tt.valid {
				if !errors.Is(err, ErrInvalidEvent) {
					t.Fatalf("Encode err = %v, want ErrInvalidEvent", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), `"comment"`) {
				t.Errorf("%s carries a comment: %s", tt.e.Type, b)
			}
			got, err := DecodeEvent(b)
			if err != nil || got != tt.e {
				t.Errorf("round trip: %v\n got %+v\nwant %+v", err, got, tt.e)
			}
		})
	}
}

func TestEditedAtInViews(t *testing.T) {
	c := sample()
	if b, _ := NewEvent(EventApproved, c).Encode(); strings.Contains(string(b), "edited_at") {
		t.Errorf("an unedited comment's event names edited_at: %s", b)
	}
	if p := c.Public(); p.EditedAt != "" {
		t.Errorf("unedited public view has edited_at %q", p.EditedAt)
	}
	c.EditedAt = time.Date(2026, 1, 1, 0, 2, 3, 456789000, time.UTC)
	if p := c.Public(); p.EditedAt != "2026-01-01T00:02:03.456Z" {
		t.Errorf("edited_at %q, want millisecond UTC", p.EditedAt)
	}
	e := NewEvent(EventEdited, c)
	b, _ := e.Encode()
	got, err := DecodeEvent(b)
	if err != nil || !got.Comment.EditedAt.Equal(c.EditedAt) {
		t.Errorf("edited_at round trip: %v %v", err, got.Comment.EditedAt)
	}
}
