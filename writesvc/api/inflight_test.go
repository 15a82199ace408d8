package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// blockingStore holds every Create until release is closed.
type blockingStore struct {
	fuzzStore
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Create(ctx context.Context, p store.Post) (store.Created, error) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return store.Created{}, ctx.Err()
	}
	return s.fuzzStore.Create(ctx, p)
}

// Beyond MaxInflight requests at once, writesvc answers 503 overloaded
// with Retry-After instead of queueing more work behind a stuck store; the
// requests it admitted finish normally and the slots are given back.
func TestInflightLimit(t *testing.T) {
	st := &blockingStore{entered: make(chan struct{}, 8), release: make(chan struct{})}
	a := newTestAPI(t, Config{Moderation: comment.Pending, MaxRunes: 100, MaxInflight: 2}, st)
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/videos/5/comments", strings.NewReader(`{"content":"hi"}`))
		req.Header.Set("Authorization", "Bearer user")
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, req)
		return rec
	}
	var wg sync.WaitGroup
	held := make([]*httptest.ResponseRecorder, 2)
	for i := range held {
		wg.Add(1)
		go func() { defer wg.Done(); held[i] = post() }()
	}
	for range held {
		select {
		case <-st.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the admitted posts never reached the store")
		}
	}

	tests := []struct {
		name   string
		path   string
		status int
	}{
		{"a post beyond the limit", "/v1/videos/5/comments", http.StatusServiceUnavailable},
		{"a moderation request beyond the limit", "/v1/mod/queue", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			if tt.path == "/v1/videos/5/comments" {
				req = httptest.NewRequest(http.MethodPost, tt.path, strings.NewReader(`{"content":"hi"}`))
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Authorization", "Bearer mod")
			rec := httptest.NewRecorder()
			a.Handler().ServeHTTP(rec, req)
			var e httpapi.ErrorBody
			if rec.Code != tt.status || rec.Header().Get("Retry-After") != "1" || json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error.Code != "overloaded" {
				t.Errorf("%d Retry-After %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
			}
		})
	}
	var m dto.Metric
	if err := a.inflight.refused.Write(&m); err != nil || m.GetCounter().GetValue() != 2 {
		t.Errorf("writesvc_http_overloaded_total = %v (%v), want 2", m.GetCounter().GetValue(), err)
	}

	close(st.release)
	wg.Wait()
	for i, rec := range held {
		if rec.Code != http.StatusAccepted {
			t.Errorf("admitted post %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if rec := post(); rec.Code != http.StatusAccepted {
		t.Errorf("after the burst: %d %s", rec.Code, rec.Body)
	}
}
