package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stacktest/tcpproxy"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
)

// TestOutage walks the rows of DESIGN.md's "When a dependency fails" table
// that need the whole pipeline, on one cluster of the four real processes,
// one outage at a time (docs/failure-matrix.md maps every cell to its
// test). Outages are simulated for the services only: Kafka is a dead port
// for the first writesvc, Cassandra and MySQL sit behind TCP proxies that
// are cut and restored, cdc is stopped with SIGTERM. The shared servers are
// never touched.
func TestOutage(t *testing.T) {
	c, common := newCluster(t, "pre", "VC_RATE_LIMIT=0")
	my, cass := c.MySQL, c.Cass
	with := func(kv ...string) []string { return append(slices.Clone(common), kv...) }

	cassProxy := tcpproxy.Start(t, cass.Config.Hosts[0])
	mc, err := mysqlstore.Config(my.Config.DSN)
	if err != nil {
		t.Fatal(err)
	}
	mysqlProxy := tcpproxy.Start(t, mc.Addr)
	mc.Addr = mysqlProxy.Addr()

	c.start("syncer", with("VC_CASSANDRA_HOSTS="+cassProxy.Addr(), "VC_CASSANDRA_TIMEOUT=2s"))
	c.start("cdc", common, "-server-id", fmt.Sprint(20000+time.Now().UnixNano()%10000))
	cdc := c.procs[len(c.procs)-1]
	read := stacktest.FreeAddr(t)
	c.ReadURL = "http://" + read
	c.start("readsvc", common, "-addr", read, "-peer-addr", stacktest.FreeAddr(t))
	readsvc := c.procs[len(c.procs)-1]
	writeA := stacktest.FreeAddr(t)
	c.WriteURL = "http://" + writeA
	c.start("writesvc", with("VC_KAFKA_BROKERS="+stacktest.FreeAddr(t), "VC_OUTBOX_MAX_BACKOFF=1s"), "-addr", writeA)

	video := time.Now().UnixNano()%1e12 + 3
	var shown []int64 // what the first page must show, newest first
	c.visible(video)  // cache the empty window

	phase(t, "kafka down: reads unaffected, writes accepted, delivered on recovery", func() {
		ids := c.postApproved(video, 10, "while kafka is down")
		shown = append(reversed(ids), shown...)
		// cdc puts the approvals on the page although no event reached Kafka.
		c.waitVisible(video, shown, 15*time.Second)
		if code, body := httpGet("http://" + readsvc.admin + "/readyz"); code != http.StatusOK {
			t.Errorf("readsvc /readyz %d %s while Kafka is down", code, body)
		}
		if n := c.unsent(); n != 6 {
			t.Errorf("%d unsent outbox rows, want 6 (3 posts, 3 approvals)", n)
		}
		for _, id := range ids {
			if code := c.commentCode(id); code == http.StatusOK { // 404, or 503 if Cassandra is slow
				t.Errorf("comment %d: %d from readsvc's Cassandra path before any event was delivered", id, code)
			}
		}
		// Kafka is back for a second writesvc: the outbox drains through it
		// and the syncer makes every comment durable in Cassandra.
		writeB := stacktest.FreeAddr(t)
		c.start("writesvc", with("VC_MYSQL_DSN="+mc.FormatDSN()), "-addr", writeB)
		c.WriteURL = "http://" + writeB
		c.waitFor(60*time.Second, "the outbox to drain", func() bool { return c.unsent() == 0 })
		for _, id := range ids {
			c.waitFor(60*time.Second, fmt.Sprintf("comment %d in Cassandra", id), func() bool { return c.commentCode(id) == http.StatusOK })
		}
		c.waitVisible(video, shown, 15*time.Second)
	})

	phase(t, "cassandra down: writes accepted, syncer pauses and resumes, nothing lost", func() {
		cassProxy.Cut()
		syncer := c.procs[0]
		c.waitFor(60*time.Second, "the syncer to report Cassandra down", func() bool {
			code, body := httpGet("http://" + syncer.admin + "/readyz")
			return code == http.StatusServiceUnavailable && strings.Contains(string(body), "cassandra")
		})
		ids := c.postApproved(video, 20, "while cassandra is away from the syncer")
		shown = append(reversed(ids), shown...)
		c.waitVisible(video, shown, 15*time.Second) // through cdc
		c.waitFor(30*time.Second, "the events to reach Kafka", func() bool { return c.unsent() == 0 })
		for _, id := range ids {
			if code := c.commentCode(id); code == http.StatusOK {
				t.Errorf("comment %d: %d from Cassandra while the syncer cannot reach it", id, code)
			}
		}
		cassProxy.Restore()
		c.waitFor(60*time.Second, "the syncer to be ready again", func() bool {
			code, _ := httpGet("http://" + syncer.admin + "/readyz")
			return code == http.StatusOK
		})
		for _, id := range ids {
			c.waitFor(60*time.Second, fmt.Sprintf("comment %d in Cassandra", id), func() bool { return c.commentCode(id) == http.StatusOK })
		}
		c.waitVisible(video, shown, 15*time.Second)
	})

	phase(t, "cdc down: writes unaffected, moderation visible once the syncer applies it", func() {
		if err := cdc.Stop(); err != nil {
			t.Fatalf("cdc exited with %v after SIGTERM", err)
		}
		id := c.post(video, 30, "while cdc is down")
		start := time.Now()
		c.moderate(id, "approve")
		shown = append([]int64{id}, shown...)
		c.waitVisible(video, shown, 60*time.Second)
		t.Logf("approve → visible through the syncer in %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		c.moderate(shown[1], "reject")
		shown = append([]int64{id}, shown[2:]...)
		c.waitVisible(video, shown, 60*time.Second)
		t.Logf("reject → gone through the syncer in %v", time.Since(start).Round(time.Millisecond))
	})

	phase(t, "mysql down: reads unaffected, writes 503 with nothing half-written", func() {
		before := c.visible(video)
		if len(before) != len(shown) {
			t.Fatalf("page before the outage: %v", before)
		}
		outboxBefore := c.count(`SELECT COUNT(*) FROM outbox`)
		mysqlProxy.Cut()
		tok := c.token(40, auth.RoleUser)
		for i := range 3 {
			code, hdr, body := c.postAs(video, tok, fmt.Sprintf("while mysql is down %d", i))
			if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || errorCode(body) != "unavailable" {
				t.Errorf("post with MySQL down: %d Retry-After %q %s", code, hdr.Get("Retry-After"), body)
			}
		}
		modTok := c.token(1, auth.RoleModerator)
		r, err := c.write().ApproveCommentWithResponse(context.Background(), apiID(shown[0]), apiclient.OptionalReasonBody{}, bearer(modTok))
		if err != nil {
			t.Fatalf("moderation with MySQL down: %v", err)
		}
		if r.StatusCode() != http.StatusServiceUnavailable {
			t.Errorf("moderation with MySQL down: %d %s", r.StatusCode(), r.Body)
		}
		// readsvc never talks to MySQL: every read keeps answering, the
		// same page, for as long as the outage lasts (several max-ages).
		deadline := time.Now().Add(3 * time.Second)
		reads := 0
		for time.Now().Before(deadline) {
			code, _, body, p := c.pageAs(video, "time", 50, "", "")
			if p == nil || !slices.Contains(ids(p.Comments), fmt.Sprint(shown[0])) {
				t.Fatalf("read %d with MySQL down: %d %s", reads, code, body)
			}
			reads++
			time.Sleep(20 * time.Millisecond)
		}
		if got := c.visible(video); strings.Join(got, ",") != strings.Join(before, ",") {
			t.Errorf("page changed during the outage: %v, was %v", got, before)
		}
		t.Logf("%d reads answered 200 while MySQL was unreachable", reads)
		mysqlProxy.Restore()
		c.waitFor(30*time.Second, "posts to be accepted again", func() bool {
			code, _, _ := c.postAs(video, tok, "after the mysql outage")
			return code == http.StatusAccepted
		})
		// Only the post that was accepted left an outbox row.
		if n := c.count(`SELECT COUNT(*) FROM outbox`); n != outboxBefore+1 {
			t.Errorf("%d outbox rows written around the outage, want 1", n-outboxBefore)
		}
		if n := c.count(`SELECT COUNT(*) FROM comments WHERE content LIKE 'while mysql is down%'`); n != 0 {
			t.Errorf("%d comments refused with 503 were stored", n)
		}
	})
}

// phase runs one step of TestOutage. The steps share one cluster and
// build on each other, so they are not subtests: a failure ends the test.
func phase(t *testing.T, name string, fn func()) {
	t.Logf("== %s", name)
	fn()
}

// postApproved posts three comments to video, by users firstUser to
// firstUser+2 with content "<what> 0" to "<what> 2", approves each and
// returns their ids, oldest first.
func (c *cluster) postApproved(video, firstUser int64, what string) []int64 {
	c.t.Helper()
	var ids []int64
	for i := range 3 {
		id := c.post(video, firstUser+int64(i), fmt.Sprintf("%s %d", what, i))
		c.moderate(id, "approve")
		ids = append(ids, id)
	}
	return ids
}

func reversed(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Reverse(out)
	return out
}

func (c *cluster) count(query string) int {
	c.t.Helper()
	var n int
	if err := c.MySQL.DB.QueryRow(query).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *cluster) unsent() int { return c.count(`SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) }

// commentCode is readsvc's answer for GET /v1/comments/{id}: 200 only once
// Cassandra holds the comment (the single-comment path reads Cassandra and
// lets the overlay change only rows it found).
func (c *cluster) commentCode(id int64) int {
	code, _, _ := c.comment(id)
	return code
}

// postAs posts a root comment to video with token and returns writesvc's
// answer as sent; code 0 when the request failed.
func (c *cluster) postAs(video int64, token, content string) (int, http.Header, []byte) {
	r, err := c.write().PostCommentWithResponse(context.Background(), apiID(video), nil, apiclient.NewComment{Content: content}, bearer(token))
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	return r.StatusCode(), r.HTTPResponse.Header, r.Body
}

func (c *cluster) waitFor(within time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("waited %v for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
