package consumer

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
	"github.com/vidcomments/vidcomments/syncer/synctest"
)

// TestLikeStormThroughKafka: 1,000 likes by 1,000 users on one comment and
// 250 unlikes, on a real topic through a real consumer group, give exactly
// 750 in comment_likes and the hot index; a second group replaying the
// topic from offset 0 into the same keyspace changes nothing; the cached
// hot window carries the same count.
func TestLikeStormThroughKafka(t *testing.T) {
	e := newEnv(t, 2)
	video := synctest.RandomVideo()
	forgetVideos(t, []int64{video})
	created := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	root := comment.Comment{ID: comment.MinIDAt(created) | 1, VideoID: video, UserID: 7, Content: "liked", Status: comment.Approved,
		CreatedAt: created, Version: created.UnixMicro()}
	other := root
	other.ID, other.Content = root.ID+1, "not liked"
	p := synctest.NewProducer(t, e.kafka.Config.Brokers)
	topic := e.kafka.Config.Topic
	p.Send(topic, synctest.EventMessage(t, comment.NewEvent(comment.EventApproved, root)))
	p.Send(topic, synctest.EventMessage(t, comment.NewEvent(comment.EventApproved, other)))
	const likes, unlikes = 1000, 250
	for u := range likes {
		p.Send(topic, synctest.EventMessage(t, comment.NewLikeEvent(comment.Like{CommentID: root.ID, VideoID: video, UserID: int64(1000 + u), Delta: +1})))
	}
	for u := range unlikes {
		p.Send(topic, synctest.EventMessage(t, comment.NewLikeEvent(comment.Like{CommentID: root.ID, VideoID: video, UserID: int64(1000 + u), Delta: -1})))
	}
	if err := p.Flush(); err != nil {
		t.Fatal(err)
	}
	pc := cache(t)
	want := readmodel.ExpectLikes([]comment.Comment{root, other}, map[int64]int64{root.ID: likes - unlikes})
	groups := []string{"first", "replay from offset 0"}
	for i, name := range groups {
		t.Run(name, func(t *testing.T) {
			g := e.start(t, e.kafka.Config.Topic+"-g"+strconv.Itoa(i), pc, e.cass)
			synctest.WaitDrained(t, e.kafka.Config.Brokers, g.group, topic, 90*time.Second)
			if d := readmodel.Diff(dump(t, e.cass).Videos(video), want, 10); len(d) > 0 {
				t.Errorf("read model:\n%s", strings.Join(d, "\n"))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got, err := pc.Likes(ctx, video, []int64{root.ID})
			if err != nil || got[root.ID] != likes-unlikes {
				t.Errorf("cached like count %v (%v), want %d", got, err, likes-unlikes)
			}
			if err := g.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
