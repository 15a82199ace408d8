package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

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
		body, _ := json.Marshal(map[string]string{"content": bad})
		code, _, resp := c.send(http.MethodPost, fmt.Sprintf("/v1/videos/%d/comments", video), c.token(300, auth.RoleUser), string(body))
		if code != http.StatusBadRequest || !strings.Contains(string(resp), `"content_invalid_char"`) {
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
	type listed struct {
		Comments []struct{ ID, Content string } `json:"comments"`
	}
	contentsOf := func(l listed) map[string]string {
		m := map[string]string{}
		for _, cm := range l.Comments {
			m[cm.ID] = cm.Content
		}
		return m
	}

	mod := c.token(1, auth.RoleModerator)
	code, _, raw := c.send(http.MethodGet, fmt.Sprintf("/v1/mod/queue?video_id=%d&limit=100", video), mod, "")
	var queue listed
	if code != http.StatusOK || json.Unmarshal(raw, &queue) != nil {
		t.Fatalf("queue: %d %s", code, raw)
	}
	check("writesvc moderation queue", raw, contentsOf(queue))

	for _, id := range ids {
		c.moderate(id, "approve")
	}
	newestFirst := slices.Clone(ids)
	slices.Reverse(newestFirst)
	c.waitVisible(video, newestFirst, 20*time.Second)
	code, raw = httpGet(fmt.Sprintf("%s/v1/videos/%d/comments?limit=50", c.ReadURL, video))
	var page listed
	if code != http.StatusOK || json.Unmarshal(raw, &page) != nil {
		t.Fatalf("page: %d %s", code, raw)
	}
	check("readsvc page", raw, contentsOf(page))

	got := map[string]string{}
	var all []byte
	for _, id := range ids {
		c.waitFor(60*time.Second, fmt.Sprintf("comment %d in Cassandra", id), func() bool { return c.commentCode(id) == http.StatusOK })
		_, raw := httpGet(fmt.Sprintf("%s/v1/comments/%d", c.ReadURL, id))
		var one struct{ ID, Content string }
		if err := json.Unmarshal(raw, &one); err != nil {
			t.Fatalf("comment %d: %v %s", id, err, raw)
		}
		got[one.ID] = one.Content
		all = append(all, raw...)
	}
	check("readsvc single comments", all, got)
}
