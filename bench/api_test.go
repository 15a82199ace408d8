package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is one request a fake writesvc received.
type seen struct {
	method, path, auth, key, contentType string
	body                                 map[string]any
}

// fakeWritesvc answers the first request of each path with 503 and the
// rest with answer(path); it records every request.
func fakeWritesvc(t *testing.T, answer func(path string) (int, string)) (*httptest.Server, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var got []seen
	tried := map[string]bool{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		s := seen{method: req.Method, path: req.URL.Path, auth: req.Header.Get("Authorization"), key: req.Header.Get("Idempotency-Key"), contentType: req.Header.Get("Content-Type")}
		_ = json.Unmarshal(b, &s.body)
		mu.Lock()
		got = append(got, s)
		first := !tried[req.URL.Path]
		tried[req.URL.Path] = true
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"error":{"code":"unavailable","message":"retry"}}`)
			return
		}
		code, body := answer(req.URL.Path)
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seen { mu.Lock(); defer mu.Unlock(); return append([]seen(nil), got...) }
}

func fakeChaosRun(srv *httptest.Server) *chaosRun {
	return &chaosRun{
		cfg:    chaosConfig{RetryFor: 10 * time.Second, PostGap: time.Hour},
		logger: slog.New(slog.DiscardHandler),
		c:      &cluster{Secret: "bench-test-secret-0123456789abcdef-0123"},
		runID:  "run",
		videos: []int64{7},
		client: srv.Client(),
		svcs:   map[string]*chaosSvc{"writesvc": {addr: strings.TrimPrefix(srv.URL, "http://")}},
		byID:   map[int64]*tracked{},
		kills:  map[string]int{},
	}
}

// Chaos's writer posts through the generated client: a 503 is retried
// with the same Idempotency-Key, and the accepted comment is tracked
// under the id writesvc answered.
func TestChaosWriterRetriesAPostWithItsKey(t *testing.T) {
	srv, requests := fakeWritesvc(t, func(string) (int, string) { return http.StatusAccepted, `{"id":"42","status":"pending"}` })
	r := fakeChaosRun(srv)
	r.modTodo = make(chan int64, 1)
	load, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.writer(load, context.Background(), 3); close(done) }()
	select {
	case id := <-r.modTodo:
		if id != 42 {
			t.Errorf("queued %d for moderation, want 42", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no post accepted")
	}
	stop()
	<-done
	got := requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want a 503 and its retry: %+v", len(got), got)
	}
	for _, s := range got {
		if s.method != http.MethodPost || s.path != "/v1/videos/7/comments" || !strings.HasPrefix(s.auth, "Bearer ") || s.contentType != "application/json" {
			t.Errorf("request %+v, want POST /v1/videos/7/comments with a bearer token and a JSON body", s)
		}
		if content, _ := s.body["content"].(string); !strings.HasPrefix(content, "chaos run writer 3 post 0") {
			t.Errorf("body %v, want the writer's content", s.body)
		}
	}
	if got[0].key == "" || got[1].key != got[0].key {
		t.Errorf("Idempotency-Keys %q then %q, want one key on both", got[0].key, got[1].key)
	}
	if tr := r.byID[42]; tr == nil || tr.Key != got[0].key || tr.Status != "pending" || r.accepted != 1 {
		t.Errorf("tracked %+v (accepted %d), want comment 42 under the posted key", tr, r.accepted)
	}
}

// Chaos's moderator approves or rejects through the generated client; a
// reject carries its reason, and a 503 is retried.
func TestChaosModeratorActsThroughTheAPI(t *testing.T) {
	srv, requests := fakeWritesvc(t, func(path string) (int, string) {
		status := "approved"
		if strings.HasSuffix(path, ":reject") {
			status = "rejected"
		}
		return http.StatusOK, `{"changed":true,"comment":{"id":"42","video_id":"7","user_id":"1","parent_id":"0","content":"c","created_at":"2026-01-01T00:00:00Z","like_count":0,"reply_count":0,"status":"` + status + `","version":"2"}}`
	})
	r := fakeChaosRun(srv)
	r.modTodo = make(chan int64) // unbuffered: the moderator's own re-queue of an approved comment finds no room and is dropped
	tr := &tracked{ID: 42, Video: 7, Status: "pending"}
	r.byID[42] = tr
	r.comments = []*tracked{tr}
	load, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.moderator(load, context.Background()); close(done) }()
	r.modTodo <- 42
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		mod := tr.Mod
		r.mu.Unlock()
		if mod != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no moderation acknowledged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	got := requests()
	if len(got) < 2 {
		t.Fatalf("%d requests, want a 503 and its retry: %+v", len(got), got)
	}
	action := strings.TrimPrefix(got[0].path, "/v1/mod/comments/42:")
	if action != "approve" && action != "reject" {
		t.Fatalf("path %q, want /v1/mod/comments/42:approve or :reject", got[0].path)
	}
	for _, s := range got[:2] {
		if s.method != http.MethodPost || s.path != got[0].path || !strings.HasPrefix(s.auth, "Bearer ") {
			t.Errorf("request %+v, want POST %s with a bearer token", s, got[0].path)
		}
		if reason, _ := s.body["reason"].(string); action == "reject" && reason != "chaos" {
			t.Errorf("reject body %v, want reason chaos", s.body)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if want := map[string]string{"approve": "approved", "reject": "rejected"}[action]; tr.Mod != action || tr.Status != want || tr.LastBy != "api" {
		t.Errorf("tracked %+v after %s, want Mod %s, Status %s, LastBy api", tr, action, action, want)
	}
}

// The path walks that prepare the load generators' paths read pages
// through the generated client and follow next_cursor until it is null.
func TestWalksFollowNextCursor(t *testing.T) {
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		queries = append(queries, req.URL.RawQuery)
		mu.Unlock()
		if req.URL.Path != "/v1/videos/5/comments" {
			http.NotFound(w, req)
			return
		}
		next := map[string]string{"": `"c1"`, "c1": `"c2"`, "c2": "null"}[req.URL.Query().Get("cursor")]
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"comments":[],"next_cursor":`+next+`,"total":0}`)
	}))
	defer srv.Close()
	ctx := context.Background()

	paths, err := walk(ctx, srv.Client(), srv.URL, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{firstPage(5), firstPage(5) + "&cursor=c1", firstPage(5) + "&cursor=c2"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("walk: %v, want %v", paths, want)
	}
	hot, err := walkHot(ctx, srv.Client(), srv.URL, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantHot := []string{"/v1/videos/5/comments?sort=hot&limit=50", "/v1/videos/5/comments?sort=hot&limit=50&cursor=c1", "/v1/videos/5/comments?sort=hot&limit=50&cursor=c2"}
	if strings.Join(hot, " ") != strings.Join(wantHot, " ") {
		t.Errorf("walkHot: %v, want %v", hot, wantHot)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, q := range queries[3:] {
		if !strings.Contains(q, "sort=hot") || !strings.Contains(q, "limit=50") {
			t.Errorf("walkHot asked %q, want sort=hot and limit=50", q)
		}
	}
}
