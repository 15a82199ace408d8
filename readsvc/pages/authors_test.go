package pages_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache/pagecachetest"
	"github.com/vidcomments/vidcomments/internal/profiles"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

type author struct {
	DisplayName string `json:"display_name"`
	AvatarURL   string `json:"avatar_url"`
	Banned      bool   `json:"banned"`
}

type pageWithAuthors struct {
	Comments []struct {
		UserID string `json:"user_id"`
	} `json:"comments"`
	Authors map[string]author `json:"authors"`
}

// authoredVideo writes a video of n approved comments, each by a user of
// its own (ids no other test run uses), and returns the video and users.
func authoredVideo(t *testing.T, st *readtest.Stack, n int) (int64, []int64) {
	t.Helper()
	video, base := readtest.Video(), 6e12+rand.Int64N(1e12)
	users := make([]int64, n)
	for i, c := range cqlseed.Comments(video, n, time.Now().Add(-time.Minute), time.Second) {
		c.UserID = base + int64(i)
		users[i] = c.UserID
		st.Put(c)
	}
	return video, users
}

func readAuthors(t *testing.T, r *readtest.Reader, video int64, limit int) pageWithAuthors {
	t.Helper()
	return readAuthorsCtx(t, context.Background(), r, video, limit)
}

func readAuthorsCtx(t *testing.T, ctx context.Context, r *readtest.Reader, video int64, limit int) pageWithAuthors {
	t.Helper()
	p, err := r.Page(ctx, pages.Request{Video: video, Sort: cursor.ByTime, Limit: limit})
	if err != nil {
		t.Fatal(err)
	}
	var out pageWithAuthors
	if err := json.Unmarshal(p.Body(), &out); err != nil {
		t.Fatalf("%v: %s", err, p.Body())
	}
	if tags := strings.Join(p.TagHeader(), " "); strings.Count(tags, " u") != len(out.Authors) {
		t.Errorf("Surrogate-Key %q: want a u-tag per author (%d)", tags, len(out.Authors))
	}
	return out
}

// TestPageAuthorsCostOneQueryColdAndNoneWarm is the count: a page
// of 50 comments by 50 authors reads MySQL once when nothing is cached,
// Redis once in a process that has not seen them, and neither when warm;
// a rename cdc announces shows on the next epoch's page.
func TestPageAuthorsCostOneQueryColdAndNoneWarm(t *testing.T) {
	my := stacktest.NewMySQL(t)
	st := readtest.NewStack(t)
	video, users := authoredVideo(t, st, 50)
	ctx := context.Background()
	src := st.Profiles(my.DB, users...)
	banned := users[7]
	if _, err := my.DB.ExecContext(ctx, `INSERT INTO user_bans (user_id, reason, banned_by, created_at) VALUES (?, 'spam', 1, NOW(6))`, banned); err != nil {
		t.Fatal(err)
	}
	clk := pagecachetest.NewClock()
	r := st.NewReader(readtest.Config{Options: pages.Options{Now: clk.Now, Profiles: src}})
	queries := func(r *readtest.Reader, tier string) float64 {
		return readtest.Metric(t, r.Registry, "readsvc_profile_queries_total", "tier", tier)
	}

	cold := readAuthors(t, r, video, 50)
	if len(cold.Comments) != 50 || len(cold.Authors) != 50 {
		t.Fatalf("%d comments, %d authors: want 50 and 50", len(cold.Comments), len(cold.Authors))
	}
	for _, c := range cold.Comments {
		if _, ok := cold.Authors[c.UserID]; !ok {
			t.Errorf("author %s of a comment is not in authors", c.UserID)
		}
	}
	if a := cold.Authors[strconv.FormatInt(banned, 10)]; !a.Banned || a.DisplayName != "Author "+strconv.FormatInt(banned, 10) || a.AvatarURL == "" {
		t.Errorf("banned author shows as %+v", a)
	}
	if q := queries(r, "mysql"); q != 1 {
		t.Errorf("cold page: %v MySQL queries for profiles, want 1", q)
	}

	clk.Add(2 * pages.DefaultMaxAge) // the next epoch: the page is built again
	readAuthors(t, r, video, 50)
	if m, rd := queries(r, "mysql"), queries(r, "redis"); m != 1 || rd != 1 {
		t.Errorf("warm page: MySQL %v, Redis %v queries in all; want 1 and 1 (the cold page's)", m, rd)
	}
	other := st.NewReader(readtest.Config{Options: pages.Options{Now: clk.Now, Profiles: src}})
	readAuthors(t, other, video, 50)
	if m, rd := queries(other, "mysql"), queries(other, "redis"); m != 0 || rd != 1 {
		t.Errorf("a second process: MySQL %v, Redis %v queries; want 0 and 1", m, rd)
	}

	// A rename, as cdc applies it: MySQL, then the Redis copy and the
	// announcement.
	renamed := users[3]
	if _, err := my.DB.ExecContext(ctx, `UPDATE users SET display_name = 'Renamed' WHERE id = ?`, renamed); err != nil {
		t.Fatal(err)
	}
	if err := (&profiles.Refresher{DB: my.DB, Redis: st.Redis}).Refresh(ctx, []int64{renamed}); err != nil {
		t.Fatal(err)
	}
	// A CDN's fetch (ConfirmVersion) gets the new name at once, inside
	// the epoch the old page was built in ...
	confirm := pages.ConfirmVersion(ctx)
	deadline := time.Now().Add(5 * time.Second)
	for readAuthorsCtx(t, confirm, r, video, 50).Authors[strconv.FormatInt(renamed, 10)].DisplayName != "Renamed" {
		if time.Now().After(deadline) {
			t.Fatal("the rename never reached a CDN fetch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := readtest.Metric(t, r.Registry, "readsvc_pages_rebuilt_for_authors_total"); n < 1 {
		t.Errorf("%v pages rebuilt for a changed author, want at least 1", n)
	}
	// ... and every reader with the next epoch.
	clk.Add(2 * pages.DefaultMaxAge)
	if got := readAuthors(t, r, video, 50).Authors[strconv.FormatInt(renamed, 10)].DisplayName; got != "Renamed" {
		t.Errorf("next epoch's page shows %q, want the new name", got)
	}
}

// TestPageAuthorsWhileMySQLIsDown: pages are served on time without the
// authors no tier holds; the breaker keeps later pages from waiting.
func TestPageAuthorsWhileMySQLIsDown(t *testing.T) {
	st := readtest.NewStack(t)
	video, _ := authoredVideo(t, st, 10)
	down, err := mysqlstore.OpenLazy(config.MySQL{DSN: "u:p@tcp(127.0.0.1:1)/none?timeout=200ms"})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	clk := pagecachetest.NewClock()
	r := st.NewReader(readtest.Config{Options: pages.Options{Now: clk.Now, Profiles: pages.Profiles{Cache: profiles.NewCache(st.Redis), Store: profiles.Store{DB: down}}}})
	for i := range 5 {
		start := time.Now()
		p := readAuthors(t, r, video, 20)
		if len(p.Comments) != 10 || len(p.Authors) != 0 {
			t.Fatalf("page %d: %d comments, %d authors; want 10 and none", i, len(p.Comments), len(p.Authors))
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("page %d took %v with MySQL down", i, took)
		}
		clk.Add(2 * pages.DefaultMaxAge)
	}
	if m := readtest.Metric(t, r.Registry, "readsvc_profile_queries_total", "tier", "mysql"); m > float64(pages.DefaultBreakerFailures) {
		t.Errorf("%v MySQL attempts: the breaker should stop them after %d", m, pages.DefaultBreakerFailures)
	}
	if missing := readtest.Metric(t, r.Registry, "readsvc_profile_users_total", "tier", "missing"); missing != 50 {
		t.Errorf("%v authors counted missing, want 50 (10 per page)", missing)
	}
}

// TestCDNFetchSeesARenameBeforeTheAnnouncement: cdc overwrites the Redis
// copy, then announces, then purges the CDN. The CDN's fetch that follows
// the purge may reach readsvc before the announcement does; it must get
// the new name all the same, or the CDN keeps the old one for its
// s-maxage. Here the announcement never comes at all.
func TestCDNFetchSeesARenameBeforeTheAnnouncement(t *testing.T) {
	my := stacktest.NewMySQL(t)
	st := readtest.NewStack(t)
	video, users := authoredVideo(t, st, 5)
	ctx := context.Background()
	clk := pagecachetest.NewClock()
	r := st.NewReader(readtest.Config{Options: pages.Options{Now: clk.Now, Profiles: st.Profiles(my.DB, users...)}})
	renamed := strconv.FormatInt(users[2], 10)
	confirm := pages.ConfirmVersion(ctx)
	if got := readAuthorsCtx(t, confirm, r, video, 50).Authors[renamed].DisplayName; got != "Author "+renamed {
		t.Fatalf("before the rename: %q", got)
	}
	b, _ := json.Marshal(profiles.Profile{DisplayName: "Renamed"})
	if err := st.Redis.Set(ctx, profiles.Key(users[2]), b, profiles.TTL).Err(); err != nil {
		t.Fatal(err)
	}
	if got := readAuthorsCtx(t, confirm, r, video, 50).Authors[renamed].DisplayName; got != "Renamed" {
		t.Errorf("a CDN fetch after the Redis copy changed shows %q, want the new name", got)
	}
	if n := readtest.Metric(t, r.Registry, "readsvc_pages_rebuilt_for_authors_total"); n != 1 {
		t.Errorf("%v pages rebuilt for a changed author, want 1", n)
	}
	// Within the epoch groupcache still holds the old page, so each CDN
	// fetch builds it again; the next epoch's page shows the new name (the
	// in-process copy took it from the fetch) and is served as it is.
	readAuthorsCtx(t, confirm, r, video, 50)
	clk.Add(2 * pages.DefaultMaxAge)
	if got := readAuthors(t, r, video, 50).Authors[renamed].DisplayName; got != "Renamed" {
		t.Errorf("the next epoch's page shows %q, want the new name", got)
	}
	readAuthorsCtx(t, confirm, r, video, 50)
	if n := readtest.Metric(t, r.Registry, "readsvc_pages_rebuilt_for_authors_total"); n != 2 {
		t.Errorf("%v pages rebuilt for one rename, want 2 (the two fetches inside the old page's epoch)", n)
	}
}
