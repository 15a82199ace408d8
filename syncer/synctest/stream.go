// Package synctest helps the syncer's integration tests: a generator of
// realistic comment-event streams with their expected final rows, Kafka
// producing and lag checks, and a TCP proxy that can cut a connection to a
// real server. Test code only.
package synctest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// Stream generates the events of a set of comments spread over several
// videos and several hour buckets: each comment is created pending, then
// approved, rejected, edited, re-approved or deleted at random. Versions
// strictly increase per comment, as NextVersion makes them.
type Stream struct {
	rng      *rand.Rand
	comments []comment.Comment
	now      time.Time
	Videos   []int64
}

// NewStream returns a stream over n comments (at most 4 million) of the
// given videos, created over the hours before now.
func NewStream(seed uint64, videos []int64, n int, hours int) *Stream {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	now := time.Now().UTC()
	s := &Stream{rng: rng, now: now, Videos: videos}
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(rng.Int64N(int64(hours) * int64(time.Hour)))).Truncate(time.Microsecond)
		id := comment.MinIDAt(at) | int64(i>>comment.SeqBits%(comment.MaxNode+1))<<comment.SeqBits | int64(i%(1<<comment.SeqBits)) // node and sequence bits keep ids unique
		s.comments = append(s.comments, comment.Comment{
			ID: id, VideoID: videos[i%len(videos)], UserID: 1 + rng.Int64N(1000), CreatedAt: at,
		})
	}
	return s
}

// Next returns the next change of a random comment: its creation if it has
// none yet.
func (s *Stream) Next() comment.Event {
	c := &s.comments[s.rng.IntN(len(s.comments))]
	t := comment.EventEdited
	switch {
	case c.Version == 0:
		t, c.Status, c.Content = comment.EventCreated, comment.Pending, "first words"
	default:
		switch r := s.rng.IntN(10); {
		case r < 4:
			t, c.Status = comment.EventApproved, comment.Approved
		case r < 6:
			t, c.Status = comment.EventRejected, comment.Rejected
		case r < 7:
			t, c.Status = comment.EventDeleted, comment.Deleted
		default:
			c.Content = fmt.Sprintf("edit %d ✓", s.rng.IntN(1_000_000))
			c.LikeCount = s.rng.Int64N(100)
		}
	}
	s.now = s.now.Add(time.Microsecond)
	c.Version = comment.NextVersion(c.Version, s.now)
	return comment.NewEvent(t, *c)
}

// Fresh returns n events that each create a new comment, every other one
// approved at once (post-moderation): traffic with no comment twice.
func Fresh(seed uint64, videos []int64, n, hours int) []comment.Event {
	s := NewStream(seed, videos, n, hours)
	out := make([]comment.Event, n)
	for i := range s.comments {
		c := &s.comments[i]
		c.Status, c.Content, c.Version = comment.Pending, "first words", comment.NextVersion(0, c.CreatedAt.Add(time.Second))
		if i%2 == 0 {
			c.Status = comment.Approved
		}
		out[i] = comment.NewEvent(comment.EventCreated, *c)
	}
	return out
}

// Final returns the latest row of every comment that has one.
func (s *Stream) Final() []comment.Comment {
	var out []comment.Comment
	for _, c := range s.comments {
		if c.Version != 0 {
			out = append(out, c)
		}
	}
	return out
}

// RandomVideo returns a video id no other test uses.
func RandomVideo() int64 { return 1<<52 + rand.Int64N(1<<50) }

// RandomVideos returns n of them.
func RandomVideos(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = RandomVideo()
	}
	return out
}
