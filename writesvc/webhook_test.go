package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/writesvc/api"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

// hookReceiver answers the first fail deliveries of each event with 500 and
// hangs on every request while hold is set; it records the bodies it
// accepted, each verified against the secret.
type hookReceiver struct {
	mu       sync.Mutex
	secret   string
	fail     int
	tries    map[string]int
	accepted []webhook.Body
	hold     chan struct{} // non-nil: requests wait until it closes
	held     chan struct{} // gets a value when a request starts waiting
	srv      *httptest.Server
}

func newHookReceiver(t *testing.T, fail int) *hookReceiver {
	h := &hookReceiver{fail: fail, tries: map[string]int{}, held: make(chan struct{}, 16)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		hold := h.hold
		h.mu.Unlock()
		if hold != nil {
			h.held <- struct{}{}
			<-hold
			return
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := webhook.Verify(h.secret, r.Header.Get(webhook.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("delivery %s: %v", body, err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		id := r.Header.Get(webhook.HeaderDelivery)
		if h.tries[id]++; h.tries[id] <= h.fail {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		var b webhook.Body
		_ = json.Unmarshal(body, &b)
		h.accepted = append(h.accepted, b)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) got() []webhook.Body {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]webhook.Body(nil), h.accepted...)
}

// Issue #18: webhook deliveries survive kill -9 of writesvc and an endpoint
// that answers 500 three times, with exactly one successful delivery
// recorded per event; the moderation API lists the endpoint with its last
// delivery.
func TestWebhooksSurviveKillAndRetries(t *testing.T) {
	st := newStack(t)
	cfg := st.config(t, func(c *Config) {
		c.Moderation = "pre"
		c.WebhookTimeout, c.WebhookLease, c.WebhookMinBackoff = 500*time.Millisecond, 2*time.Second, 100*time.Millisecond
	})
	p := startProcess(t, cfg)
	rcv := newHookReceiver(t, 3)
	mod := token(t, 9000, auth.RoleModerator)

	r := p.do(t, req{method: "POST", path: "/v1/mod/webhooks", token: mod,
		body: map[string]any{"url": rcv.srv.URL + "/hook", "events": webhook.Events}})
	if r.code != http.StatusCreated {
		t.Fatalf("register: %s", r)
	}
	var hook api.Webhook
	r.decode(t, &hook)
	if hook.Secret == "" || hook.ID == "" {
		t.Fatalf("register answered %s without an id and secret", r)
	}
	rcv.secret = hook.Secret
	if r := p.do(t, req{method: "POST", path: "/v1/mod/webhooks", token: token(t, 1, auth.RoleUser),
		body: map[string]any{"url": rcv.srv.URL, "events": webhook.Events}}); r.code != http.StatusForbidden {
		t.Errorf("a reader registering a webhook: %s, want 403", r)
	}
	if r := p.do(t, req{method: "POST", path: "/v1/mod/webhooks", token: mod,
		body: map[string]any{"url": "ftp://example.com/", "events": webhook.Events}}); r.code != http.StatusBadRequest || r.errorCode() != "invalid_webhook" {
		t.Errorf("an ftp URL: %s, want 400 invalid_webhook", r)
	}

	// The endpoint hangs: writesvc is killed with a delivery under way.
	rcv.mu.Lock()
	rcv.hold = make(chan struct{})
	rcv.mu.Unlock()
	var ids []int64
	for i := range 3 {
		id := p.mustPost(t, 100+int64(i), 700, fmt.Sprintf("hook me %d", i))
		if r := p.moderate(t, id, "approve", nil); r.code != http.StatusOK {
			t.Fatal(r)
		}
		ids = append(ids, id)
	}
	select {
	case <-rcv.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery reached the endpoint")
	}
	p.kill(t)
	rcv.mu.Lock()
	close(rcv.hold)
	rcv.hold = nil
	rcv.mu.Unlock()

	p2 := startProcess(t, cfg)
	waitFor(t, 60*time.Second, "every approval delivered after three 500s, and recorded", func() bool {
		return len(rcv.got()) >= len(ids) &&
			st.count(t, `SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`) == len(ids)
	})
	time.Sleep(500 * time.Millisecond) // no repeats follow
	seen := map[string]int{}
	for _, b := range rcv.got() {
		if b.Event != webhook.EventApproved {
			t.Errorf("accepted %+v, want only comment.approved", b)
		}
		seen[b.Comment.ID]++
	}
	for _, id := range ids {
		if seen[fmt.Sprint(id)] != 1 {
			t.Errorf("comment %d accepted %d times, want once", id, seen[fmt.Sprint(id)])
		}
	}
	if n := st.count(t, `SELECT COUNT(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`); n != len(ids) {
		t.Errorf("%d deliveries recorded as delivered, want %d", n, len(ids))
	}
	if n := st.count(t, `SELECT COUNT(*) FROM webhook_deliveries WHERE attempts < 4`); n != 0 {
		t.Errorf("%d deliveries took fewer than 4 attempts (3 answered 500)", n)
	}

	r = p2.do(t, req{method: "GET", path: "/v1/mod/webhooks", token: mod})
	var list struct{ Webhooks []api.Webhook }
	r.decode(t, &list)
	if r.code != http.StatusOK || len(list.Webhooks) != 1 || list.Webhooks[0].Secret != "" || list.Webhooks[0].LastDelivery == nil ||
		list.Webhooks[0].LastDelivery.State != "delivered" || list.Webhooks[0].LastDelivery.LastStatus != 200 {
		t.Errorf("list: %s, want the endpoint, no secret, its last delivery delivered with 200", r)
	}
	r = p2.do(t, req{method: "GET", path: "/v1/mod/webhooks/" + hook.ID + "/deliveries?limit=10", token: mod})
	var ds struct{ Deliveries []api.WebhookDelivery }
	r.decode(t, &ds)
	if r.code != http.StatusOK || len(ds.Deliveries) != len(ids) {
		t.Errorf("deliveries: %s, want %d", r, len(ids))
	}
	if r := p2.do(t, req{method: "DELETE", path: "/v1/mod/webhooks/" + hook.ID, token: mod}); r.code != http.StatusNoContent {
		t.Errorf("delete: %s, want 204", r)
	}
	if r := p2.do(t, req{method: "DELETE", path: "/v1/mod/webhooks/" + hook.ID, token: mod}); r.code != http.StatusNotFound {
		t.Errorf("delete again: %s, want 404", r)
	}
}
