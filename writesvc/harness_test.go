package main

// Test harness: a private stack (database, topic, Redis key prefix) per
// test, writesvc instances in process or as real processes, an HTTP client,
// and a reader of the test's Kafka topic.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/config/configtest"
	"github.com/vidcomments/vidcomments/internal/httpapi"
	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
	"github.com/vidcomments/vidcomments/writesvc/outbox"
)

const testSecret = "writesvc-test-secret-0123456789abcdef"

// testStack is one test's share of the real servers.
type testStack struct {
	my          *stacktest.MySQL
	kafka       *stacktest.Kafka
	redisAddrs  []string
	redisPrefix string
}

func newStack(t testing.TB) *testStack {
	t.Helper()
	st := &testStack{my: stacktest.NewMySQL(t), kafka: stacktest.NewKafka(t, 2), redisPrefix: stacktest.Name("vct") + ":"}
	rdb := stacktest.Redis(t) // fails with the start hint if Redis is down
	st.redisAddrs = config.SplitList(envOr("VC_REDIS_ADDR", config.DefaultRedisAddr))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, _ := rdb.Keys(ctx, "rate:"+st.redisPrefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return st
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// config is a writesvc configuration for this stack: defaults, then the
// private database, topic and key prefix, ephemeral ports and quick retries.
func (st *testStack) config(t testing.TB, mods ...func(*Config)) Config {
	t.Helper()
	var cfg Config
	configtest.Parse(t, &cfg, map[string]string{"VC_JWT_SECRET": testSecret})
	cfg.Addr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.MySQL = st.my.Config
	cfg.Kafka = st.kafka.Config
	cfg.Redis = config.Redis{Addrs: st.redisAddrs}
	cfg.RateLimitPrefix = st.redisPrefix
	cfg.RateLimit = 1000
	cfg.RateLimitBurst = 1000
	cfg.OutboxPoll = 20 * time.Millisecond
	cfg.OutboxMaxBackoff = 500 * time.Millisecond
	for _, m := range mods {
		m(&cfg)
	}
	return cfg
}

// env renders cfg as the environment a writesvc process adds to the test's.
func (cfg Config) env() []string {
	return []string{
		runMainEnv + "=1",
		"VC_JWT_SECRET=" + cfg.JWTSecret,
		"VC_MYSQL_DSN=" + cfg.MySQL.DSN,
		"VC_MYSQL_FLAVOR=" + cfg.MySQL.Flavor,
		"VC_REDIS_ADDR=" + strings.Join(cfg.Redis.Addrs, ","),
		"VC_KAFKA_BROKERS=" + strings.Join(cfg.Kafka.Brokers, ","),
		"VC_KAFKA_TOPIC=" + cfg.Kafka.Topic,
		"VC_MODERATION=" + cfg.Moderation,
		"VC_RATE_LIMIT=" + strconv.Itoa(cfg.RateLimit),
		"VC_RATE_LIMIT_BURST=" + strconv.Itoa(cfg.RateLimitBurst),
		"VC_RATE_LIMIT_PREFIX=" + cfg.RateLimitPrefix,
		"VC_RATE_LIMIT_FAIL_OPEN=" + strconv.FormatBool(cfg.RateLimitFailOpen),
		"VC_OUTBOX_POLL=" + cfg.OutboxPoll.String(),
		"VC_OUTBOX_MAX_BACKOFF=" + cfg.OutboxMaxBackoff.String(),
		"VC_WEBHOOK_TIMEOUT=" + cfg.WebhookTimeout.String(),
		"VC_WEBHOOK_LEASE=" + cfg.WebhookLease.String(),
		"VC_WEBHOOK_MAX_ATTEMPTS=" + strconv.Itoa(cfg.WebhookMaxAttempts),
		"VC_WEBHOOK_MIN_BACKOFF=" + cfg.WebhookMinBackoff.String(),
		"VC_WRITESVC_ADDR=127.0.0.1:0",
		"VC_WRITESVC_ADMIN_ADDR=127.0.0.1:0",
		"VC_LOG_LEVEL=info",
	}
}

// instance is a running writesvc.
type instance struct {
	api, admin string // base URLs
	client     *http.Client
	stop       func() // idempotent; waits for the instance to end
}

func newClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("VC_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// start runs writesvc in this process until the test ends.
func start(t testing.TB, cfg Config, o overrides) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	app, err := build(ctx, cfg, testLogger(t), o)
	if err != nil {
		cancel()
		t.Fatalf("build writesvc: %v", err)
	}
	if err := app.Listen(); err != nil {
		cancel()
		t.Fatalf("listen: %v", errorsJoin(err, app.Close()))
	}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	in := &instance{api: "http://" + app.Addr("api"), admin: "http://" + app.Addr("admin"), client: newClient()}
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("writesvc stopped with %v", err)
			}
			in.client.CloseIdleConnections()
		})
	}
	t.Cleanup(in.stop)
	return in // listening already; not necessarily ready (a test may want it not ready)
}

func errorsJoin(a, b error) error {
	if b == nil {
		return a
	}
	return fmt.Errorf("%w; %v", a, b)
}

func waitReady(t testing.TB, in *instance) {
	t.Helper()
	waitFor(t, 30*time.Second, "writesvc ready", func() bool {
		resp, err := in.client.Get(in.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// waitFor is stacktest.Eventually, under the name writesvc's tests use.
var waitFor = stacktest.Eventually

// process is writesvc running as a real OS process (this test binary
// re-executed; see TestMain).
type process struct {
	*instance
	proc *proctest.Proc
}

// startProcess runs writesvc as a child process with cfg and waits until
// it is ready.
func startProcess(t *testing.T, cfg Config) *process {
	t.Helper()
	p := &process{proc: proctest.Start(t, "writesvc", os.Args[0], cfg.env())}
	p.instance = &instance{api: "http://" + p.proc.Addr("api"), admin: "http://" + p.proc.Addr("admin"), client: newClient()}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			_ = p.proc.Stop() // fails the test unless the process ends on SIGTERM
			p.client.CloseIdleConnections()
		})
	}
	t.Cleanup(p.stop)
	waitReady(t, p.instance)
	return p
}

// kill ends the process with SIGKILL: no shutdown code runs.
func (p *process) kill(t *testing.T) {
	t.Helper()
	_ = p.proc.Kill()
	p.client.CloseIdleConnections()
}

// token signs a token for user id sub with role.
func token(t testing.TB, sub int64, role auth.Role) string {
	t.Helper()
	tok, err := auth.Issue(testSecret, auth.Principal{UserID: sub, Role: role}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is one HTTP exchange's outcome.
type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.code, r.body) }

// errorCode returns the code of a JSON error body, or "".
func (r response) errorCode() string {
	var e httpapi.ErrorBody
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// req describes one request; body is sent as is when a string or []byte,
// else as JSON.
type req struct {
	method, path, token string
	body                any
	header              map[string]string
}

func (in *instance) do(t testing.TB, rq req) response {
	t.Helper()
	var body io.Reader
	switch b := rq.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	r, err := http.NewRequest(rq.method, in.api+rq.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	for k, v := range rq.header {
		if v == "" {
			r.Header.Del(k)
		} else {
			r.Header.Set(k, v)
		}
	}
	resp, err := in.client.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", rq.method, rq.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

// post posts content to video as user and returns the response.
func (in *instance) post(t testing.TB, user int64, video int64, body any) response {
	t.Helper()
	return in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/videos/%d/comments", video), token: token(t, user, auth.RoleUser), body: body})
}

// mustPost posts and returns the new comment's id, failing unless 202.
func (in *instance) mustPost(t testing.TB, user, video int64, content string) int64 {
	t.Helper()
	r := in.post(t, user, video, map[string]string{"content": content})
	if r.code != http.StatusAccepted {
		t.Fatalf("post: %s", r)
	}
	var a struct{ ID string }
	r.decode(t, &a)
	id, err := comment.ParseID(a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// moderate runs POST /v1/mod/comments/{id}:{action} as moderator 9000.
func (in *instance) moderate(t testing.TB, id int64, action string, body any) response {
	t.Helper()
	return in.do(t, req{method: "POST", path: fmt.Sprintf("/v1/mod/comments/%d:%s", id, action), token: token(t, 9000, auth.RoleModerator), body: body})
}

// metric returns the value of one unlabelled metric (or labelled, with the
// label set written as in the exposition format) from /metrics.
func (in *instance) metric(t testing.TB, name string) (float64, bool) {
	t.Helper()
	resp, err := in.client.Get(in.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", line, err)
			}
			return f, true
		}
	}
	return 0, false
}

// --- database inspection ----------------------------------------------

func (st *testStack) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.my.DB.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// versionKey is one (comment, version) pair.
type versionKey struct{ comment, version int64 }

// outboxVersions returns every (comment, version) the outbox holds.
func (st *testStack) outboxVersions(t testing.TB) map[versionKey]bool {
	t.Helper()
	rows, err := st.my.DB.Query(`SELECT comment_id, version FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[versionKey]bool{}
	for rows.Next() {
		var k versionKey
		if err := rows.Scan(&k.comment, &k.version); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

func (st *testStack) row(t testing.TB, id int64) (c comment.Comment, reason *string) {
	t.Helper()
	var status string
	err := st.my.DB.QueryRow(`SELECT id, video_id, user_id, parent_id, content, status, reason, reply_count, version, created_at
		FROM comments WHERE id = ?`, id).Scan(&c.ID, &c.VideoID, &c.UserID, &c.ParentID, &c.Content, &status, &reason,
		&c.ReplyCount, &c.Version, &c.CreatedAt)
	if err != nil {
		t.Fatalf("comment %d: %v", id, err)
	}
	c.Status = comment.Status(status)
	return c, reason
}

// --- Kafka -----------------------------------------------------------------

// kmsg is one message read from the test topic.
type kmsg struct {
	partition int32
	offset    int64
	key       string
	outboxID  int64
	event     comment.Event
}

// topicReader reads every partition of the test topic from the start.
type topicReader struct {
	consumer sarama.Consumer
	mu       sync.Mutex
	msgs     []kmsg
	errs     []error
	wg       sync.WaitGroup
}

func readTopic(t testing.TB, k *stacktest.Kafka) *topicReader {
	t.Helper()
	c, err := sarama.NewConsumer(k.Config.Brokers, kafkastore.Config("writesvc-test"))
	if err != nil {
		t.Fatal(err)
	}
	parts, err := c.Partitions(k.Config.Topic)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	r := &topicReader{consumer: c}
	var pcs []sarama.PartitionConsumer
	for _, p := range parts {
		pc, err := c.ConsumePartition(k.Config.Topic, p, sarama.OffsetOldest)
		if err != nil {
			c.Close()
			t.Fatal(err)
		}
		pcs = append(pcs, pc)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for m := range pc.Messages() {
				km := kmsg{partition: m.Partition, offset: m.Offset, key: string(m.Key)}
				e, err := comment.DecodeEvent(m.Value)
				for _, h := range m.Headers {
					if string(h.Key) == outbox.HeaderOutboxID {
						km.outboxID, _ = strconv.ParseInt(string(h.Value), 10, 64)
					}
				}
				km.event = e
				r.mu.Lock()
				if err != nil {
					r.errs = append(r.errs, err)
				}
				r.msgs = append(r.msgs, km)
				r.mu.Unlock()
			}
		}()
	}
	t.Cleanup(func() {
		for _, pc := range pcs {
			pc.AsyncClose()
		}
		r.wg.Wait()
		c.Close()
	})
	return r
}

func (r *topicReader) snapshot() ([]kmsg, []error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]kmsg(nil), r.msgs...), append([]error(nil), r.errs...)
}

// waitVersions waits until the topic holds every (comment, version) of
// want, then checks it holds nothing else, that every message decodes,
// carries the video id as key, and that within each partition the outbox
// ids never go backwards except for a duplicate of an earlier message.
func (r *topicReader) waitVersions(t testing.TB, want map[versionKey]bool, timeout time.Duration) []kmsg {
	t.Helper()
	var msgs []kmsg
	missing := 0
	deadline := time.Now().Add(timeout)
	for {
		var errs []error
		msgs, errs = r.snapshot()
		if len(errs) > 0 {
			t.Fatalf("undecodable messages on the topic: %v", errs)
		}
		got := map[versionKey]bool{}
		for _, m := range msgs {
			got[versionKey{m.event.Comment.ID, m.event.Version}] = true
		}
		missing = 0
		for k := range want {
			if !got[k] {
				missing++
			}
		}
		if missing == 0 {
			for k := range got {
				if !want[k] {
					t.Errorf("topic holds %+v, which the outbox never had", k)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the topic lacks %d of %d versions (holds %d messages)", timeout, missing, len(want), len(msgs))
		}
		time.Sleep(25 * time.Millisecond)
	}
	for _, m := range msgs {
		if m.key != string(m.event.Key()) {
			t.Errorf("message key %q, want the video id %q", m.key, m.event.Key())
		}
	}
	checkOrder(t, msgs)
	return msgs
}

// checkOrder checks per-comment version order in each partition: a
// message may repeat an earlier one (at-least-once), but a version lower
// than one already seen for its comment must be such a repeat.
func checkOrder(t testing.TB, msgs []kmsg) {
	t.Helper()
	sort.Slice(msgs, func(i, j int) bool {
		if msgs[i].partition != msgs[j].partition {
			return msgs[i].partition < msgs[j].partition
		}
		return msgs[i].offset < msgs[j].offset
	})
	latest := map[int64]int64{}
	seen := map[versionKey]bool{}
	for _, m := range msgs {
		k := versionKey{m.event.Comment.ID, m.event.Version}
		if v, ok := latest[k.comment]; ok && k.version < v && !seen[k] {
			t.Errorf("partition %d offset %d: comment %d version %d after version %d", m.partition, m.offset, k.comment, k.version, v)
		}
		seen[k] = true
		latest[k.comment] = max(latest[k.comment], k.version)
	}
}

// closedPort is stacktest.FreeAddr: an address where nothing listens.
var closedPort = stacktest.FreeAddr

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
