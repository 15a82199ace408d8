package main

// Tests of the syncer as a real process against the real stack: killed
// with SIGKILL mid-stream, sharing partitions with a second process, and
// cut off from Cassandra by a proxy.

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stacktest/tcpproxy"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
	"github.com/vidcomments/vidcomments/syncer/synctest"
)

// world is one test's private topic (and dead-letter topic), keyspace,
// consumer group and Redis (the overlay entries the syncer settles go to a
// redis-server of the test's own: nothing to clean up in the shared one).
type world struct {
	kafka *stacktest.Kafka
	cass  *stacktest.Cassandra
	redis *stacktest.PrivateRedis
	group string
	bin   string
}

func newWorld(t *testing.T, partitions int32) *world {
	t.Helper()
	w := &world{kafka: stacktest.NewKafka(t, partitions), cass: stacktest.NewCassandra(t), redis: stacktest.NewPrivateRedis(t), group: stacktest.Name("syncer"), bin: stacktest.Build(t, "./syncer")}
	dlq := w.kafka.Config.Topic + DefaultDeadLetterSuffix
	if err := w.kafka.Admin.CreateTopic(dlq, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create %s: %v", dlq, err)
	}
	t.Cleanup(func() {
		if err := w.kafka.Admin.DeleteTopic(dlq); err != nil {
			t.Errorf("delete topic %s: %v", dlq, err)
		}
	})
	return w
}

// args are the flags pointing a syncer process at the world.
func (w *world) args(extra ...string) []string {
	return append([]string{
		"-admin-addr", "127.0.0.1:0",
		"-group", w.group,
		"-kafka-brokers", strings.Join(w.kafka.Config.Brokers, ","),
		"-kafka-topic", w.kafka.Config.Topic,
		"-cassandra-hosts", strings.Join(w.cass.Config.Hosts, ","),
		"-cassandra-keyspace", w.cass.Config.Keyspace,
		"-redis-addr", w.redis.Addr,
		"-commit-interval", "200ms",
		"-retry-max", "500ms",
	}, extra...)
}

// proc is a running syncer process and the address of its admin listener.
type proc struct {
	*proctest.Proc
	t     *testing.T
	admin string
}

// startSyncer runs the binary and waits for its admin listener.
func startSyncer(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{Proc: proctest.Start(t, name, bin, nil, args...), t: t}
	p.admin = p.Addr("admin")
	return p
}

// get fetches a path of the admin listener.
func (p *proc) get(path string) (int, string) { return proctest.Get("http://" + p.admin + path) }

// metric sums the samples of a metric family on /metrics, and counts them.
func (p *proc) metric(name string) (sum float64, series int) {
	p.t.Helper()
	return proctest.Metric(p.t, p.admin, name)
}

// waitMetric waits until metric's sum reaches at least min.
func (p *proc) waitMetric(name string, min float64, timeout time.Duration) {
	p.t.Helper()
	err := synctest.Eventually(context.Background(), timeout, 20*time.Millisecond, func() error {
		if v, _ := p.metric(name); v < min {
			return fmt.Errorf("%s = %v, want >= %v", name, v, min)
		}
		return nil
	})
	if err != nil {
		p.t.Fatalf("%s: %v\n%s", p.Name, err, p.Log())
	}
}

// produce sends events at about rate per second, also writing every row
// to MySQL (the system of record) in the same order. It may run in its own
// goroutine: it reports failures as an error, not through t.
func produce(w *world, db *sql.DB, evs []comment.Event, rate int) error {
	p, err := synctest.StartProducer(w.kafka.Config.Brokers)
	if err != nil {
		return err
	}
	const chunk = 500
	tick := time.Duration(float64(time.Second) * chunk / float64(rate))
	next := time.Now()
	for start := 0; start < len(evs); start += chunk {
		part := evs[start:min(start+chunk, len(evs))]
		if db != nil {
			if err := saveRows(db, part); err != nil {
				_ = p.Flush()
				return err
			}
		}
		for _, e := range part {
			b, err := e.Encode()
			if err != nil {
				_ = p.Flush()
				return err
			}
			p.Send(w.kafka.Config.Topic, synctest.Message{Key: e.Key(), Value: b})
		}
		next = next.Add(tick)
		time.Sleep(time.Until(next)) // pacing the stream, not waiting for a condition
	}
	return p.Flush()
}

// saveRows writes the rows of events to MySQL as writesvc's transactions
// leave them: the whole row, its version included. REPLACE runs no UPDATE
// trigger, so the versions stay those of the events.
func saveRows(db *sql.DB, evs []comment.Event) error {
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString("REPLACE INTO comments (id, video_id, user_id, parent_id, content, status, like_count, reply_count, created_at, updated_at, version) VALUES ")
	for i, e := range evs {
		if i > 0 {
			q.WriteString(",")
		}
		q.WriteString("(?,?,?,?,?,?,?,?,?,?,?)")
		c := e.Comment
		args = append(args, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.LikeCount, c.ReplyCount, c.CreatedAt, time.UnixMicro(c.Version).UTC(), c.Version)
	}
	if _, err := db.Exec(q.String(), args...); err != nil {
		return fmt.Errorf("save rows: %w", err)
	}
	return nil
}

// mysqlRows reads every comment of the database.
func mysqlRows(t *testing.T, db *sql.DB) []comment.Comment {
	t.Helper()
	out, err := mysqlstore.QueryAll(context.Background(), db, func(rows *sql.Rows, c *comment.Comment) error {
		return rows.Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &c.Status, &c.LikeCount, &c.ReplyCount, &c.CreatedAt, &c.Version)
	}, "SELECT id, video_id, user_id, parent_id, content, status, like_count, reply_count, created_at, version FROM comments")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dump(t *testing.T, w *world) readmodel.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := readmodel.Dump(ctx, w.cass.Session)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// compare fails the test unless Cassandra holds exactly want.
func compare(t *testing.T, w *world, want []comment.Comment) {
	t.Helper()
	got := dump(t, w)
	if d := readmodel.Diff(got, readmodel.Expect(want), 20); len(d) > 0 {
		t.Fatalf("Cassandra differs from the system of record:\n%s", strings.Join(d, "\n"))
	}
}

// events returns n events of a stream over comments comments of videos.
func events(seed uint64, videos []int64, comments, n int) []comment.Event {
	s := synctest.NewStream(seed, videos, comments, 6)
	out := make([]comment.Event, n)
	for i := range out {
		out[i] = s.Next()
	}
	return out
}

// latest returns the final row of every comment in evs.
func latest(evs []comment.Event) []comment.Comment {
	var out []comment.Comment
	for _, e := range readmodel.Latest(evs) {
		out = append(out, e.Comment)
	}
	return out
}

func TestKillNineFiveTimesLosesNothing(t *testing.T) {
	stacktest.Integration(t)
	w := newWorld(t, 4)
	my := stacktest.NewMySQL(t)
	videos := synctest.RandomVideos(8)
	const total, kills = 50_000, 5
	evs := events(42, videos, 400, total)
	chunk := total / kills
	args := w.args("-group-instance-id", "kill-nine") // static: a restart takes the partitions back at once

	start := time.Now()
	for k := 0; k < kills; k++ {
		p := startSyncer(t, fmt.Sprintf("syncer #%d", k+1), w.bin, args...)
		produced := make(chan error, 1)
		go func() { // the stream keeps flowing while the process dies and restarts
			produced <- produce(w, my.DB, evs[k*chunk:(k+1)*chunk], 5000)
		}()
		p.waitMetric("syncer_events_applied_total", 1000, time.Minute) // mid-stream, doing real work
		if err := p.Signal(syscall.SIGKILL); err == nil {
			t.Fatal("SIGKILL: the process exited cleanly")
		}
		lag, all, err := synctest.Lag(w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("kill %d after %v: %d of %d messages in the topic uncommitted", k+1, time.Since(start).Round(time.Millisecond), lag, all)
		if err := <-produced; err != nil {
			t.Fatal(err)
		}
	}
	startSyncer(t, "syncer (final)", w.bin, args...)
	synctest.WaitDrained(t, w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic, 2*time.Minute)
	t.Logf("drained %d events after %v", total, time.Since(start).Round(time.Millisecond))

	rows := mysqlRows(t, my.DB)
	approved := 0
	for _, c := range rows {
		if c.Status.Visible() {
			approved++
		}
	}
	got := dump(t, w)
	t.Logf("MySQL: %d comments, %d approved; Cassandra: %d in comments_by_id, %d in comments_by_video", len(rows), approved, len(got.ByID), len(got.ByVideo))
	if len(rows) != 400 || len(got.ByID) != len(rows) || len(got.ByVideo) != approved {
		t.Errorf("row counts differ")
	}
	compare(t, w, rows)
}

func TestTwoProcessesShareThePartitionsAndARebalanceLosesNothing(t *testing.T) {
	stacktest.Integration(t)
	parts := stacktest.KafkaPartitions(t, 4) // 6 under make test-cluster
	w := newWorld(t, parts)
	videos := synctest.RandomVideos(12)
	evs := events(7, videos, 600, 15_000)
	third := len(evs) / 3

	a := startSyncer(t, "syncer A", w.bin, w.args()...)
	b := startSyncer(t, "syncer B", w.bin, w.args()...)
	if err := produce(w, nil, evs[:third], 5000); err != nil {
		t.Fatal(err)
	}
	// Both own partitions: each reports lag for the ones it holds.
	for _, p := range []*proc{a, b} {
		err := synctest.Eventually(context.Background(), time.Minute, 50*time.Millisecond, func() error {
			if _, n := p.metric("syncer_partition_lag"); n == 0 || n == int(parts) {
				return fmt.Errorf("%s owns %d partitions", p.Name, n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("the group did not share the partitions: %v\nA:\n%s\nB:\n%s", err, a.Log(), b.Log())
		}
	}

	// A leaves mid-stream (SIGTERM: a graceful leave, so a rebalance at once).
	produced := make(chan error, 1)
	go func() { produced <- produce(w, nil, evs[third:2*third], 5000) }()
	a.waitMetric("syncer_events_applied_total", 1, time.Minute)
	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("A exited with %v after SIGTERM\n%s", err, a.Log())
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	if err := synctest.Eventually(context.Background(), time.Minute, 50*time.Millisecond, func() error {
		if _, n := b.metric("syncer_partition_lag"); n != int(parts) {
			return fmt.Errorf("B owns %d partitions, want all %d", n, parts)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A comes back mid-stream: another rebalance, this time splitting again.
	go func() { produced <- produce(w, nil, evs[2*third:], 5000) }()
	a2 := startSyncer(t, "syncer A again", w.bin, w.args()...)
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
	synctest.WaitDrained(t, w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic, 2*time.Minute)
	applied := 0.0
	for _, p := range []*proc{b, a2} {
		n, _ := p.metric("syncer_events_applied_total")
		applied += n
	}
	t.Logf("B and the second A applied %v events (replays included) of %d", applied, len(evs))
	compare(t, w, latest(evs))
}

func TestCassandraOutagePausesAndResumes(t *testing.T) {
	stacktest.Integration(t)
	w := newWorld(t, 2)
	videos := synctest.RandomVideos(4)
	evs := events(9, videos, 200, 4000)
	proxy := tcpproxy.Start(t, w.cass.Config.Hosts[0])
	args := w.args("-cassandra-hosts", proxy.Addr(), "-cassandra-timeout", "2s")
	p := startSyncer(t, "syncer", w.bin, args...)
	waitReady(t, p, true)

	if err := produce(w, nil, evs[:1000], 10_000); err != nil {
		t.Fatal(err)
	}
	synctest.WaitDrained(t, w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic, time.Minute)

	proxy.Cut()
	waitReady(t, p, false)
	if err := produce(w, nil, evs[1000:], 10_000); err != nil {
		t.Fatal(err)
	}
	p.waitMetric(`syncer_retries_total{dependency="cassandra"}`, 3, time.Minute)
	p.waitMetric("syncer_paused_partitions", 1, time.Minute)
	lag, _, err := synctest.Lag(w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic)
	if err != nil {
		t.Fatal(err)
	}
	if lag != int64(len(evs)-1000) {
		t.Errorf("%d messages uncommitted while Cassandra is away, want all %d produced since: nothing may be skipped", lag, len(evs)-1000)
	}

	proxy.Restore()
	synctest.WaitDrained(t, w.kafka.Config.Brokers, w.group, w.kafka.Config.Topic, time.Minute)
	waitReady(t, p, true)
	if n, _ := p.metric("syncer_paused_partitions"); n != 0 {
		t.Errorf("%v partitions still paused", n)
	}
	compare(t, w, latest(evs))
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}

// waitReady waits until /readyz reports ready (or not ready, with the
// Cassandra check failing).
func waitReady(t *testing.T, p *proc, ready bool) {
	t.Helper()
	err := synctest.Eventually(context.Background(), time.Minute, 50*time.Millisecond, func() error {
		code, body := p.get("/readyz")
		switch {
		case ready && code != http.StatusOK:
			return fmt.Errorf("/readyz %d %s", code, body)
		case !ready && (code != http.StatusServiceUnavailable || !strings.Contains(body, `"cassandra":"cassandra query`)):
			return fmt.Errorf("/readyz %d %s, want 503 with the cassandra check failing", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
}
