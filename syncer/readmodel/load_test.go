package readmodel

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// The bulk path leaves the state Apply leaves: the same rows, write times,
// hot entries, bucket counts and totals; and Apply of the same "created"
// events afterwards changes nothing.
func TestLoadLeavesWhatApplyWould(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, time.Minute)
	videos := []int64{randomVideo(), randomVideo(), randomVideo()}
	start := time.Now().Add(-10 * time.Hour).UTC().Truncate(time.Millisecond)
	var rows []comment.Comment
	for i := range 240 {
		at := start.Add(time.Duration(i) * 7 * time.Minute) // 28 hours: many buckets
		c := comment.Comment{ID: comment.MinIDAt(at) | int64(i), VideoID: videos[i%3], UserID: int64(1 + i%17),
			Content: "c", Status: comment.Approved, CreatedAt: at, Version: at.UnixMicro()}
		rows = append(rows, c)
	}
	// Replies on the first root of video 0, its reply_count as MySQL keeps it.
	for i := range 5 {
		at := start.Add(time.Duration(i)*time.Second + time.Millisecond)
		rows = append(rows, comment.Comment{ID: comment.MinIDAt(at) | 900 + int64(i), VideoID: videos[0], UserID: 5,
			ParentID: rows[0].ID, Content: "r", Status: comment.Approved, CreatedAt: at, Version: at.UnixMicro()})
	}
	rows[0].ReplyCount = 5

	l := w.NewLoader()
	for off := 0; off < len(rows); off += 100 { // several Loads, one Recount
		if err := l.Load(ctx, rows[off:min(off+100, len(rows))]); err != nil {
			t.Fatal(err)
		}
	}
	var calls int
	if err := l.Recount(ctx, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("Recount reported no progress")
	}
	loaded, err := Dump(ctx, cass.Session)
	if err != nil {
		t.Fatal(err)
	}
	loaded = loaded.Videos(videos...)
	if d := Diff(loaded, Expect(rows), 10); len(d) > 0 {
		t.Fatalf("loaded state differs from the rows:\n%s", strings.Join(d, "\n"))
	}
	for _, v := range videos { // readsvc walks the hot index by the bands listed here
		var band int32
		if err := cass.Session.Query(`SELECT band FROM video_hot_bands WHERE video_id = ?`, v).ScanContext(ctx, &band); err != nil || band != 0 {
			t.Errorf("video_hot_bands of %d: band %d, %v; want band 0", v, band, err)
		}
	}

	evs := make([]comment.Event, len(rows))
	for i, c := range rows {
		evs[i] = comment.NewEvent(comment.EventCreated, c)
	}
	if err := w.Apply(ctx, evs); err != nil {
		t.Fatal(err)
	}
	applied, err := Dump(ctx, cass.Session)
	if err != nil {
		t.Fatal(err)
	}
	if applied = applied.Videos(videos...); !reflect.DeepEqual(applied, loaded) {
		t.Errorf("Apply after Load changed the state:\n%s", strings.Join(Diff(applied, loaded, 10), "\n"))
	}
}

func TestLoadRefusesWhatIsNotApproved(t *testing.T) {
	w := NewWriter(nil, 0, nil)
	err := w.NewLoader().Load(context.Background(), []comment.Comment{{ID: 1, VideoID: 2, Status: comment.Pending}})
	if err == nil || !strings.Contains(err.Error(), "approved comments only") {
		t.Fatalf("Load of a pending comment: %v", err)
	}
}
