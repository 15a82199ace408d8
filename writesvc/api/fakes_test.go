package api

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/writesvc/ratelimit"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// The fakes the API's tests run on (the fuzz targets, the routes and the
// in-flight limit), and newTestAPI, which wires them.

// fuzzStore is an in-memory Store that never fails: whatever a fuzzed
// request gets back is the API's own doing, never a dependency's. The
// embedded Store (nil) stands for the methods no fuzzed route calls.
type fuzzStore struct {
	Store
	mu       sync.Mutex
	posts    []store.Post
	changes  []store.Change
	queries  []store.QueueQuery
	bans     []store.Ban
	unbanned []int64
}

func (s *fuzzStore) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts, s.changes, s.queries, s.bans, s.unbanned = nil, nil, nil, nil, nil
}

func (s *fuzzStore) Create(_ context.Context, p store.Post) (store.Created, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts = append(s.posts, p)
	c := comment.Comment{ID: int64(len(s.posts)), VideoID: p.VideoID, UserID: p.UserID, ParentID: p.ParentID, Content: p.Content, Status: p.Status}
	code, body := p.Response(c)
	return store.Created{Comment: c, Code: code, Body: body}, nil
}

func (s *fuzzStore) Idempotent(context.Context, int64, string) (store.Stored, bool, error) {
	return store.Stored{}, false, nil
}

func (s *fuzzStore) Transition(_ context.Context, ch store.Change) (store.Changed, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changes = append(s.changes, ch)
	return store.Changed{Comment: comment.Comment{ID: ch.CommentID, VideoID: 1, UserID: 1, Content: "x", Status: comment.Approved}, Changed: true}, nil
}

func (s *fuzzStore) Queue(_ context.Context, q store.QueueQuery) ([]store.Queued, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queries = append(s.queries, q)
	return nil, nil
}

func (s *fuzzStore) Ban(_ context.Context, b store.Ban) (store.Ban, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bans = append(s.bans, b)
	return b, nil
}

func (s *fuzzStore) Unban(_ context.Context, id int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unbanned = append(s.unbanned, id)
	return true, nil
}

type allowAll struct{}

func (allowAll) Allow(context.Context, int64) (ratelimit.Decision, error) {
	return ratelimit.Decision{Allowed: true}, nil
}

type noNotify struct{}

func (noNotify) Notify() {}

// tokenVerifier accepts exactly two tokens, "user" and "mod"; JWTs
// themselves are fuzzed in writesvc/auth.
type tokenVerifier struct{}

func (tokenVerifier) Verify(tok string) (auth.Principal, error) {
	switch tok {
	case "user":
		return auth.Principal{UserID: 42, Role: auth.RoleUser}, nil
	case "mod":
		return auth.Principal{UserID: 7, Role: auth.RoleModerator}, nil
	}
	return auth.Principal{}, auth.ErrMalformed
}

// newTestAPI is an API with cfg on st and the fakes above: every post
// allowed, no relay to notify, tokenVerifier's two tokens, no logs, and
// metrics of its own.
func newTestAPI(tb testing.TB, cfg Config, st Store) *API {
	tb.Helper()
	a, err := New(cfg, st, allowAll{}, noNotify{}, tokenVerifier{}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
