package api_test

import (
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// ETag, If-None-Match and Cache-Control: a client or CDN holding the page
// gets 304 until the video changes.
func TestConditionalGet(t *testing.T) {
	st, r, video, ids := readtest.Seeded(t, 4, readtest.Config{Options: pages.Options{MaxAge: 2 * time.Second}})
	path := readtest.PagePath(video, "limit=3")

	first := r.Get(t, path)
	etag := first.Header.Get("ETag")
	if first.Code != 200 || len(etag) != 35 || etag[0] != '"' {
		t.Fatalf("first: %d ETag %q", first.Code, etag)
	}
	if cc := first.Header.Get("Cache-Control"); cc != "public, max-age=2" {
		t.Errorf("Cache-Control %q", cc)
	}
	if first.Header.Get("X-Cache-Stale") != "" {
		t.Error("a fresh page is marked stale")
	}
	if other := r.Get(t, readtest.PagePath(video, "limit=2")).Header.Get("ETag"); other == etag {
		t.Error("another page of the same video has the same ETag")
	}
	tests := []struct {
		name        string
		ifNoneMatch string
		want        int
	}{
		{"the ETag", etag, 304},
		{"the ETag, weak", "W/" + etag, 304},
		{"in a list", `"nope", ` + etag, 304},
		{"any", "*", 304},
		{"another ETag", `"0000000000000000-0000000000000000"`, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.Get(t, path, "If-None-Match", tt.ifNoneMatch)
			if resp.Code != tt.want {
				t.Fatalf("status %d, want %d", resp.Code, tt.want)
			}
			if tt.want == 304 && (len(resp.Raw) != 0 || resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") == "") {
				t.Errorf("304 with body %q, ETag %q, Cache-Control %q", resp.Raw, resp.Header.Get("ETag"), resp.Header.Get("Cache-Control"))
			}
		})
	}

	// The video changes: the old ETag no longer matches.
	added := cqlseed.Comment(video, ids[0]+1000)
	st.Record(added, false)
	readtest.WaitFor(t, 5*time.Second, "the new comment", func() bool {
		resp := r.Get(t, path, "If-None-Match", etag)
		return resp.Code == 200 && resp.IDs()[0] == added.ID && resp.Header.Get("ETag") != etag
	})
}

// A single comment: visible when approved (with the overlay winning over a
// lagging Cassandra), 404 otherwise.
func TestSingleComment(t *testing.T) {
	st := readtest.NewStack(t)
	video, ids := st.SeedVideo(3)
	pending := cqlseed.Comment(video, ids[0]+1)
	pending.Status = comment.Pending
	st.Put(pending)
	rejectedByCDC := cqlseed.Comment(video, ids[2])
	rejectedByCDC.Status, rejectedByCDC.Version = comment.Rejected, comment.NextVersion(rejectedByCDC.Version, time.Now())
	st.Record(rejectedByCDC, true) // Cassandra still holds it approved
	r := st.NewReader(readtest.Config{})

	visible := cqlseed.Comment(video, ids[1])
	body, _ := cqlstore.Body(visible)
	tests := []struct {
		name string
		id   int64
		code int
		body string
	}{
		{"approved", ids[1], 200, string(body)},
		{"pending", pending.ID, 404, `{"error":{"code":"not_found","message":"comment not found"}}` + "\n"},
		{"rejected by cdc, Cassandra lagging", rejectedByCDC.ID, 404, `{"error":{"code":"not_found","message":"comment not found"}}` + "\n"},
		{"unknown", ids[0] + 2, 404, `{"error":{"code":"not_found","message":"comment not found"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := r.Get(t, "/v1/comments/"+itoa(tt.id))
			if resp.Code != tt.code || string(resp.Raw) != tt.body {
				t.Errorf("got %d %s\nwant %d %s", resp.Code, resp.Raw, tt.code, tt.body)
			}
			if tt.code == 200 {
				etag := resp.Header.Get("ETag")
				if again := r.Get(t, "/v1/comments/"+itoa(tt.id), "If-None-Match", etag); again.Code != 304 {
					t.Errorf("If-None-Match: %d", again.Code)
				}
			}
		})
	}
}
