package pages

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/vidcomments/vidcomments/internal/comment"
)

// FuzzParseKey: groupcache keys arrive from peers over HTTP, so parseKey
// reads outside input. It refuses a key or returns exactly want numbers
// ("u" standing for -1), and the key those numbers spell parses back the
// same; loadPage's range check does the rest.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{"p/5/0/20/3/100", "p/5/u/20/3/100", "c/12/7", "p/5/0/20/3", "p//0/20/3/1", "p/-5/0/99999/3/1", "p/+5/0/1/1/1", "", "/", "p/9223372036854775808/0/1/1/1"} {
		f.Add(s, uint8(5))
	}
	f.Fuzz(func(t *testing.T, key string, want uint8) {
		n := int(want%6) + 1
		got, err := parseKey(key, n)
		if err != nil {
			return
		}
		if len(got) != n {
			t.Fatalf("parseKey(%q, %d) = %v", key, n, got)
		}
		parts := []string{"x"}
		for _, v := range got {
			parts = append(parts, strconv.FormatInt(v, 10))
		}
		again, err := parseKey(strings.Join(parts, "/"), n)
		if err != nil || len(again) != n {
			t.Fatalf("%q → %v → %v, %v", key, got, again, err)
		}
		for i := range again {
			if again[i] != got[i] {
				t.Fatalf("%q → %v → %v", key, got, again)
			}
		}
	})
}

// FuzzAuthorOf: whatever a comment's content, authorOf reads the author
// of the body json.Marshal makes of it as encoding/json does.
func FuzzAuthorOf(f *testing.F) {
	for _, c := range []string{"", `"user_id":"9"`, `\"user_id\":\"9\"`, "\x00\"", `{"user_id":"1"}`} {
		f.Add(c, int64(42))
	}
	f.Fuzz(func(t *testing.T, content string, user int64) {
		body, err := json.Marshal(comment.Public{ID: "1", VideoID: "2", UserID: strconv.FormatInt(user, 10), Content: content, CreatedAt: "2026-12-07T00:00:00.000Z"})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := authorOf(body)
		if want := user > 0; ok != want || ok && got != user {
			t.Fatalf("authorOf(%s) = %d, %v; want %d, %v", body, got, ok, user, want)
		}
	})
}

// BenchmarkAuthorOf: once per comment of every page built.
func BenchmarkAuthorOf(b *testing.B) {
	body, _ := json.Marshal(comment.Public{ID: "388295998432084968", VideoID: "180173526835", UserID: "1000000007", Content: strings.Repeat("a comment of some length ", 8), CreatedAt: "2026-12-07T00:00:00.000Z", LikeCount: 3})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := authorOf(body); !ok {
			b.Fatal("no author")
		}
	}
}
