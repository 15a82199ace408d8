package readmodel

import (
	"strings"
	"testing"
)

// Diff names every kind of difference, and treats a like_count of 0 as no
// likes.
func TestDiffNamesEachDifference(t *testing.T) {
	want := newState()
	want.ByID[1] = Row{WriteTime: 3}
	want.Likes[1] = 2
	want.Likes[2] = 0
	want.Buckets[7] = map[int32]int64{4: 1}
	want.Counts[7] = 1

	got := newState()
	got.ByID[1] = Row{WriteTime: 4}
	got.ByVideo[9] = Row{}
	got.Likes[1] = 2
	got.Likes[3] = 0
	got.Hot[5] = HotEntry{VideoID: 7}
	got.HotDuplicates = []int64{5}
	got.Buckets[7] = map[int32]int64{4: 2}

	if d := Diff(want, want, 10); len(d) != 0 {
		t.Fatalf("a state differs from itself: %q", d)
	}
	d := strings.Join(Diff(got, want, 10), "\n")
	for _, line := range []string{
		"comments_by_id 1:\n  got  ",
		"comments_by_video 9: ",
		"hot_by_video 5: {VideoID:7 Band:0 Count:0} should not be there",
		"hot_by_video: comment 5 has more than one entry",
		"video_buckets 7/4:\n  got  2\n  want 1",
		"video_counts 7: missing",
	} {
		if !strings.Contains(d, line) {
			t.Errorf("Diff lacks %q; it says:\n%s", line, d)
		}
	}
	if strings.Contains(d, "comment_likes") {
		t.Errorf("a like_count of 0 is no likes, but Diff says:\n%s", d)
	}
	if n := len(Diff(got, want, 2)); n != 2 {
		t.Errorf("Diff with limit 2 gave %d lines", n)
	}
}
