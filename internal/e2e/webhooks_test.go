package e2e

import (
	"context"
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

	ctx, cancel := context.WithTimeout(newBrowser(t), 90*time.Second)
	defer cancel()
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("console: %s: %v", what, err)
		}
	}
	step("sign in and add an endpoint", chromedp.Do(ctx,
		chromedp.Navigate(c.WriteURL+"/mod/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), c.token(1, auth.RoleModerator)),
		chromedp.Click(css("#signin-button")),
		chromedp.WaitVisible(css("#webhook-form")),
		chromedp.SendKeys(css("#webhook-url"), rcv.URL+"/hook"),
		chromedp.Click(css("#webhook-add")),
		chromedp.WaitVisible(css("#webhook-rows tr")),
	))
	added, err := chromedp.Run(ctx, chromedp.Text(css("#webhook-status")))
	step("read the status line", err)
	if !strings.Contains(added, "signing secret") {
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
	step("the console shows the delivery", chromedp.Do(ctx, chromedp.WaitVisible(css("#webhook-rows td.last.delivered"))))
	last, err := chromedp.Run(ctx, chromedp.Text(css("#webhook-rows td.last")))
	step("read the last delivery", err)
	if !strings.Contains(last, "delivered") || !strings.Contains(last, "comment.removed") || !strings.Contains(last, "HTTP 200") {
		t.Errorf("last delivery shown as %q, want delivered comment.removed with HTTP 200", last)
	}
	url, err := chromedp.Run(ctx, chromedp.Text(css("#webhook-rows td.url")))
	step("read the endpoint", err)
	if url != rcv.URL+"/hook" {
		t.Errorf("endpoint shown as %q, want %q", url, rcv.URL+"/hook")
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	step("screenshot", err)
	saveScreenshot(t, "console-webhooks.png", shot)
}
