package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/cdn"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// authorName is what a page shows of user: "" when it has no entry.
func authorName(url string, user int64) (string, bool, string) {
	resp, err := http.Get(url)
	if err != nil {
		return "", false, ""
	}
	defer resp.Body.Close()
	var p apiclient.Page
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&p) != nil || p.Authors == nil {
		return "", false, resp.Header.Get(cdn.KeyHeader)
	}
	a, ok := (*p.Authors)[fmt.Sprint(user)]
	return a.DisplayName, ok && a.Banned, resp.Header.Get(cdn.KeyHeader)
}

// Author profiles (issue #18): a rename through writesvc — or by plain SQL
// — reaches readsvc's pages within an epoch (1 s) and Varnish's at once
// (cdc purges the author's tag); a ban shows on the author's comments.
func TestRenameReachesEveryPage(t *testing.T) {
	if err := cdn.Installed(); err != nil {
		t.Fatal(err)
	}
	varnishAddr := stacktest.FreeAddr(t)
	c := startClusterEnv(t, "post", []string{"VC_CDN_PURGE_URLS=http://" + varnishAddr, "VC_READSVC_SHARED_MAX_AGE=60s"})
	v, err := cdn.Start(context.Background(), t.TempDir(), varnishAddr, strings.TrimPrefix(c.ReadURL, "http://"), 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Kill)

	// Users of this run only: a profile's Redis copy (vc:user:N) outlives
	// the test's private database by its TTL (10 min), and an earlier
	// run's copy (banned, at the end of this test) must play no part.
	video := time.Now().UnixNano()%1e12 + 19
	user := 1e9 + video%1e9
	other := user + 1
	rename := func(name string) {
		t.Helper()
		r, err := c.write().PutProfileWithResponse(context.Background(), apiclient.NewProfile{DisplayName: name}, bearer(c.token(user, auth.RoleUser)))
		if err != nil || r.StatusCode() != 200 {
			t.Fatalf("PUT profile: %v %v", err, r)
		}
	}
	rename("first")
	c.post(video, user, "by the renamed author")
	c.post(video, other, "by someone else")
	path := fmt.Sprintf("/v1/videos/%d/comments?limit=50", video)
	direct, shared := c.ReadURL+path, v.URL()+path
	stacktest.Eventually(t, 30*time.Second, "the author's name on the page, direct and through Varnish", func() bool {
		a, _, tags := authorName(direct, user) // Varnish keeps the tags to itself
		b, _, _ := authorName(shared, user)
		return a == "first" && b == "first" && strings.Contains(tags, cdn.UserTag(user))
	})

	const trials = 20
	var readsvc, varnish []time.Duration
	for i := range trials {
		name := fmt.Sprintf("name %d", i)
		if i%5 == 4 { // one truth: plain SQL renames the same way
			if _, err := c.MySQL.DB.Exec(`UPDATE users SET display_name = ? WHERE id = ?`, name, user); err != nil {
				t.Fatal(err)
			}
		} else {
			rename(name)
		}
		start := time.Now()
		done := map[string]bool{}
		for len(done) < 2 {
			if time.Since(start) > 5*time.Second {
				t.Fatalf("trial %d: rename not shown after 5s (direct %v, Varnish %v)", i, done["direct"], done["varnish"])
			}
			for what, url := range map[string]string{"direct": direct, "varnish": shared} {
				if got, _, _ := authorName(url, user); !done[what] && got == name {
					done[what] = true
					if what == "direct" {
						readsvc = append(readsvc, time.Since(start))
					} else {
						varnish = append(varnish, time.Since(start))
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	dp50, dp99, _ := stacktest.Quantiles(readsvc)
	vp50, vp99, _ := stacktest.Quantiles(varnish)
	t.Logf("rename shown, %d trials (every 5th by plain SQL): readsvc p50 %v p99 %v; Varnish p50 %v p99 %v", trials, dp50, dp99, vp50, vp99)
	// readsvc: at most one epoch (VC_READSVC_MAX_AGE, 1 s) after cdc's
	// announcement; Varnish: purged on the announcement.
	if dp99 > 1300*time.Millisecond || vp99 > 500*time.Millisecond {
		t.Errorf("rename p99: readsvc %v, Varnish %v; want about an epoch (at most 1.3 s) and a purge (at most 500 ms)", dp99, vp99)
	}

	// A ban marks the author's comments, through Varnish too.
	r, err := c.write().BanUserWithResponse(context.Background(), apiID(user), apiclient.BanUserJSONRequestBody{}, bearer(c.token(1, auth.RoleModerator)))
	if err != nil || r.StatusCode()/100 != 2 {
		t.Fatalf("ban: %v %v", err, r)
	}
	stacktest.Eventually(t, 5*time.Second, "the ban shown on the author's comments", func() bool {
		_, a, _ := authorName(direct, user)
		_, b, _ := authorName(shared, user)
		return a && b
	})
}
