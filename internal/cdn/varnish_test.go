package cdn

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// origin stands for readsvc: each path answers with its own tags and
// counts how often Varnish asked.
type origin struct {
	hits atomic.Int64
	srv  *httptest.Server
}

func newOrigin(t *testing.T) *origin {
	o := &origin{}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := o.hits.Add(1)
		w.Header().Set("Cache-Control", "public, max-age=1, s-maxage=60")
		switch r.URL.Path {
		case "/v1/videos/7/comments":
			w.Header().Set(KeyHeader, VideoTag(7))
		case "/v1/videos/8/comments":
			w.Header().Set(KeyHeader, VideoTag(8))
		case "/stale":
			w.Header().Set("X-Cache-Stale", "1")
		case "/down":
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = io.WriteString(w, `{"n":`+strings.Repeat("1", int(n%5)+1)+`}`)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func startVarnish(t *testing.T, backend string) *Varnish {
	t.Helper()
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
	v, err := Start(context.Background(), t.TempDir(), "127.0.0.1:0", backend, 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Stop)
	return v
}

func get(t *testing.T, url string, hdr ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func TestVarnishCachesAndPurgesByTag(t *testing.T) {
	o := newOrigin(t)
	v := startVarnish(t, strings.TrimPrefix(o.srv.URL, "http://"))
	p, err := NewPurger(PurgerConfig{URLs: []string{v.URL()}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	seven, eight := v.URL()+"/v1/videos/7/comments", v.URL()+"/v1/videos/8/comments"
	if c := get(t, seven).Header.Get("X-Cache"); c != "MISS" {
		t.Fatalf("first GET: X-Cache %q, want MISS", c)
	}
	resp := get(t, seven)
	if c := resp.Header.Get("X-Cache"); c != "HIT" {
		t.Fatalf("second GET: X-Cache %q, want HIT", c)
	}
	if k := resp.Header.Get(KeyHeader) + resp.Header.Get("xkey"); k != "" {
		t.Errorf("tags leave Varnish: %q", k)
	}
	get(t, eight)
	before := o.hits.Load()

	p.Purge(VideoTag(7))
	stacktest.Eventually(t, 2*time.Second, "video 7's page purged", func() bool {
		return get(t, seven).Header.Get("X-Cache") == "MISS"
	})
	if c := get(t, eight).Header.Get("X-Cache"); c != "HIT" {
		t.Errorf("video 8's page after a purge of video 7: X-Cache %q, want HIT", c)
	}
	if got := o.hits.Load() - before; got != 1 {
		t.Errorf("the origin was asked %d times after the purge, want 1", got)
	}
}

func TestVarnishSharesOnlyFreshPublicAnswers(t *testing.T) {
	o := newOrigin(t)
	v := startVarnish(t, strings.TrimPrefix(o.srv.URL, "http://"))
	for _, c := range []struct {
		name, path string
		hdr        []string
	}{
		{"a signed-in reader's page", "/v1/videos/7/comments", []string{"Authorization", "Bearer x"}},
		{"a page readsvc could not confirm fresh", "/stale", nil},
		{"a 503", "/down", nil},
	} {
		before := o.hits.Load()
		get(t, v.URL()+c.path, c.hdr...)
		get(t, v.URL()+c.path, c.hdr...)
		if n := o.hits.Load() - before; n != 2 {
			t.Errorf("%s: the origin answered %d of 2 requests, want both (not shared)", c.name, n)
		}
	}
}

func TestVarnishRefusesBadPurges(t *testing.T) {
	o := newOrigin(t)
	v := startVarnish(t, strings.TrimPrefix(o.srv.URL, "http://"))
	req, _ := http.NewRequest("PURGE", v.URL()+"/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
		t.Errorf("PURGE without tags: %s %s, want 400 with a JSON error", resp.Status, body)
	}
}
