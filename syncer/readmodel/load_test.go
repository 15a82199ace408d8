package readmodel

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

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

// Rows alone in their partition go several to a batch, within
// Cassandra's batch bounds: 30 comments of 8 KiB on 30 videos would be
// 80 KiB ten to a batch, which Cassandra refuses (over 50 KiB).
func TestLoadGroupsLoneRowsWithinCassandrasBounds(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, time.Minute)
	at := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	var rows []comment.Comment
	var videos []int64
	for i := range 30 {
		v := randomVideo()
		videos = append(videos, v)
		rows = append(rows, comment.Comment{ID: comment.MinIDAt(at) | int64(i), VideoID: v, UserID: 1,
			Content: strings.Repeat("x", 8<<10), Status: comment.Approved, CreatedAt: at, Version: at.UnixMicro()})
	}
	l := w.NewLoader()
	if err := l.Load(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := l.Recount(ctx, nil); err != nil {
		t.Fatal(err)
	}
	loaded, err := Dump(ctx, cass.Session)
	if err != nil {
		t.Fatal(err)
	}
	if d := Diff(loaded.Videos(videos...), Expect(rows), 10); len(d) > 0 {
		t.Fatalf("loaded state differs from the rows:\n%s", strings.Join(d, "\n"))
	}
}

// loadBatches: a partition of several rows in batches of its own of at
// most maxStatements; lone rows at most groupPartitions and groupBytes
// to a batch, a row beyond groupBytes alone; every row once, in order.
func TestLoadBatches(t *testing.T) {
	var parts partitionBatches[string]
	sizes := map[string]int{}
	var want []string
	add := func(key string, rows, size int) {
		for i := range rows {
			id := fmt.Sprintf("%s#%d", key, i)
			parts.add(key, gocql.BatchEntry{Stmt: id})
			want = append(want, id)
		}
		sizes[key] = rows * size
	}
	for i := range 25 {
		add(fmt.Sprintf("small%d", i), 1, 200)
	}
	add("big", 250, 200)
	for i := range 3 {
		add(fmt.Sprintf("wide%d", i), 1, 3<<10)
	}
	add("huge", 1, 6<<10)
	add("last", 1, 200)

	var got []string
	var shape []int
	for _, b := range loadBatches(parts, sizes) {
		shape = append(shape, len(b))
		for _, e := range b {
			got = append(got, e.Stmt)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("rows batched: %d, want each of %d once", len(got), len(want))
	}
	// 25 small rows: 10, 10, then 5 that the first 3 KiB row still fits
	// beside (5×200 + 3072 ≤ 4096), written after big's 100, 100, 50
	// (its own batches go out as soon as its partition comes); then each
	// other wide row, the huge one and the last one alone: no two of them
	// fit 4 KiB.
	wantShape := []int{10, 10, 100, 100, 50, 6, 1, 1, 1, 1}
	if !slices.Equal(shape, wantShape) {
		t.Errorf("batch sizes %v, want %v", shape, wantShape)
	}
}
