package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stack"
	"github.com/vidcomments/vidcomments/writesvc/auth"
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

	if dir := os.Getenv("VC_SCREENSHOT_DIR"); dir != "" {
		root, _ := stack.RepoRoot()
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(root, dir)
		}
		if err := os.WriteFile(filepath.Join(dir, "console.png"), shot, 0o644); err != nil {
			t.Error(err)
		}
	}
}
