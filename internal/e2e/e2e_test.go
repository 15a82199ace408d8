package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vidcomments/vidcomments/internal/auth"
)

// The whole pipeline under post-moderation: a comment posted to writesvc
// travels MySQL → outbox → Kafka → syncer → Cassandra and MySQL → binlog →
// cdc → Redis, and readsvc shows it, newest first.
func TestPostedCommentsBecomeVisible(t *testing.T) {
	c := startCluster(t, "post")
	video := time.Now().UnixNano() % 1e12
	first := c.post(video, 42, "first!")
	second := c.post(video, 43, "second <script>alert(1)</script>")
	c.waitVisible(video, []int64{second, first}, 15*time.Second)
}

// Issue #9's browser test: a moderator signs in to the console, approves
// one pending comment and rejects another; the read API then shows exactly
// the approved one.
func TestModerationConsoleInBrowser(t *testing.T) {
	c := startCluster(t, "pre")
	video := time.Now().UnixNano()%1e12 + 1
	keep := c.post(video, 42, "a fine comment")
	hostile := `<img src=x onerror="document.title='pwned'"> buy now`
	drop := c.post(video, 43, hostile)
	c.waitVisible(video, []int64{}, 5*time.Second) // pending: nothing shown yet

	shot := moderateInConsole(t, c.WriteURL, c.token(1, auth.RoleModerator), keep, drop, hostile)
	c.waitVisible(video, []int64{keep}, 15*time.Second)

	saveScreenshot(t, "console.png", shot)
}

// Issue #9's demo page: readsvc's read-only page at /demo/ shows the
// comments posted to one video, newest first, and "next" pages to older
// ones. The hostile comment is shown as text and never runs.
func TestDemoPageInBrowser(t *testing.T) {
	c := startCluster(t, "post")
	video := time.Now().UnixNano()%1e12 + 2
	hostile := `<img src=x onerror="document.title='pwned'"> hi`
	oldest := c.post(video, 42, "oldest comment")
	middle := c.post(video, 43, hostile)
	newest := c.post(video, 44, "newest comment")
	c.waitVisible(video, []int64{newest, middle, oldest}, 15*time.Second)

	ctx, cancel := context.WithTimeout(newBrowser(t), 90*time.Second)
	defer cancel()
	item := func(id int64) chromedp.CSS { return css(fmt.Sprintf(`#comments li[data-id="%d"]`, id)) }
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("demo: %s: %v", what, err)
		}
	}
	shownIDs := func() []string {
		t.Helper()
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#comments li")).map(li => li.dataset.id)`))
		step("list ids", err)
		return ids
	}
	ids := func(want ...int64) []string {
		s := make([]string, len(want))
		for i, id := range want {
			s[i] = fmt.Sprint(id)
		}
		return s
	}

	step("first page", chromedp.Do(ctx,
		chromedp.Navigate(fmt.Sprintf("%s/demo/?video=%d&limit=2", c.ReadURL, video)),
		chromedp.WaitVisible(item(newest)),
		chromedp.WaitVisible(item(middle)),
	))
	if got, want := shownIDs(), ids(newest, middle); !slices.Equal(got, want) {
		t.Errorf("first page shows %v, want %v", got, want)
	}
	shown, err := chromedp.Run(ctx, chromedp.Text(css(fmt.Sprintf(`#comments li[data-id="%d"] .content`, middle))))
	step("read content", err)
	if shown != hostile {
		t.Errorf("content shown as %q, want the text %q", shown, hostile)
	}
	summary, err := chromedp.Run(ctx, chromedp.Text(css("#summary")))
	step("read summary", err)
	if !strings.Contains(summary, "3 comments") {
		t.Errorf("summary %q does not count 3 comments", summary)
	}

	step("next page", chromedp.Do(ctx,
		chromedp.Click(css("#next")),
		chromedp.WaitVisible(item(oldest)),
		chromedp.WaitNotPresent(item(newest)),
	))
	if got, want := shownIDs(), ids(oldest); !slices.Equal(got, want) {
		t.Errorf("second page shows %v, want %v", got, want)
	}
	last, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("next").disabled`))
	step("read next button", err)
	if !last {
		t.Error(`"next" is still enabled on the last page`)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	step("title", err)
	if title == "pwned" {
		t.Error("comment markup ran as script in the demo page")
	}
}
