package consumer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/syncer/backoff"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
	"github.com/vidcomments/vidcomments/syncer/synctest"
)

// env is one test's private topic (with its dead-letter topic) and keyspace.
type env struct {
	kafka *stacktest.Kafka
	cass  *stacktest.Cassandra
	dlq   string
}

func newEnv(t testing.TB, partitions int32) *env {
	t.Helper()
	k := stacktest.NewKafka(t, partitions)
	dlq := k.Config.Topic + ".dlq"
	if err := k.Admin.CreateTopic(dlq, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create %s: %v", dlq, err)
	}
	t.Cleanup(func() {
		if err := k.Admin.DeleteTopic(dlq); err != nil {
			t.Errorf("delete topic %s: %v", dlq, err)
		}
	})
	return &env{kafka: k, cass: stacktest.NewCassandra(t), dlq: dlq}
}

// running is a Group started for a test, with its metrics.
type running struct {
	*Group
	reg   *prometheus.Registry
	group string
}

// start runs a consumer group over the env until the test ends.
func (e *env) start(t testing.TB, group string, settle Settler, cass *stacktest.Cassandra) *running {
	t.Helper()
	c := kafkastore.Config("syncer-test")
	SaramaConfig(c, "", 0)
	cg, err := sarama.NewConsumerGroup(e.kafka.Config.Brokers, group, c)
	if err != nil {
		t.Fatal(err)
	}
	pc := kafkastore.Config("syncer-test-dlq")
	pc.Producer.Return.Successes = true
	pc.Producer.RequiredAcks = sarama.WaitForAll
	dlq, err := sarama.NewSyncProducer(e.kafka.Config.Brokers, pc)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := New(cg, readmodel.NewWriter(cass.Session, 0, nil), settle, dlq, Options{
		Topic:           e.kafka.Config.Topic,
		DeadLetterTopic: e.dlq,
		CommitInterval:  100 * time.Millisecond,
		Retry:           backoff.Policy{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
		SettleAttempts:  2,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registerer:      reg,
	})
	g.Start()
	t.Cleanup(func() { // Close may have been called by the test: a second one is harmless
		if err := g.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		dlq.Close()
	})
	return &running{Group: g, reg: reg, group: group}
}

// value reads a counter or gauge.
func value(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// cache returns a page cache on the stack's Redis.
func cache(t testing.TB) *pagecache.Cache {
	return pagecache.New(stacktest.Redis(t), pagecache.Options{})
}

// forgetVideos deletes the Redis keys of test videos when the test ends.
func forgetVideos(t *testing.T, videos []int64) {
	rdb := stacktest.Redis(t)
	t.Cleanup(func() {
		ctx := context.Background()
		for _, v := range videos {
			keys, _ := rdb.Keys(ctx, fmt.Sprintf("vc:{%d}:*", v)).Result()
			if len(keys) > 0 {
				rdb.Del(ctx, keys...)
			}
		}
	})
}

func dump(t *testing.T, cass *stacktest.Cassandra) readmodel.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := readmodel.Dump(ctx, cass.Session)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestReplayingTheWholeTopicGivesTheSameState(t *testing.T) {
	e := newEnv(t, 3)
	videos := synctest.RandomVideos(6)
	forgetVideos(t, videos)
	stream := synctest.NewStream(7, videos, 300, 5)
	var evs []comment.Event
	for range 3000 {
		evs = append(evs, stream.Next())
	}
	// Duplicates and stale versions, as an outbox relay that resent a range
	// and a producer retry would leave them: older events after newer ones.
	for i := 0; i < len(evs); i += 7 {
		evs = append(evs, evs[i])
	}
	p := synctest.NewProducer(t, e.kafka.Config.Brokers)
	for _, ev := range evs {
		p.Send(e.kafka.Config.Topic, synctest.EventMessage(t, ev))
	}
	p.Close(t)
	want := readmodel.Expect(stream.Final())

	var states []readmodel.State
	second := stacktest.NewCassandra(t)
	for i, cass := range []*stacktest.Cassandra{e.cass, e.cass, second} {
		group := stacktest.Name("syncer")
		g := e.start(t, group, cache(t), cass)
		synctest.WaitDrained(t, e.kafka.Config.Brokers, group, e.kafka.Config.Topic, 90*time.Second)
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		st := dump(t, cass)
		if d := readmodel.Diff(st, want, 10); len(d) > 0 {
			t.Fatalf("replay %d differs from the expected rows:\n%s", i+1, strings.Join(d, "\n"))
		}
		states = append(states, st)
		if n := value(t, g.h.m.applied); n != float64(len(evs)) {
			t.Errorf("replay %d applied %v events, want %d", i+1, n, len(evs))
		}
	}
	for i := 1; i < len(states); i++ {
		if !reflect.DeepEqual(states[i], states[0]) {
			t.Errorf("replay %d differs from the first:\n%s", i+1, strings.Join(readmodel.Diff(states[i], states[0], 10), "\n"))
		}
	}
}

func TestPoisonEventsGoToTheDeadLetterTopic(t *testing.T) {
	e := newEnv(t, 1)
	video := synctest.RandomVideo()
	forgetVideos(t, []int64{video})
	stream := synctest.NewStream(3, []int64{video}, 2, 1)
	first, second := stream.Next(), stream.Next()
	huge := stream.Next()
	huge.Comment.ReplyCount = math.MaxInt32 + 1 // decodes, but the read model cannot hold it
	wrongSchema := strings.Replace(string(synctest.EventMessage(t, first).Value), `"schema":1`, `"schema":9`, 1)
	key := []byte(strconv.FormatInt(video, 10))
	msgs := []struct {
		msg    synctest.Message
		reason string // "" for a good event
	}{
		{synctest.EventMessage(t, first), ""},
		{synctest.Message{Key: key, Value: []byte("{not json")}, "invalid comment event"},
		{synctest.Message{Key: key, Value: []byte(wrongSchema)}, "schema 9"},
		{synctest.EventMessage(t, huge), "reply_count"},
		{synctest.EventMessage(t, second), ""},
	}
	p := synctest.NewProducer(t, e.kafka.Config.Brokers)
	for _, m := range msgs {
		p.Send(e.kafka.Config.Topic, m.msg)
	}
	p.Close(t)

	g := e.start(t, stacktest.Name("syncer"), cache(t), e.cass)
	synctest.WaitDrained(t, e.kafka.Config.Brokers, g.group, e.kafka.Config.Topic, time.Minute)
	want := readmodel.Expect(stream.Final()[:0])
	for _, ev := range readmodel.Latest([]comment.Event{first, second}) {
		want = readmodel.Expect(append(stateRows(want), ev.Comment))
	}
	if d := readmodel.Diff(dump(t, e.cass), want, 10); len(d) > 0 {
		t.Errorf("the events around the poison were not applied:\n%s", strings.Join(d, "\n"))
	}
	if n := value(t, g.h.m.deadLetters); n != 3 {
		t.Errorf("syncer_dead_letters_total = %v, want 3", n)
	}

	dead := synctest.ReadAll(t, e.kafka.Config.Brokers, e.dlq)
	if len(dead) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dead))
	}
	for i, m := range dead {
		want := msgs[i+1]
		h := map[string]string{}
		for _, hd := range m.Headers {
			h[string(hd.Key)] = string(hd.Value)
		}
		t.Run(want.reason, func(t *testing.T) {
			if string(m.Value) != string(want.msg.Value) || string(m.Key) != string(want.msg.Key) {
				t.Errorf("dead letter %q/%q is not the original message", m.Key, m.Value)
			}
			if !strings.Contains(h[HeaderReason], want.reason) || h[HeaderTopic] != e.kafka.Config.Topic ||
				h[HeaderPartition] != "0" || h[HeaderOffset] != strconv.Itoa(i+1) {
				t.Errorf("headers %v: want reason containing %q, topic %s, partition 0, offset %d", h, want.reason, e.kafka.Config.Topic, i+1)
			}
		})
	}
}

// stateRows returns the comments_by_id rows of st as comments.
func stateRows(st readmodel.State) []comment.Comment {
	var out []comment.Comment
	for _, r := range st.ByID {
		out = append(out, r.Comment)
	}
	return out
}

func TestSettleClearsWhatCassandraNowHolds(t *testing.T) {
	e := newEnv(t, 1)
	seen, unseen := synctest.RandomVideo(), synctest.RandomVideo()
	forgetVideos(t, []int64{seen, unseen})
	ctx := context.Background()
	pc := cache(t)
	stream := synctest.NewStream(5, []int64{seen, unseen}, 2, 1)
	a, b := stream.Next(), stream.Next()
	for a.Comment.VideoID != seen || b.Comment.VideoID != unseen {
		a, b = stream.Next(), stream.Next()
	}
	// cdc saw the change of a: an overlay entry waits for the syncer.
	if ok, _, err := pc.Record(ctx, pagecache.Change{VideoID: seen, ID: a.Comment.ID, Version: a.Version,
		Visible: a.Comment.Status.Visible(), Body: []byte(`{}`)}); err != nil || !ok {
		t.Fatalf("record: %v %v", ok, err)
	}
	// The pages of the other video are cached, but cdc never saw b.
	token, err := pc.BeginFill(ctx, unseen)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := pc.FillSince(ctx, unseen, token, nil, 0, true); err != nil || !res.Written {
		t.Fatalf("fill: %+v %v", res, err)
	}

	p := synctest.NewProducer(t, e.kafka.Config.Brokers)
	p.Send(e.kafka.Config.Topic, synctest.EventMessage(t, a))
	p.Send(e.kafka.Config.Topic, synctest.EventMessage(t, b))
	p.Close(t)
	g := e.start(t, stacktest.Name("syncer"), pc, e.cass)
	synctest.WaitDrained(t, e.kafka.Config.Brokers, g.group, e.kafka.Config.Topic, time.Minute)

	ov, err := pc.Overlay(ctx, seen)
	if err != nil {
		t.Fatal(err)
	}
	if len(ov) != 0 {
		t.Errorf("overlay of the settled video still holds %v", ov)
	}
	page, err := pc.Read(ctx, unseen, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if page.Cached || page.Version <= token.Version {
		t.Errorf("pages of a video whose change the cache never saw: cached=%v version %d (was %d), want dropped and bumped", page.Cached, page.Version, token.Version)
	}
	for outcome, want := range map[string]float64{"cleared": 1, "invalidated": 1, "failed": 0} {
		if n := value(t, g.h.m.settles.WithLabelValues(outcome)); n != want {
			t.Errorf("settles %s = %v, want %v", outcome, n, want)
		}
	}
}

func TestRedisDownDoesNotStallThePartition(t *testing.T) {
	e := newEnv(t, 1)
	videos := synctest.RandomVideos(2)
	stream := synctest.NewStream(11, videos, 50, 2)
	p := synctest.NewProducer(t, e.kafka.Config.Brokers)
	for range 300 {
		p.Send(e.kafka.Config.Topic, synctest.EventMessage(t, stream.Next()))
	}
	p.Close(t)
	// A Redis that refuses connections: the port of a listener closed at once.
	rdb := redisstore.New(config.Redis{Addrs: []string{closedPort(t)}})
	t.Cleanup(func() { rdb.Close() })
	down := pagecache.New(rdb, pagecache.Options{})
	g := e.start(t, stacktest.Name("syncer"), down, e.cass)
	synctest.WaitDrained(t, e.kafka.Config.Brokers, g.group, e.kafka.Config.Topic, time.Minute)
	if d := readmodel.Diff(dump(t, e.cass), readmodel.Expect(stream.Final()), 10); len(d) > 0 {
		t.Errorf("events not applied while Redis was down:\n%s", strings.Join(d, "\n"))
	}
	if n := value(t, g.h.m.settles.WithLabelValues("failed")); n == 0 {
		t.Error("no failed settle counted")
	}
	if n := value(t, g.h.m.retries.WithLabelValues(depRedis)); n == 0 {
		t.Error("no Redis retry counted")
	}
	if !g.h.redisDown.Load() {
		t.Error("the handler does not know Redis is down")
	}
}

// closedPort is stacktest.FreeAddr: a loopback address where nothing
// listens.
var closedPort = stacktest.FreeAddr
