package readmodel

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// history is the changes of one comment, oldest first.
type history []comment.Comment

// newHistory returns a comment made at created and then changed to each
// status in turn, one version per change.
func newHistory(video int64, created time.Time, seq int64, statuses ...comment.Status) history {
	c := comment.Comment{ID: comment.MinIDAt(created) | seq, VideoID: video, UserID: 42, Content: "v1",
		CreatedAt: created, Version: created.UnixMicro()}
	var h history
	for i, s := range statuses {
		c.Status, c.Version = s, c.Version+int64(i+1)
		c.Content = strings.Repeat("x", i+1)
		h = append(h, c)
	}
	return h
}

func events(cs ...comment.Comment) []comment.Event {
	out := make([]comment.Event, len(cs))
	for i, c := range cs {
		out[i] = comment.NewEvent(comment.EventEdited, c)
	}
	return out
}

func randomVideo() int64 { return 1<<50 + rand.Int64N(1<<40) }

// newTestWriter returns a fresh test keyspace, a Writer on it writing
// concurrency partitions at once (0: the default), and a context that ends
// after timeout or with the test.
func newTestWriter(t *testing.T, concurrency int, timeout time.Duration) (*stacktest.Cassandra, *Writer, context.Context) {
	t.Helper()
	cass := stacktest.NewCassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return cass, NewWriter(cass.Session, concurrency, nil), ctx
}

func TestApplyOrderCannotMoveACommentBackwards(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, 2*time.Minute)
	at := time.Now().Add(-3 * time.Hour).Truncate(time.Millisecond)
	A, P, R, D := comment.Approved, comment.Pending, comment.Rejected, comment.Deleted

	tests := []struct {
		name    string
		history history
		order   [][]int // batches of indexes into history, applied in turn
	}{
		{"version 2 before version 1", newHistory(0, at, 1, A, A), [][]int{{1}, {0}}},
		{"delete then an older insert stays deleted", newHistory(0, at, 1, A, D), [][]int{{1}, {0}}},
		{"reject then an older approve stays rejected", newHistory(0, at, 1, P, A, R), [][]int{{2}, {1}, {0}}},
		{"re-approval after rejection wins over the rejection", newHistory(0, at, 1, A, R, A), [][]int{{2}, {1}, {0}}},
		{"a whole history in one batch, newest first", newHistory(0, at, 1, P, A, R, A, D), [][]int{{4, 3, 2, 1, 0}}},
		{"duplicates in and across batches", newHistory(0, at, 1, P, A), [][]int{{1, 1, 0}, {0, 1}, {1}}},
	}
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			video := randomVideo()
			for i := range tt.history { // comments_by_id is keyed by id alone: one comment per case
				tt.history[i].VideoID, tt.history[i].ID = video, comment.MinIDAt(at)|int64(n+1)
			}
			for _, batch := range tt.order {
				var cs []comment.Comment
				for _, i := range batch {
					cs = append(cs, tt.history[i])
				}
				if err := w.Apply(ctx, events(cs...)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Dump(ctx, cass.Session)
			if err != nil {
				t.Fatal(err)
			}
			want := Expect([]comment.Comment{tt.history[len(tt.history)-1]})
			if d := Diff(got.Videos(video), want, 10); len(d) > 0 {
				t.Errorf("read model after %v:\n%s", tt.order, strings.Join(d, "\n"))
			}
		})
	}

	t.Run("every order of every split gives the same state", func(t *testing.T) {
		video := randomVideo()
		var all []comment.Comment
		var final []comment.Comment
		for i := int64(0); i < 20; i++ {
			// three hours of comments, so three buckets, each with its own history
			h := newHistory(video, at.Add(time.Duration(i)*9*time.Minute+time.Millisecond), i, []comment.Status{P, A, R, A, D, A}[:1+i%6]...)
			all = append(all, h...)
			final = append(final, h[len(h)-1])
		}
		want := Expect(final)
		if len(want.Buckets[video]) < 2 {
			t.Fatalf("test data spans %d buckets, want several", len(want.Buckets[video]))
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for round := 0; round < 3; round++ {
			rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
			for start := 0; start < len(all); {
				n := 1 + rng.IntN(8)
				end := min(start+n, len(all))
				if err := w.Apply(ctx, events(all[start:end]...)); err != nil {
					t.Fatal(err)
				}
				start = end
			}
			got, err := Dump(ctx, cass.Session)
			if err != nil {
				t.Fatal(err)
			}
			if d := Diff(got.Videos(video), want, 10); len(d) > 0 {
				t.Fatalf("round %d:\n%s", round, strings.Join(d, "\n"))
			}
		}
	})
}

func TestCountsFollowVisibility(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 4, time.Minute)
	video := randomVideo()
	at := time.Now().Add(-5 * time.Hour)
	a := newHistory(video, at, 1, comment.Approved, comment.Rejected)
	b := newHistory(video, at.Add(2*time.Hour), 2, comment.Approved, comment.Deleted)
	c := newHistory(video, at.Add(2*time.Hour), 3, comment.Pending, comment.Approved)

	steps := []struct {
		name  string
		apply []comment.Comment
		final []comment.Comment // the latest row of every comment so far
	}{
		{"two buckets, two approved", []comment.Comment{a[0], b[0], c[0]}, []comment.Comment{a[0], b[0], c[0]}},
		{"a bucket emptied loses its index entry", []comment.Comment{a[1]}, []comment.Comment{a[1], b[0], c[0]}},
		{"an approval in the same bucket as a delete", []comment.Comment{b[1], c[1]}, []comment.Comment{a[1], b[1], c[1]}},
		{"replaying everything changes nothing", append(append(append([]comment.Comment{}, a...), b...), c...), []comment.Comment{a[1], b[1], c[1]}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := w.Apply(ctx, events(st.apply...)); err != nil {
				t.Fatal(err)
			}
			got, err := Dump(ctx, cass.Session)
			if err != nil {
				t.Fatal(err)
			}
			if d := Diff(got.Videos(video), Expect(st.final), 10); len(d) > 0 {
				t.Errorf("%s", strings.Join(d, "\n"))
			}
		})
	}
}

func TestApplyTwiceIsIdentical(t *testing.T) {
	cass, w, ctx := newTestWriter(t, 0, time.Minute)
	video := randomVideo()
	var evs []comment.Event
	for i := int64(0); i < 50; i++ {
		h := newHistory(video, time.Now().Add(-time.Duration(i)*7*time.Minute), i, comment.Pending, comment.Approved, comment.Rejected)
		evs = append(evs, events(h[:1+i%3]...)...)
	}
	var states []State
	for range 2 {
		if err := w.Apply(ctx, evs); err != nil {
			t.Fatal(err)
		}
		st, err := Dump(ctx, cass.Session)
		if err != nil {
			t.Fatal(err)
		}
		states = append(states, st.Videos(video))
	}
	if !reflect.DeepEqual(states[0], states[1]) {
		t.Errorf("state changed on replay:\n%s", strings.Join(Diff(states[1], states[0], 10), "\n"))
	}
	if len(states[0].ByID) != 50 || states[0].Counts[video] != int64(len(states[0].ByVideo)) {
		t.Errorf("%d rows by id, %d visible, count %d", len(states[0].ByID), len(states[0].ByVideo), states[0].Counts[video])
	}
}

func TestApplyFailsWhileCassandraIsGone(t *testing.T) {
	cass := stacktest.NewCassandra(t)
	w := NewWriter(cass.Session, 0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := w.Apply(ctx, events(newHistory(randomVideo(), time.Now(), 1, comment.Approved)...))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestCheck(t *testing.T) {
	ok := newHistory(1, time.Now(), 1, comment.Approved)[0]
	tests := []struct {
		name  string
		edit  func(*comment.Comment)
		valid bool
	}{
		{"ordinary", func(*comment.Comment) {}, true},
		{"largest reply count", func(c *comment.Comment) { c.ReplyCount = math.MaxInt32 }, true},
		{"reply count overflows int", func(c *comment.Comment) { c.ReplyCount = math.MaxInt32 + 1 }, false},
		{"content too large", func(c *comment.Comment) { c.Content = strings.Repeat("x", MaxContentBytes+1) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := Check(comment.NewEvent(comment.EventEdited, c))
			if (err == nil) != tt.valid || (err != nil && !errors.Is(err, comment.ErrInvalidEvent)) {
				t.Errorf("Check = %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

func TestLatest(t *testing.T) {
	h := newHistory(1, time.Now(), 1, comment.Pending, comment.Approved, comment.Rejected)
	g := newHistory(1, time.Now(), 2, comment.Pending)
	got := Latest(events(h[1], g[0], h[2], h[0], g[0]))
	want := events(h[2], g[0])
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Latest = %+v, want %+v", got, want)
	}
}
