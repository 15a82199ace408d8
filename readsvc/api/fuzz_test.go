package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/api"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// recordingSource records the requests that got past the handler's
// checks and answers them as if storage were down, so a fuzzed request
// never needs a page body.
type recordingSource struct {
	mu   sync.Mutex
	reqs []pages.Request
	ids  []int64
}

func (s *recordingSource) Page(_ context.Context, req pages.Request) (pages.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, req)
	return pages.Page{}, pages.ErrUnavailable
}

func (s *recordingSource) Comment(_ context.Context, id int64) (pages.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, id)
	return pages.Page{}, pages.ErrUnavailable
}

func (s *recordingSource) Replies(_ context.Context, req pages.ReplyRequest) (pages.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids = append(s.ids, req.Parent)
	return pages.Page{}, pages.ErrUnavailable
}

func (s *recordingSource) Pending(context.Context, int64, int64) ([]pagecache.Entry, error) {
	return nil, pages.ErrUnavailable
}

// FuzzPageQuery: any path segment and query string sent to the read API
// is answered with a 400 JSON error, or reaches the read path (503 from
// this source) as a request within the documented bounds — the video
// the path names, 1 ≤ limit ≤ 50, a cursor only if this key signed it.
func FuzzPageQuery(f *testing.F) {
	codec := cursor.NewCodec([]byte("fuzz key"))
	good := codec.Encode(5, cursor.Cursor{Sort: cursor.ByTime, LastID: 99})
	for _, s := range [][2]string{
		{"5", ""}, {"5", "limit=50&sort=time"}, {"5", "cursor=" + good}, {"5", "limit=51"}, {"5", "limit=%2B5"},
		{"5", "limit=1&limit=2"}, {"5", "sort=hot"}, {"5", "cursor=" + good + "x"}, {"5", "%zz=1"}, {"5", "limit=05"},
		{"0", ""}, {"-1", ""}, {"9223372036854775808", ""}, {"5", "li%6dit=3"}, {"5", "cursor="},
	} {
		f.Add(s[0], s[1])
	}
	src := &recordingSource{}
	h := api.NewHandler(src, api.Options{Cursors: codec})
	f.Fuzz(func(t *testing.T, video, query string) {
		if strings.ContainsAny(video, "/?#%") {
			return // another path, or a fragment: not this segment's input
		}
		src.mu.Lock()
		src.reqs, src.ids = nil, nil
		src.mu.Unlock()
		for _, path := range []string{"/v1/videos/" + video + "/comments", "/v1/comments/" + video} {
			req, err := http.NewRequest(http.MethodGet, "http://readsvc"+path+"?"+query, nil)
			if err != nil {
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			switch rec.Code {
			case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusServiceUnavailable:
			default:
				t.Fatalf("%q: %d %s", req.URL, rec.Code, rec.Body)
			}
			var e httpapi.ErrorBody
			if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code == "" {
				t.Fatalf("%q: %d, not the JSON error body: %s", req.URL, rec.Code, rec.Body)
			}
		}
		want, idErr := comment.ParseID(video)
		for _, r := range src.reqs {
			if idErr != nil || r.Video != want || r.Limit < 1 || r.Limit > pages.MaxLimit || r.Before < 0 {
				t.Fatalf("video %q query %q reached the read path as %+v", video, query, r)
			}
			if r.Before != 0 {
				if c, err := codec.Decode(want, r.Sort, cursorOf(t, query)); err != nil || c.LastID != r.Before {
					t.Fatalf("query %q: paging from %d, cursor %+v %v", query, r.Before, c, err)
				}
			}
		}
		for _, id := range src.ids {
			if idErr != nil || id != want {
				t.Fatalf("comment %q reached the read path as %d", video, id)
			}
		}
	})
}

// cursorOf returns the (first) cursor parameter of a query the handler
// accepted.
func cursorOf(t *testing.T, query string) string {
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if k, err := url.QueryUnescape(k); err != nil || k != "cursor" {
			continue
		}
		v, err := url.QueryUnescape(v)
		if err != nil {
			t.Fatalf("the handler accepted the cursor %q", v)
		}
		return v
	}
	t.Fatalf("paging without a cursor in %q", query)
	return ""
}
