package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vidcomments/vidcomments/internal/stack"
)

// saveScreenshot writes shot as name into $VC_SCREENSHOT_DIR (relative to
// the repository's root), if set.
func saveScreenshot(t *testing.T, name string, shot []byte) {
	t.Helper()
	dir := os.Getenv("VC_SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	if root, _ := stack.RepoRoot(); !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
		t.Error(err)
	}
}

// chromium finds Debian's Chromium (scripts/stack install puts it there).
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("VC_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: install it with `scripts/stack install` (Debian package chromium) or set VC_CHROMIUM")
	return ""
}

// newBrowser starts a headless Chromium with a private profile and no
// background networking (the machine reaches nothing but loopback).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// rowSel selects the console's table row of one comment.
func rowSel(id int64) string { return fmt.Sprintf(`#rows tr[data-id="%d"]`, id) }

// console is a headless Chromium signed in to the moderation console.
type console struct {
	t   *testing.T
	ctx context.Context
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// signInToConsole opens the console at base, signs in with token and
// waits until the element ready (a CSS selector) shows; the browser closes
// when the test ends.
func signInToConsole(t *testing.T, base, token, ready string) *console {
	t.Helper()
	ctx, cancel := context.WithTimeout(newBrowser(t), 90*time.Second)
	t.Cleanup(cancel)
	c := &console{t: t, ctx: ctx}
	c.do("sign in",
		chromedp.Navigate(base+"/mod/"),
		chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), token),
		chromedp.Click(css("#signin-button")),
		chromedp.WaitVisible(css(ready)),
	)
	return c
}

// do runs actions in the console, failing the test with what on an error.
func (c *console) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, actions...); err != nil {
		c.t.Fatalf("console: %s: %v", what, err)
	}
}

// text is the visible text of the first element sel selects.
func (c *console) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(css(sel)))
	if err != nil {
		c.t.Fatalf("console: read %s: %v", sel, err)
	}
	return s
}

// screenshot is the whole page as a PNG.
func (c *console) screenshot() []byte {
	c.t.Helper()
	shot, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		c.t.Fatalf("console: screenshot: %v", err)
	}
	return shot
}

// moderateInConsole signs in to the console at base with token, approves
// approve and rejects reject (with a reason), each through its own row's
// buttons, and returns a screenshot of the queue taken before acting. It
// also checks that the rejected comment's content — hostile markup — was
// shown as text and never ran.
func moderateInConsole(t *testing.T, base, token string, approve, reject int64, rejectContent string) []byte {
	t.Helper()
	c := signInToConsole(t, base, token, rowSel(approve))
	c.do("the rejected comment's row", chromedp.WaitVisible(css(rowSel(reject))))
	shot := c.screenshot()
	if shown := c.text(rowSel(reject) + " td.content"); shown != rejectContent {
		t.Errorf("content shown as %q, want the text %q", shown, rejectContent)
	}
	c.do("approve",
		chromedp.Click(css(rowSel(approve)+" button.approve")),
		chromedp.WaitVisible(css(rowSel(approve)+".done")),
	)
	c.do("reject",
		chromedp.SendKeys(css(rowSel(reject)+" input.reason"), "spam"),
		chromedp.Click(css(rowSel(reject)+" button.reject")),
		chromedp.WaitVisible(css(rowSel(reject)+".done")),
	)
	title, err := chromedp.Run(c.ctx, chromedp.Title())
	if err != nil {
		t.Fatalf("console: title: %v", err)
	}
	if title == "pwned" {
		t.Error("comment markup ran as script in the console")
	}
	return shot
}
