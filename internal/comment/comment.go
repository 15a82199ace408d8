// Package comment is the comment model every service shares: the row, its
// statuses, its ids and versions, how it is shown in the public and the
// moderation APIs, and the event that carries it through Kafka.
package comment

import (
	"fmt"
	"strconv"
	"time"
)

// Status is a comment's moderation state.
type Status string

// The statuses. Only Approved comments are visible to readers.
const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Rejected Status = "rejected"
	Deleted  Status = "deleted"
)

// ParseStatus returns the Status named s.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case Pending, Approved, Rejected, Deleted:
		return st, nil
	}
	return "", fmt.Errorf("unknown comment status %q", s)
}

// Visible reports whether readers may see a comment in this status.
func (s Status) Visible() bool { return s == Approved }

// Comment is one comment row as MySQL holds it: the full state after its
// latest change.
type Comment struct {
	ID         int64     `json:"id"`
	VideoID    int64     `json:"video_id"`
	UserID     int64     `json:"user_id"`
	ParentID   int64     `json:"parent_id"` // 0 for a root comment
	Content    string    `json:"content"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	EditedAt   time.Time `json:"edited_at,omitzero"` // zero: never edited
	LikeCount  int64     `json:"like_count"`
	ReplyCount int64     `json:"reply_count"`
	Version    int64     `json:"version"` // strictly increasing per row; see NextVersion
}

// NextVersion returns the version of a row's next change: the wall clock in
// microseconds, but always greater than prev, so versions never repeat or go
// backwards even when the clock does.
func NextVersion(prev int64, now time.Time) int64 {
	if v := now.UnixMicro(); v > prev {
		return v
	}
	return prev + 1
}

// Public is a comment as readers see it. Ids are strings because
// JavaScript clients lose integer precision above 2^53.
type Public struct {
	ID         string `json:"id"`
	VideoID    string `json:"video_id"`
	UserID     string `json:"user_id"`
	ParentID   string `json:"parent_id"`
	Content    string `json:"content"`
	CreatedAt  string `json:"created_at"`          // RFC 3339, UTC
	EditedAt   string `json:"edited_at,omitempty"` // RFC 3339, UTC, ms like CreatedAt; absent when never edited
	LikeCount  int64  `json:"like_count"`
	ReplyCount int64  `json:"reply_count"`
}

// Moderated is a comment as the moderation API shows it.
type Moderated struct {
	Public
	Status  Status `json:"status"`
	Version string `json:"version"`
}

// Public returns the reader's view of c.
func (c Comment) Public() Public {
	return Public{
		ID:         FormatID(c.ID),
		VideoID:    FormatID(c.VideoID),
		UserID:     FormatID(c.UserID),
		ParentID:   FormatID(c.ParentID),
		Content:    c.Content,
		CreatedAt:  FormatTime(c.CreatedAt),
		EditedAt:   formatOptionalTime(c.EditedAt),
		LikeCount:  c.LikeCount,
		ReplyCount: c.ReplyCount,
	}
}

// Moderated returns the moderator's view of c.
func (c Comment) Moderated() Moderated {
	return Moderated{Public: c.Public(), Status: c.Status, Version: strconv.FormatInt(c.Version, 10)}
}

// FormatTime renders a time as the APIs do: RFC 3339 in UTC with exactly
// millisecond precision, the precision of Cassandra's timestamp type, so a
// body built from a MySQL row (microseconds) and one built from Cassandra
// are byte-for-byte equal.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z07:00")
}

func formatOptionalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

// FormatID renders an id as the APIs do.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID parses an id from a path or body: a positive decimal int64.
func ParseID(s string) (int64, error) {
	if s == "" || len(s) > 19 || s[0] == '+' || s[0] == '-' || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("id %q: want a positive decimal integer", s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("id %q: want a positive decimal integer", s)
	}
	return n, nil
}
