package comment

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecodeEvent: any bytes either fail with ErrInvalidEvent (the syncer
// sends them to the dead-letter topic) or decode to an event that survives a
// re-encode unchanged. Never a panic, never another error class.
func FuzzDecodeEvent(f *testing.F) {
	good, _ := NewEvent(EventApproved, Comment{ID: 100, VideoID: 7, UserID: 42, Content: "héllo\n<b>", Status: Approved,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Version: 3}).Encode()
	f.Add(good)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"schema":1,"type":"created","version":1,"comment":{"id":1,"video_id":1,"user_id":1,"parent_id":0,"content":"","status":"pending","created_at":"2026-01-01T00:00:00Z","like_count":0,"reply_count":0,"version":1}}`))
	f.Add([]byte(`{"schema":1,"type":"created","version":9223372036854775807,"comment":{"id":-1}}`))
	f.Add([]byte("\xff\xfe"))
	like, _ := NewLikeEvent(Like{CommentID: 100, VideoID: 7, UserID: 42, Delta: -1}).Encode()
	f.Add(like)
	pin, _ := NewPinEvent(Pin{VideoID: 7, CommentID: 100, Version: 5}).Encode()
	f.Add(pin)
	edited, _ := NewEvent(EventEdited, Comment{ID: 100, VideoID: 7, UserID: 42, Content: "fixed", Status: Approved,
		CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), EditedAt: time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC), Version: 4}).Encode()
	f.Add(edited)
	f.Add([]byte(`{"schema":1,"type":"like","version":0,"like":{"comment_id":1,"video_id":2,"user_id":3,"delta":2}}`))
	f.Add([]byte(`{"schema":1,"type":"pinned","version":3,"pin":{"video_id":2,"comment_id":0,"version":3},"comment":{"id":1}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidEvent) {
				t.Fatalf("error %v is not ErrInvalidEvent", err)
			}
			return
		}
		again, err := e.Encode()
		if err != nil {
			t.Fatalf("a decoded event does not encode: %v", err)
		}
		e2, err := DecodeEvent(again)
		if err != nil || !e2.Comment.CreatedAt.Equal(e.Comment.CreatedAt) || !e2.Comment.EditedAt.Equal(e.Comment.EditedAt) {
			t.Fatalf("re-decode: %v", err)
		}
		e2.Comment.CreatedAt = e.Comment.CreatedAt
		e2.Comment.EditedAt = e.Comment.EditedAt
		if e2 != e {
			t.Fatalf("round trip changed the event:\n%+v\n%+v", e, e2)
		}
	})
}

// FuzzParseID: ParseID accepts exactly the canonical decimal form of a
// positive int64.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "01", "9223372036854775807", "9223372036854775808", "", "1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseID(s)
		if err != nil {
			return
		}
		if n <= 0 || FormatID(n) != s {
			t.Fatalf("ParseID(%q) = %d, which formats as %q", s, n, FormatID(n))
		}
	})
}
