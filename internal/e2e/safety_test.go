package e2e

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vidcomments/vidcomments/internal/auth"
)

// Issue #18's content safety, seen by a moderator: under post-moderation a
// comment the rules hold for review (too many links) is stored pending and
// readers do not see it; the console shows it with its verdict, reason and
// what matched; approved from there, readers see it.
func TestHeldCommentInConsole(t *testing.T) {
	c := startClusterEnv(t, "post", []string{"VC_SAFETY_MAX_LINKS=1"})
	video := time.Now().UnixNano()%1e12 + 18
	held := c.post(video, 42, "see https://a.example and https://b.example")
	plain := c.post(video, 43, "a plain comment")
	c.waitVisible(video, []int64{plain}, 15*time.Second) // the held one waits for a moderator

	con := signInToConsole(t, c.WriteURL, c.token(1, auth.RoleModerator), rowSel(held)+" td.safety .verdict.hold")
	if verdict := con.text(rowSel(held) + " td.safety .verdict"); verdict != "held · too_many_links" {
		t.Errorf("verdict shown as %q, want %q", verdict, "held · too_many_links")
	}
	if detail := con.text(rowSel(held) + " td.safety .detail"); detail != "2 links; the limit is 1" {
		t.Errorf("detail shown as %q", detail)
	}
	shot := con.screenshot()
	con.do("approve",
		chromedp.Click(css(rowSel(held)+" button.approve")),
		chromedp.WaitVisible(css(rowSel(held)+".done")),
	)
	c.waitVisible(video, []int64{plain, held}, 15*time.Second)
	saveScreenshot(t, "console-safety.png", shot)
}
