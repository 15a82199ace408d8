package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/writesvc/validate"
)

// Content comes back exactly as stored — byte for byte the text writesvc
// normalised and committed — from every JSON the product serves it in:
// the moderation queue (MySQL), readsvc's page (bodies cdc wrote to Redis)
// and readsvc's single comment (bodies the syncer wrote to Cassandra). Each
// of those bodies is HTML-safe JSON (no raw <, > or &, no raw U+2028/2029),
// so embedding one in a page cannot break out of a script or an attribute.
// Control characters other than newline are refused, not stored.
func TestContentRoundTripsByteForByte(t *testing.T) {
	c := startCluster(t, "pre")
	video := time.Now().UnixNano()%1e12 + 4
	contents := []string{
		`<script>alert("x")</script><img src=x onerror=alert(1)>`,
		`quotes "double" 'single' \backslash\ and a \u0041 that is text`,
		"emoji 😀 👍🏽 👨‍👩‍👧 and a ZWJ\u200dhere",
		"RTL שלום עולם \u202eevil\u202c and مرحبا",
		"two\r\nlines, a separator\u2028and a paragraph\u2029end",
		"combining e\u0301 becomes é, &amp; &lt; stay text, <!-- no comment -->",
		"  padded with spaces and a trailing newline\n",
	}
	var ids []int64
	want := map[int64]string{}
	for i, in := range contents {
		id := c.post(video, int64(200+i), in)
		stored, err := validate.Content(in, 1000)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		var inDB []byte
		if err := c.MySQL.DB.QueryRow(`SELECT content FROM comments WHERE id = ?`, id).Scan(&inDB); err != nil {
			t.Fatal(err)
		}
		if string(inDB) != stored {
			t.Errorf("MySQL holds %q for %q, want %q", inDB, in, stored)
		}
		ids = append(ids, id)
		want[id] = stored
	}
	for _, bad := range []string{"tab\there", "bell\u0007", "c1\u0085control", "lone\rreturn"} {
		code, _, resp := c.postAs(video, c.token(300, auth.RoleUser), bad)
		if code != http.StatusBadRequest || errorCode(resp) != "content_invalid_char" {
			t.Errorf("%q: %d %s, want 400 content_invalid_char", bad, code, resp)
		}
	}

	check := func(where string, raw []byte, got map[string]string) {
		t.Helper()
		if i := bytes.IndexAny(raw, "<>&"); i >= 0 || bytes.Contains(raw, []byte("\u2028")) || bytes.Contains(raw, []byte("\u2029")) {
			t.Errorf("%s: JSON is not HTML-safe: %s", where, raw)
		}
		for _, id := range ids {
			if s, ok := got[fmt.Sprint(id)]; !ok || s != want[id] {
				t.Errorf("%s: comment %d content %q (present %v), want %q", where, id, s, ok, want[id])
			}
		}
	}
	mod := c.token(1, auth.RoleModerator)
	limit := 100
	queue, err := c.write().ModerationQueueWithResponse(context.Background(), &apiclient.ModerationQueueParams{VideoId: ptr(apiID(video)), Limit: &limit}, bearer(mod))
	if err != nil {
		t.Fatalf("queue: %v", err)
	}
	if queue.JSON200 == nil {
		t.Fatalf("queue: %d %s", queue.StatusCode(), queue.Body)
	}
	queued := map[string]string{}
	for _, cm := range queue.JSON200.Comments {
		queued[cm.Id] = cm.Content
	}
	check("writesvc moderation queue", queue.Body, queued)

	for _, id := range ids {
		c.moderate(id, "approve")
	}
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)
	c.waitVisible(video, newestFirst, 20*time.Second)
	code, _, raw, p := c.pageAs(video, "time", 50, "", "")
	if p == nil {
		t.Fatalf("page: %d %s", code, raw)
	}
	listed := map[string]string{}
	for _, cm := range p.Comments {
		listed[cm.Id] = cm.Content
	}
	check("readsvc page", raw, listed)

	got := map[string]string{}
	var all []byte
	for _, id := range ids {
		c.waitFor(60*time.Second, fmt.Sprintf("comment %d in Cassandra", id), func() bool { return c.commentCode(id) == http.StatusOK })
		code, one, raw := c.comment(id)
		if one == nil {
			t.Fatalf("comment %d: %d %s", id, code, raw)
		}
		got[one.Id] = one.Content
		all = append(all, raw...)
	}
	check("readsvc single comments", all, got)
}
