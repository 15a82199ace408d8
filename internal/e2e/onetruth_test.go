package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/apiclient"
	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/inspect"
	"github.com/vidcomments/vidcomments/internal/inspect/cqlsource"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// One truth (issue #15): a change made with plain SQL — a DELETE of an
// approved comment, an UPDATE of its status or content, an INSERT of an
// approved row, a multi-row UPDATE across two videos — reaches readers at
// once (cdc edits the cached pages) AND the read model (the change-log
// triggers feed the outbox, the syncer writes Cassandra): after a FLUSHALL
// of Redis and a restart of readsvc, pages rebuilt from Cassandra still say
// what MySQL says, and the inspector (Redis and Cassandra halves) finds
// nothing.
func TestPlainSQLChangesReachEveryTier(t *testing.T) {
	redis := stacktest.NewPrivateRedis(t) // FLUSHALL must not touch other tests' videos
	c := startClusterEnv(t, "post", []string{"VC_REDIS_ADDR=" + redis.Addr})
	ctx := context.Background()
	v1, v2 := time.Now().UnixNano()%1e12+100, time.Now().UnixNano()%1e12+101
	var a []int64
	for i := range 6 {
		a = append(a, c.post(v1, 42, fmt.Sprintf("comment %d", i)))
	}
	other := c.post(v2, 43, "on the other video")
	c.waitAgrees(v1, 15*time.Second)
	c.waitAgrees(v2, 15*time.Second)

	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := c.MySQL.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	inserted := a[len(a)-1] + 1000 // an id no writesvc mints: far above, same time order
	steps := []struct {
		name string
		run  func()
	}{
		{"DELETE of an approved comment", func() { exec(`DELETE FROM comments WHERE id = ?`, a[0]) }},
		{"UPDATE of its status to rejected", func() { exec(`UPDATE comments SET status = 'rejected' WHERE id = ?`, a[1]) }},
		{"UPDATE of its content", func() { exec(`UPDATE comments SET content = 'changed by hand' WHERE id = ?`, a[2]) }},
		{"INSERT of an approved row", func() {
			exec(`INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at)
				VALUES (?, ?, 44, 0, 'inserted by hand', 'approved', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))`, inserted, v1)
		}},
		{"multi-row UPDATE across two videos", func() {
			exec(`UPDATE comments SET status = 'rejected' WHERE id IN (?, ?)`, a[3], other)
		}},
	}
	for _, s := range steps {
		start := time.Now()
		s.run()
		c.waitAgrees(v1, 10*time.Second)
		c.waitAgrees(v2, 10*time.Second)
		t.Logf("%s: readsvc agrees with MySQL %v after the statement", s.name, time.Since(start).Round(time.Millisecond))
	}

	// Cassandra agrees: once the change log is delivered, drop every cache
	// tier and read again.
	c.waitFor(30*time.Second, "the outbox is delivered", func() bool { return c.unsent() == 0 })
	c.waitFor(30*time.Second, "Cassandra holds every change", func() bool {
		return c.cassandraAgrees(ctx, v1) && c.cassandraAgrees(ctx, v2)
	})
	if err := redis.Client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.restart("readsvc", syscall.SIGTERM)
	c.waitAgrees(v1, 15*time.Second)
	c.waitAgrees(v2, 15*time.Second)

	cache := pagecache.New(redis.Client, pagecache.Options{})
	in := inspect.New(c.MySQL.DB, cache, inspect.Options{Lists: true, Cassandra: cqlsource.New(c.Cass.Session)})
	c.waitFor(15*time.Second, "the inspector finds nothing", func() bool {
		n := 0
		for _, v := range []int64{v1, v2} {
			ms, err := in.Video(ctx, v)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range ms {
				t.Logf("video %d: %+v", v, m)
			}
			n += len(ms)
		}
		return n == 0
	})
}

// A Redis restarted empty under read and write load, then a kill -9 and
// restart of cdc (which replays the binlog from its saved position onto
// windows readsvc refilled meanwhile): when the load stops and the
// pipeline drains, every page and total says what MySQL says — no total
// counted twice, no removed comment back — without the inspector's repair
// (it does not run here).
func TestRedisDataLossHealsWithoutRepair(t *testing.T) {
	redis := stacktest.NewPrivateRedis(t)
	c := startClusterEnv(t, "post", []string{"VC_REDIS_ADDR=" + redis.Addr})
	ctx := context.Background()
	base := time.Now().UnixNano()%1e12 + 200
	videos := []int64{base, base + 1, base + 2}

	var (
		wg     sync.WaitGroup
		stop   atomic.Bool // writers
		quiet  atomic.Bool // readers
		posted atomic.Int64
		mu     sync.Mutex
		ids    []int64
	)
	mod := c.token(1, auth.RoleModerator)
	for w := range 2 { // writers: post, and now and then reject or delete one
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; !stop.Load(); i++ {
				v := videos[rng.IntN(len(videos))]
				r, err := c.write().PostCommentWithResponse(ctx, apiID(v), nil,
					apiclient.NewComment{Content: fmt.Sprintf("load %d %d", w, i)}, bearer(c.token(int64(1000*(w+1)+i), auth.RoleUser)))
				if err != nil || r.StatusCode() != 202 || r.JSON202 == nil {
					time.Sleep(50 * time.Millisecond) // a server restarting
					continue
				}
				posted.Add(1)
				id := parseID(r.JSON202.Id)
				mu.Lock()
				ids = append(ids, id)
				var victim int64
				if len(ids) > 3 && rng.IntN(3) == 0 {
					victim = ids[rng.IntN(len(ids))]
				}
				mu.Unlock()
				if victim != 0 {
					action := []string{"reject", "delete"}[rng.IntN(2)]
					_, _, _ = c.moderateAs(mod, victim, action, "load")
				}
				if rng.IntN(5) == 0 { // and plain SQL beside the API
					_, _ = c.MySQL.DB.ExecContext(ctx, `UPDATE comments SET status = IF(status = 'approved', 'rejected', 'approved')
						WHERE video_id = ? AND status IN ('approved', 'rejected') ORDER BY id DESC LIMIT 1`, v)
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	for range 2 { // readers keep the windows refilled
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !quiet.Load() {
				for _, v := range videos {
					_, _, _, _ = c.pageAs(v, "time", 20, "", "")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	loadFor := func(d time.Duration) {
		n := posted.Load()
		time.Sleep(d)
		if posted.Load() == n {
			t.Errorf("no comment accepted in %v of load", d)
		}
	}
	loadFor(3 * time.Second)
	redis.Restart() // empty: no overlay, no settled markers, no epoch
	time.Sleep(300 * time.Millisecond)
	// cdc dies with a position saved before the loss and stays down while
	// the syncer moves on and readers refill the windows from Cassandra; it
	// then replays changes those windows already hold.
	// The writers stop while it is down, the syncer drains, and the readers
	// refill every window from Cassandra, which now holds every change: the
	// replay is the last thing to touch the windows.
	c.restartAfter("cdc", syscall.SIGKILL, func() {
		loadFor(1500 * time.Millisecond)
		stop.Store(true)
		c.waitFor(30*time.Second, "the outbox is delivered", func() bool { return c.unsent() == 0 })
		c.waitFor(30*time.Second, "Cassandra holds every change", func() bool {
			for _, v := range videos {
				if !c.cassandraAgrees(ctx, v) {
					return false
				}
			}
			return true
		})
		time.Sleep(300 * time.Millisecond) // the readers refill
	})
	quiet.Store(true)
	wg.Wait()
	t.Logf("%d comments accepted under load", posted.Load())
	for _, v := range videos {
		c.waitAgrees(v, 30*time.Second)
	}
	cache := pagecache.New(redis.Client, pagecache.Options{})
	in := inspect.New(c.MySQL.DB, cache, inspect.Options{Lists: true})
	for _, v := range videos {
		ms, err := in.Video(ctx, v)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			t.Errorf("video %d: inspector mismatch %+v", v, m)
		}
	}
	if !c.logged("cdc", "redis lost its data") {
		t.Errorf("no cdc log says it saw the data loss")
	}
}

// The inspector's repair through the real pipeline: Cassandra damaged in
// every way the read model can be (a root lost, a root MySQL never had, a
// like count a lost event left, a stray hot entry, a wrong count) and a
// cached body and total gone wrong are all found, and repaired from MySQL —
// touches through the change log and cdc, an erasure and a recount through
// the outbox, the total by dropping the pages — until the inspector finds
// nothing and pages rebuilt from Cassandra alone (FLUSHALL, readsvc
// restarted) say what MySQL says.
func TestInspectorRepairHealsEveryTier(t *testing.T) {
	redis := stacktest.NewPrivateRedis(t)
	c := startClusterEnv(t, "post", []string{"VC_REDIS_ADDR=" + redis.Addr})
	ctx := context.Background()
	video := time.Now().UnixNano()%1e12 + 400
	var a []int64
	for i := range 5 {
		a = append(a, c.post(video, int64(70+i), fmt.Sprintf("comment %d", i)))
	}
	c.waitAgrees(video, 15*time.Second)
	c.waitFor(30*time.Second, "the outbox is delivered", func() bool { return c.unsent() == 0 })
	c.waitFor(30*time.Second, "Cassandra holds every comment", func() bool { return c.cassandraAgrees(ctx, video) })
	cache := pagecache.New(redis.Client, pagecache.Options{})
	in := inspect.New(c.MySQL.DB, cache, inspect.Options{Lists: true, Cassandra: cqlsource.New(c.Cass.Session)})
	inspectAll := func() []inspect.Mismatch {
		ms, err := in.Video(ctx, video)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	c.waitFor(15*time.Second, "a consistent start", func() bool { return len(inspectAll()) == 0 })

	ghost := a[len(a)-1] + 1000
	damage := []struct {
		what string
		cql  string
		args []any
	}{
		{"a root lost", `DELETE FROM comments_by_video WHERE video_id = ? AND bucket = ? AND id = ?`, []any{video, comment.Bucket(a[1]), a[1]}},
		{"a root MySQL never had", `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, reply_count, version)
			VALUES (?, ?, ?, 99, 0, 'ghost', ?, 0, 5) USING TIMESTAMP 5`, []any{video, comment.Bucket(ghost), ghost, comment.IDTime(ghost)}},
		{"a like count a lost event left", `INSERT INTO comment_likes (comment_id, video_id, like_count, kafka_offset) VALUES (?, ?, 3, 0) USING TIMESTAMP 1`, []any{a[0], video}},
		{"a stray hot entry", `INSERT INTO hot_by_video (video_id, band, like_count, id) VALUES (?, ?, 6, ?)`, []any{video, comment.HotBand(6), a[3]}},
		{"its band", `INSERT INTO video_hot_bands (video_id, band) VALUES (?, ?)`, []any{video, comment.HotBand(6)}},
		{"a wrong count", `UPDATE video_counts SET approved = 42 WHERE video_id = ?`, []any{video}},
	}
	for _, d := range damage {
		if err := c.Cass.Session.Query(d.cql, d.args...).Exec(); err != nil {
			t.Fatalf("%s: %v", d.what, err)
		}
	}
	if _, ok := c.page(t, video, "time", 20, "", ""); !ok { // cached, with the damage in it
		t.Fatal("no page")
	}
	tag := fmt.Sprintf("vc:{%d}:", video)
	if err := redis.Client.HSet(ctx, tag+"body", fmt.Sprintf("%019d", a[2]), `{"id":"1"}`).Err(); err != nil {
		t.Fatal(err)
	}
	if err := redis.Client.HIncrBy(ctx, tag+"meta", "total", 5).Err(); err != nil {
		t.Fatal(err)
	}
	found := inspectAll()
	kinds := inspect.ByKind(found)
	for _, k := range []inspect.Kind{inspect.CassMissing, inspect.CassNotApproved, inspect.CassLikes, inspect.CassHot, inspect.CassCount, inspect.CacheBody, inspect.CacheTotal} {
		if kinds[k] == 0 {
			t.Errorf("the damage shows no %s: %v", k, found)
		}
	}

	start := time.Now()
	done, err := inspect.NewRepairer(c.MySQL.DB, cache, nil, nil).Repair(ctx, found, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("repairs by action %v, by kind %v", done.ByAction, done.ByKind)
	var left []inspect.Mismatch
	c.waitFor(30*time.Second, "the inspector finds nothing after the repair", func() bool {
		left = inspectAll()
		return len(left) == 0
	})
	t.Logf("every tier agrees %v after the repair", time.Since(start).Round(time.Millisecond))
	c.waitAgrees(video, 10*time.Second)
	if err := redis.Client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	c.restart("readsvc", syscall.SIGTERM)
	c.waitAgrees(video, 15*time.Second)
	var n int
	if err := c.MySQL.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM comments WHERE id = ?`, ghost).Scan(&n); err != nil || n != 0 {
		t.Errorf("the repair wrote a row MySQL never had (%d, %v)", n, err)
	}
}

// truth is what readers must see of a video: MySQL's approved roots, newest
// first, with their content.
func (c *cluster) truth(ctx context.Context, video int64) ([]string, []string) {
	rows, err := c.MySQL.DB.QueryContext(ctx, `SELECT id, content FROM comments
		WHERE video_id = ? AND parent_id = 0 AND status = 'approved' ORDER BY id DESC`, video)
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var ids, contents []string
	for rows.Next() {
		var id int64
		var content string
		if err := rows.Scan(&id, &content); err != nil {
			c.t.Fatal(err)
		}
		ids, contents = append(ids, fmt.Sprint(id)), append(contents, content)
	}
	return ids, contents
}

// waitAgrees polls until every page readsvc serves of video (sort=time,
// followed by cursor) holds exactly MySQL's approved roots with their
// content, and each page's total is their number.
func (c *cluster) waitAgrees(video int64, within time.Duration) {
	c.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(within)
	var why string
	for {
		wantIDs, wantContents := c.truth(ctx, video)
		why = c.disagreement(video, wantIDs, wantContents)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("video %d: readsvc disagrees with MySQL after %v: %s", video, within, why)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) disagreement(video int64, wantIDs, wantContents []string) string {
	var gotIDs, gotContents []string
	cursor := ""
	for range 50 {
		p, ok := c.page(c.t, video, "time", 10, cursor, "")
		if !ok {
			return "a page failed"
		}
		if p.Total != int64(len(wantIDs)) {
			return fmt.Sprintf("total %d, MySQL has %d approved", p.Total, len(wantIDs))
		}
		for _, cm := range p.Comments {
			gotIDs, gotContents = append(gotIDs, cm.Id), append(gotContents, cm.Content)
		}
		if p.NextCursor == nil || *p.NextCursor == "" {
			break
		}
		cursor = *p.NextCursor
	}
	if !slices.Equal(gotIDs, wantIDs) {
		return fmt.Sprintf("ids %v, MySQL %v", gotIDs, wantIDs)
	}
	if !slices.Equal(gotContents, wantContents) {
		return fmt.Sprintf("contents %q, MySQL %q", gotContents, wantContents)
	}
	return ""
}

// cassandraAgrees reports whether Cassandra's pages of video hold exactly
// MySQL's approved roots (ids and content).
func (c *cluster) cassandraAgrees(ctx context.Context, video int64) bool {
	wantIDs, wantContents := c.truth(ctx, video)
	var got []string
	it := c.Cass.Session.Query(`SELECT id, content FROM comments_by_video WHERE video_id = ? ALLOW FILTERING`, video).WithContext(ctx).Iter()
	var id int64
	var content string
	byID := map[string]string{}
	for it.Scan(&id, &content) {
		byID[fmt.Sprint(id)] = content
		got = append(got, fmt.Sprint(id))
	}
	if err := it.Close(); err != nil {
		c.t.Logf("cassandra: %v", err)
		return false
	}
	if len(got) != len(wantIDs) {
		return false
	}
	for i, id := range wantIDs {
		if byID[id] != wantContents[i] {
			return false
		}
	}
	return true
}

// restart stops the newest process named name with sig, waits for it to
// exit and starts it again with the same environment and flags.
func (c *cluster) restart(name string, sig syscall.Signal) {
	c.t.Helper()
	c.restartAfter(name, sig, func() {})
}

// restartAfter is restart with down running while the process is down.
func (c *cluster) restartAfter(name string, sig syscall.Signal, down func()) {
	c.t.Helper()
	var p *proc
	for _, q := range c.procs {
		if q.Name == name {
			p = q
		}
	}
	if p == nil {
		c.t.Fatalf("no %s to restart", name)
	}
	_ = p.Signal(sig) // any exit status: a SIGKILL is not a clean one
	down()
	args := p.args
	if name == "cdc" { // a new replica registers with a new server id
		args = slices.Clone(args)
		for i := range args {
			if args[i] == "-server-id" && i+1 < len(args) {
				args[i+1] = fmt.Sprint(20000 + time.Now().UnixNano()%10000)
			}
		}
	}
	c.start(name, p.env, args...)
}

// logged reports whether any process named name, current or gone, logged
// text.
func (c *cluster) logged(name, text string) bool {
	for _, p := range c.procs {
		if p.Name == name && strings.Contains(p.Log(), text) {
			return true
		}
	}
	return false
}

// metric reads one unlabelled metric of the newest process named name.
func (c *cluster) metric(name, metric string) float64 {
	c.t.Helper()
	var p *proc
	for _, q := range c.procs {
		if q.Name == name {
			p = q
		}
	}
	_, b := httpGet("http://" + p.admin + "/metrics")
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, metric+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return -1
}

// The time from a plain-SQL statement's commit to Cassandra holding the
// row's new version, over a cycle of hand-written changes (reject, approve
// again, edit, hard delete, insert): the change log's path through the
// outbox relay, Kafka and the syncer. `make test` runs 20 changes and
// checks only that each arrives; `make bench-onetruth` runs
// VC_ONETRUTH_CHANGES=200 and logs p50/p90/p99 (a figure, not a bound).
func TestPlainSQLToCassandraLatency(t *testing.T) {
	n := 20
	if s := os.Getenv("VC_ONETRUTH_CHANGES"); s != "" {
		fmt.Sscan(s, &n)
	}
	c := startCluster(t, "post")
	ctx := context.Background()
	video := time.Now().UnixNano()%1e12 + 300
	var live []int64
	for i := range 10 {
		live = append(live, c.post(video, int64(60+i), fmt.Sprintf("seed %d", i)))
	}
	c.waitFor(30*time.Second, "the seed is in Cassandra", func() bool { return c.cassandraAgrees(ctx, video) })

	version := func(id int64) int64 {
		var v int64
		if err := c.MySQL.DB.QueryRowContext(ctx, `SELECT version FROM comments WHERE id = ?`, id).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	next := live[len(live)-1] + 1
	var took []time.Duration
	for i := range n {
		id := live[i%len(live)]
		var q string
		var args []any
		want := int64(0)
		switch i % 5 {
		case 0:
			q, args = `UPDATE comments SET status = 'rejected' WHERE id = ?`, []any{id}
		case 1:
			q, args = `UPDATE comments SET status = 'approved' WHERE id = ?`, []any{id}
		case 2:
			q, args = `UPDATE comments SET content = ? WHERE id = ?`, []any{fmt.Sprintf("edited by hand %d", i), id}
		case 3:
			want = version(id) + 1
			q, args = `DELETE FROM comments WHERE id = ?`, []any{id}
		case 4:
			id, next = next, next+1
			live[(i-1)%len(live)] = id // the deleted one's place
			q, args = `INSERT INTO comments (id, video_id, user_id, parent_id, content, status, created_at, updated_at)
				VALUES (?, ?, 70, 0, 'inserted by hand', 'approved', UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))`, []any{id, video}
		}
		start := time.Now()
		if _, err := c.MySQL.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if want == 0 {
			want = version(id)
		}
		deadline := start.Add(30 * time.Second)
		for {
			var v int64
			err := c.Cass.Session.Query(`SELECT version FROM comments_by_id WHERE id = ?`, id).WithContext(ctx).Scan(&v)
			if err == nil && v >= want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("change %d (%s on %d): Cassandra holds version %d (%v), want %d, after 30s", i, q, id, v, err, want)
			}
			time.Sleep(2 * time.Millisecond)
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	q := func(p float64) time.Duration {
		return took[min(len(took)-1, int(p*float64(len(took))))].Round(100 * time.Microsecond)
	}
	t.Logf("plain SQL → Cassandra over %d changes: p50 %v, p90 %v, p99 %v, max %v", len(took), q(0.50), q(0.90), q(0.99), took[len(took)-1].Round(100*time.Microsecond))
	c.waitAgrees(video, 15*time.Second)
}
