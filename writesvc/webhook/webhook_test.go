package webhook_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

func TestSignAndVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"1"}`)
	sig := webhook.Sign("s3cret", now, body)
	for _, c := range []struct {
		name           string
		secret, header string
		body           []byte
		at             time.Time
		ok             bool
	}{
		{"as signed", "s3cret", sig, body, now, true},
		{"within tolerance", "s3cret", sig, body, now.Add(4 * time.Minute), true},
		{"too old", "s3cret", sig, body, now.Add(6 * time.Minute), false},
		{"another secret", "other", sig, body, now, false},
		{"another body", "s3cret", sig, []byte(`{"id":"2"}`), now, false},
		{"no header", "s3cret", "", body, now, false},
		{"no v1", "s3cret", "t=1800000000", body, now, false},
	} {
		err := webhook.Verify(c.secret, c.header, c.body, c.at, 5*time.Minute)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, webhook.ErrBadSignature)) {
			t.Errorf("%s: Verify = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		url    string
		events []string
		ok     bool
	}{
		{"https://hooks.example.com/x", []string{webhook.EventApproved}, true},
		{"http://127.0.0.1:9/x", webhook.Events, true},
		{"ftp://example.com/", []string{webhook.EventApproved}, false},
		{"/relative", []string{webhook.EventApproved}, false},
		{"https://user:pw@example.com/", []string{webhook.EventApproved}, false},
		{"https://example.com/", nil, false},
		{"https://example.com/", []string{"comment.liked"}, false},
		{"https://example.com/", []string{webhook.EventReply, webhook.EventReply}, false},
		{"https://example.com/" + strings.Repeat("a", webhook.MaxURLLen), []string{webhook.EventApproved}, false},
	} {
		if err := webhook.Check(c.url, c.events); (err == nil) != c.ok || (err != nil && !errors.Is(err, webhook.ErrInvalid)) {
			t.Errorf("Check(%.40q, %q) = %v, want ok=%v", c.url, c.events, err, c.ok)
		}
	}
}

// receiver is an endpoint that answers fail 500s before it accepts, and
// records every request it accepted (its body verified with the secret).
type receiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	fail   int
	tries  map[string]int // by X-Vidcomments-Delivery
	got    []webhook.Body
	srv    *httptest.Server
}

func newReceiver(t *testing.T, fail int) *receiver {
	r := &receiver{t: t, fail: fail, tries: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhook.Verify(r.secret, req.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute); err != nil {
		r.t.Errorf("delivery with a bad signature: %v", err)
	}
	id := req.Header.Get(webhook.HeaderDelivery)
	if r.tries[id]++; r.tries[id] <= r.fail {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	var b webhook.Body
	if err := json.Unmarshal(body, &b); err != nil || b.ID != id || b.Event != req.Header.Get(webhook.HeaderEvent) {
		r.t.Errorf("delivery body %s (err %v) does not match its headers", body, err)
	}
	r.got = append(r.got, b)
}

func (r *receiver) accepted() []webhook.Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

type world struct {
	db    *sql.DB
	store *webhook.Store
}

func newWorld(t *testing.T) world {
	my := stacktest.NewMySQL(t)
	return world{db: my.DB, store: webhook.NewStore(my.DB)}
}

func (w world) exec(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := w.db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (w world) comment(t *testing.T, id, parent, user int64, status string) {
	t.Helper()
	w.exec(t, `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at)
		VALUES (?, 7, ?, ?, 'hello', ?, NOW(6), NOW(6))`, id, user, parent, status)
}

func (w world) run(t *testing.T, cfg webhook.Config) (stop func()) {
	d, err := webhook.NewDispatcher(w.db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func (w world) deliveries(t *testing.T, hook int64) []webhook.Delivery {
	t.Helper()
	ds, err := w.store.Deliveries(context.Background(), hook, 100)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

// Each change, made by plain SQL, commits its deliveries: approvals,
// visible replies (with the parent's author) and removals, each to the
// endpoints that asked for it.
func TestChangesCommitTheirDeliveries(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	all, err := w.store.Register(ctx, "http://127.0.0.1:9/all", webhook.Events, 1)
	if err != nil {
		t.Fatal(err)
	}
	removals, err := w.store.Register(ctx, "http://127.0.0.1:9/removed", []string{webhook.EventRemoved}, 1)
	if err != nil {
		t.Fatal(err)
	}
	w.comment(t, 100, 0, 42, "pending")
	w.exec(t, `UPDATE comments SET status = 'approved' WHERE id = 100`) // comment.approved
	w.comment(t, 101, 100, 43, "approved")                              // comment.reply, visible at once
	w.comment(t, 102, 100, 44, "pending")                               // nothing yet
	w.exec(t, `UPDATE comments SET status = 'approved' WHERE id = 102`) // comment.approved and comment.reply
	w.exec(t, `UPDATE comments SET content = 'edited' WHERE id = 100`)  // nothing
	w.exec(t, `UPDATE comments SET status = 'rejected' WHERE id = 101`) // comment.removed
	w.exec(t, `DELETE FROM comments WHERE id = 999`)                    // no row: nothing

	events := func(hook int64) []string {
		var out []string
		for _, d := range slices.Backward(w.deliveries(t, hook)) {
			out = append(out, d.Event+" "+itoa(d.CommentID))
		}
		return out
	}
	want := []string{"comment.approved 100", "comment.reply 101", "comment.approved 102", "comment.reply 102", "comment.removed 101"}
	if got := events(all.ID); !slices.Equal(got, want) {
		t.Errorf("deliveries to the endpoint of every event:\n got %q\nwant %q", got, want)
	}
	if got := events(removals.ID); !slices.Equal(got, []string{"comment.removed 101"}) {
		t.Errorf("deliveries to the removals endpoint: %q", got)
	}
}

// A receiver that answers 500 three times gets the event on the fourth
// attempt, and exactly one successful delivery is recorded per event.
func TestRetriesUntilTheEndpointAccepts(t *testing.T) {
	w := newWorld(t)
	r := newReceiver(t, 3)
	hook, err := w.store.Register(context.Background(), r.srv.URL+"/hook", webhook.Events, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.secret = hook.Secret
	w.comment(t, 200, 0, 42, "approved")
	w.comment(t, 201, 200, 43, "approved")
	w.run(t, webhook.Config{Poll: 20 * time.Millisecond, MinBackoff: 50 * time.Millisecond, Timeout: time.Second, Lease: 2 * time.Second})

	stacktest.Eventually(t, 10*time.Second, "the reply delivered and recorded", func() bool {
		ds := w.deliveries(t, hook.ID)
		return len(r.accepted()) == 1 && len(ds) == 1 && ds[0].State() == "delivered"
	})
	time.Sleep(300 * time.Millisecond) // nothing more comes
	got := r.accepted()
	if len(got) != 1 || got[0].Event != webhook.EventReply || got[0].Comment.ID != "201" || got[0].ParentUserID != "42" {
		t.Fatalf("accepted %+v, want one comment.reply of 201 to user 42", got)
	}
	ds := w.deliveries(t, hook.ID)
	if len(ds) != 1 || ds[0].State() != "delivered" || ds[0].Attempts != 4 || ds[0].LastStatus != 200 {
		t.Errorf("recorded %+v, want one delivered after 4 attempts with status 200", ds)
	}
	list, err := w.store.List(context.Background())
	if err != nil || len(list) != 1 || list[0].Last == nil || list[0].Last.ID != ds[0].ID || list[0].Secret != "" {
		t.Errorf("List = %+v, %v: want the hook with its last delivery and no secret", list, err)
	}
}

// A dispatcher that dies mid-send (its context ends while the endpoint
// hangs) leaves the delivery to the next one once its lease ends: nothing
// lost, one success recorded.
func TestADeadDispatchersDeliveryComesBack(t *testing.T) {
	w := newWorld(t)
	var hung sync.Once
	release := make(chan struct{})
	r := newReceiver(t, 0)
	inner := r.srv.Config.Handler
	r.srv.Config.Handler = http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
		first := false
		hung.Do(func() { first = true })
		if first {
			<-release // the first attempt never gets an answer
			return
		}
		inner.ServeHTTP(rw, req)
	})
	defer close(release)
	hook, err := w.store.Register(context.Background(), r.srv.URL, []string{webhook.EventApproved}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.secret = hook.Secret
	w.comment(t, 300, 0, 42, "pending")
	w.exec(t, `UPDATE comments SET status = 'approved' WHERE id = 300`)

	cfg := webhook.Config{Poll: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Lease: time.Second}
	stop := w.run(t, cfg)
	stacktest.Eventually(t, 5*time.Second, "the first attempt under way", func() bool {
		ds := w.deliveries(t, hook.ID)
		return len(ds) == 1 && ds[0].Attempts == 1
	})
	stop() // dies mid-send: nothing recorded
	w.run(t, cfg)
	stacktest.Eventually(t, 10*time.Second, "the delivery made and recorded by the second dispatcher", func() bool {
		ds := w.deliveries(t, hook.ID)
		return len(r.accepted()) == 1 && len(ds) == 1 && ds[0].State() == "delivered"
	})
}

// A dead endpoint slows nobody: another endpoint's delivery goes out at
// once while the dead one's retries wait their backoff; deleting the dead
// endpoint ends its deliveries.
func TestADeadEndpointDelaysNoOther(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	dead, err := w.store.Register(ctx, "http://"+stacktest.FreeAddr(t)+"/gone", []string{webhook.EventRemoved}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, 0)
	live, err := w.store.Register(ctx, r.srv.URL, []string{webhook.EventRemoved}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.secret = live.Secret
	w.run(t, webhook.Config{Poll: 20 * time.Millisecond, Workers: 2, Timeout: time.Second, Lease: 2 * time.Second, MinBackoff: time.Minute})
	for id := int64(400); id < 410; id++ {
		w.comment(t, id, 0, 42, "approved")
		w.exec(t, `UPDATE comments SET status = 'deleted' WHERE id = ?`, id)
	}
	stacktest.Eventually(t, 5*time.Second, "all ten removals at the live endpoint", func() bool { return len(r.accepted()) == 10 })
	for _, d := range w.deliveries(t, dead.ID) {
		if d.State() != "pending" || d.Attempts != 1 || d.LastError == "" {
			t.Errorf("dead endpoint's delivery %+v: want pending after one failed attempt", d)
		}
	}
	if err := w.store.Delete(ctx, dead.ID); err != nil {
		t.Fatal(err)
	}
	for _, d := range w.deliveries(t, dead.ID) {
		if d.State() != "failed" {
			t.Errorf("a deleted endpoint's delivery is %s, want failed", d.State())
		}
	}
	if err := w.store.Delete(ctx, dead.ID); !errors.Is(err, webhook.ErrNotFound) {
		t.Errorf("deleting it again: %v, want ErrNotFound", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A backlog drains at the workers' pace, not one batch per poll: with a
// poll interval of an hour, every due delivery still goes out.
func TestABacklogDrainsWithoutWaitingForThePoll(t *testing.T) {
	w := newWorld(t)
	r := newReceiver(t, 0)
	hook, err := w.store.Register(context.Background(), r.srv.URL, []string{webhook.EventRemoved}, 1)
	if err != nil {
		t.Fatal(err)
	}
	r.secret = hook.Secret
	const backlog = 40
	for id := int64(500); id < 500+backlog; id++ {
		w.comment(t, id, 0, 42, "approved")
		w.exec(t, `UPDATE comments SET status = 'rejected' WHERE id = ?`, id)
	}
	w.run(t, webhook.Config{Poll: time.Hour, Workers: 4, Batch: 8, Timeout: time.Second, Lease: 2 * time.Second})
	stacktest.Eventually(t, 20*time.Second, "the whole backlog delivered", func() bool { return len(r.accepted()) == backlog })
}
