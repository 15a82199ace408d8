package cqlstore_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
)

// seedVideo writes 30 approved comments 7 minutes apart (about four hour
// buckets) of a new video into a keyspace of the test's own.
func seedVideo(t *testing.T) (cass *stacktest.Cassandra, ctx context.Context, w *cqlseed.Writer, video int64, seeded []comment.Comment) {
	t.Helper()
	cass = stacktest.NewCassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	w = cqlseed.New(cass.Session)
	video = 1e12 + rand.Int64N(1e12)
	seeded = cqlseed.Comments(video, 30, time.Now().Add(-time.Hour), 7*time.Minute)
	if err := w.PutAll(ctx, seeded); err != nil {
		t.Fatal(err)
	}
	return cass, ctx, w, video, seeded
}

func TestStoreReadsWhatTheSyncerWrites(t *testing.T) {
	cass, ctx, w, video, seeded := seedVideo(t)
	// One rejected after approval, one pending: neither is visible.
	rejected := seeded[20]
	rejected.Status, rejected.Version = comment.Rejected, rejected.Version+1
	pending := cqlseed.Comment(video, seeded[29].ID+1)
	pending.Status = comment.Pending
	for _, c := range []comment.Comment{rejected, pending} {
		if err := w.Put(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	var visible []int64 // newest first
	for i := len(seeded) - 1; i >= 0; i-- {
		if i != 20 {
			visible = append(visible, seeded[i].ID)
		}
	}

	s := cqlstore.New(cass.Session)
	tests := []struct {
		name    string
		before  int64
		n       int
		want    []int64
		wantAll bool
	}{
		{"newest, several buckets", 0, 10, visible[:10], false},
		{"exactly every comment is not known to be all", 0, len(visible), visible, false},
		{"more than there are", 0, 100, visible, true},
		{"before a cursor inside a bucket", visible[4], 6, visible[5:11], false},
		{"before the rejected comment's id", rejected.ID, 100, visible[9:], true},
		{"before the oldest", visible[len(visible)-1], 5, nil, true},
		{"unknown video", 0, 5, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := video
			if tt.name == "unknown video" {
				v = video + 1
			}
			rows, all, err := s.Page(ctx, v, tt.before, tt.n)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, r := range rows {
				got = append(got, r.ID)
			}
			if !reflect.DeepEqual(got, tt.want) || all != tt.wantAll {
				t.Errorf("Page = %v all=%v, want %v all=%v", got, all, tt.want, tt.wantAll)
			}
		})
	}

	rows, _, err := s.Page(ctx, video, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := cqlstore.Body(seeded[29])
	if string(rows[0].Body) != string(want) || rows[0].Version != seeded[29].Version {
		t.Errorf("row %+v\nbody %s\nwant %s", rows[0], rows[0].Body, want)
	}
	var p comment.Public
	if err := json.Unmarshal(rows[0].Body, &p); err != nil || p.ID != comment.FormatID(seeded[29].ID) || p.Content != seeded[29].Content {
		t.Errorf("body does not decode to the comment: %+v %v", p, err)
	}

	if n, err := s.Total(ctx, video); err != nil || n != int64(len(visible)) {
		t.Errorf("Total = %d, %v, want %d", n, err, len(visible))
	}
	if n, err := s.Total(ctx, video+1); err != nil || n != 0 {
		t.Errorf("Total of an unknown video = %d, %v", n, err)
	}
	for _, tc := range []struct {
		id     int64
		found  bool
		status comment.Status
	}{{seeded[3].ID, true, comment.Approved}, {rejected.ID, true, comment.Rejected}, {pending.ID, true, comment.Pending}, {pending.ID + 1, false, ""}} {
		c, body, found, err := s.Comment(ctx, tc.id)
		if err != nil || found != tc.found || c.Status != tc.status || found != (len(body) > 0) {
			t.Errorf("Comment(%d) = %+v found=%v err=%v", tc.id, c, found, err)
		}
	}
}

// TestPageCountsComeFromTheirBucket: a page's like counts come from the
// likes_by_bucket partition beside its rows, in every bucket it spans;
// counts of comments between the rows that are not on the page (one
// rejected after its likes, and one beside every row) are passed over,
// also when they push the page's own counts past the first read's limit,
// and a row without a count shows 0.
func TestPageCountsComeFromTheirBucket(t *testing.T) {
	cass, ctx, w, video, seeded := seedVideo(t)
	want := map[int64]int64{}
	for i, c := range seeded {
		if i%3 == 0 {
			continue // no likes
		}
		if err := w.PutLikes(ctx, video, c.ID, -1, int64(100+i), int64(i)); err != nil {
			t.Fatal(err)
		}
		want[c.ID] = int64(100 + i)
	}
	const ghostLikes = 1e6
	for i, c := range seeded { // an id no page holds just above each row (a removed comment's, say)
		if err := w.PutLikes(ctx, video, c.ID+1, -1, ghostLikes, int64(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	rejected := seeded[20]
	rejected.Status, rejected.Version = comment.Rejected, rejected.Version+1
	if err := w.Put(ctx, rejected); err != nil {
		t.Fatal(err)
	}

	s := cqlstore.New(cass.Session)
	for _, tc := range []struct {
		name   string
		before int64
		n      int
	}{
		{"newest, several buckets", 0, 12},
		{"a cursor page across the rejected comment", seeded[24].ID, 8},
		{"every comment", 0, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rows, _, err := s.Page(ctx, video, tc.before, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatal("an empty page")
			}
			for _, r := range rows {
				if r.ID == rejected.ID {
					t.Fatalf("the rejected comment %d is on the page", r.ID)
				}
				var p comment.Public
				if err := json.Unmarshal(r.Body, &p); err != nil {
					t.Fatal(err)
				}
				if p.LikeCount != want[r.ID] {
					t.Errorf("comment %d shows %d likes, want %d", r.ID, p.LikeCount, want[r.ID])
				}
			}
		})
	}
}
