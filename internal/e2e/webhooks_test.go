package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/writesvc/webhook"
)

// Issue #18's webhooks in the console, tested in Chromium: a moderator adds
// an endpoint through the console's form, a rejection is delivered to it,
// and the console shows the endpoint with its last delivery's status.
func TestWebhooksInTheConsole(t *testing.T) {
	c := startCluster(t, "post")
	var mu sync.Mutex
	var events []string
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		events = append(events, r.Header.Get(webhook.HeaderEvent))
		mu.Unlock()
	}))
	defer rcv.Close()

	con := signInToConsole(t, c.WriteURL, c.token(1, auth.RoleModerator), "#webhook-form")
	con.do("add an endpoint",
		chromedp.SendKeys(css("#webhook-url"), rcv.URL+"/hook"),
		chromedp.Click(css("#webhook-add")),
		chromedp.WaitVisible(css("#webhook-rows tr")),
	)
	if added := con.text("#webhook-status"); !strings.Contains(added, "signing secret") {
		t.Errorf("after adding: status %q, want the secret shown once", added)
	}

	video := time.Now().UnixNano()%1e12 + 19
	id := c.post(video, 42, "to be removed")
	c.moderate(id, "reject")
	stacktest.Eventually(t, 20*time.Second, "the rejection delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(events) > 0
	})
	con.do("the console shows the delivery", chromedp.WaitVisible(css("#webhook-rows td.last.delivered")))
	if last := con.text("#webhook-rows td.last"); !strings.Contains(last, "delivered") || !strings.Contains(last, "comment.removed") || !strings.Contains(last, "HTTP 200") {
		t.Errorf("last delivery shown as %q, want delivered comment.removed with HTTP 200", last)
	}
	if url := con.text("#webhook-rows td.url"); url != rcv.URL+"/hook" {
		t.Errorf("endpoint shown as %q, want %q", url, rcv.URL+"/hook")
	}
	saveScreenshot(t, "console-webhooks.png", con.screenshot())
}
