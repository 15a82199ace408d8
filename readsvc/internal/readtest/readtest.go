// Package readtest wires readsvc's read path against the real local stack
// for tests: a private Cassandra keyspace written the way the syncer
// writes, the shared Redis (with video ids no other test uses), optional
// TCP proxies in front of either to cut them, a Store wrapper that holds
// Cassandra reads until the test lets them go, and metric lookups.
package readtest

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stacktest/tcpproxy"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/readsvc/api"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// Stack is one test's share of the local stack.
type Stack struct {
	t     testing.TB
	Cass  *stacktest.Cassandra
	Seed  *cqlseed.Writer
	Redis redis.UniversalClient
	Cache *pagecache.Cache // what cdc and the syncer would use, over the real Redis
}

// NewStack makes a private keyspace and a Redis client.
func NewStack(t testing.TB) *Stack {
	t.Helper()
	cass := stacktest.NewCassandra(t)
	rdb := stacktest.Redis(t)
	return &Stack{t: t, Cass: cass, Seed: cqlseed.New(cass.Session), Redis: rdb, Cache: pagecache.New(rdb, pagecache.Options{})}
}

// Video returns a video id no other test run uses.
func Video() int64 { return 1e12 + rand.Int64N(1e12) }

// SeedVideo writes n approved comments of a new video, spread over several
// hour buckets, and returns the video and the ids newest first.
func (s *Stack) SeedVideo(n int) (int64, []int64) {
	s.t.Helper()
	video := Video()
	cs := cqlseed.Comments(video, n, time.Now().Add(-time.Minute), 3*time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.Seed.PutAll(ctx, cs); err != nil {
		s.t.Fatal(err)
	}
	ids := make([]int64, n)
	for i, c := range cs {
		ids[n-1-i] = c.ID
	}
	return video, ids
}

// Seeded is the opening most read-path tests share: a stack of their
// own, a video of n approved comments (ids newest first, as SeedVideo
// returns them) and a Reader built with cfg.
func Seeded(t testing.TB, n int, cfg Config) (st *Stack, r *Reader, video int64, ids []int64) {
	t.Helper()
	st = NewStack(t)
	video, ids = st.SeedVideo(n)
	return st, st.NewReader(cfg), video, ids
}

// Put writes one comment row as the syncer would, then settles it in the
// cache as the syncer does after Cassandra holds it.
func (s *Stack) Put(c comment.Comment) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Seed.Put(ctx, c); err != nil {
		s.t.Fatal(err)
	}
	if _, err := s.Cache.Settle(ctx, c.VideoID, c.ID, c.Version); err != nil {
		s.t.Fatal(err)
	}
}

// Record applies a row change to the cache as cdc would.
func (s *Stack) Record(c comment.Comment, wasVisible bool) {
	s.t.Helper()
	body, err := cqlstore.Body(c)
	if err != nil {
		s.t.Fatal(err)
	}
	ch := pagecache.Change{VideoID: c.VideoID, ID: c.ID, Version: c.Version, Visible: c.Status.Visible(), WasVisible: wasVisible, Body: body}
	if _, _, err := s.Cache.Record(context.Background(), ch); err != nil {
		s.t.Fatal(err)
	}
}

// Profiles returns author profiles read from db (a stacktest.NewMySQL
// database) through the stack's Redis, and writes a profile for each of
// users there.
func (s *Stack) Profiles(db *sql.DB, users ...int64) pages.Profiles {
	s.t.Helper()
	for _, u := range users {
		if _, err := db.Exec(`INSERT IGNORE INTO users (id, display_name, avatar_url, updated_at) VALUES (?, ?, ?, NOW(6))`,
			u, "Author "+strconv.FormatInt(u, 10), "https://img.example/"+strconv.FormatInt(u, 10)+".png"); err != nil {
			s.t.Fatal(err)
		}
	}
	return pages.Profiles{Cache: profiles.NewCache(s.Redis), Store: profiles.Store{DB: db}, Probe: db.PingContext}
}

// RedisProxy starts a proxy in front of the stack's Redis.
func (s *Stack) RedisProxy() *tcpproxy.Proxy {
	addr := config.DefaultRedisAddr
	if v := os.Getenv("VC_REDIS_ADDR"); v != "" {
		addr = config.SplitList(v)[0]
	}
	return tcpproxy.Start(s.t, addr)
}

// CassandraProxy starts a proxy in front of the stack's Cassandra.
func (s *Stack) CassandraProxy() *tcpproxy.Proxy {
	host := s.Cass.Config.Hosts[0]
	if !strings.Contains(host, ":") {
		host += ":" + strconv.Itoa(config.DefaultCassandraPort)
	}
	return tcpproxy.Start(s.t, host)
}

// RedisVia returns a Redis client that goes through a proxy. On a Redis
// Cluster (several VC_REDIS_ADDR) the client reaches every node straight,
// under the proxy's switch: a cut proxy cuts the whole cluster.
func (s *Stack) RedisVia(p *tcpproxy.Proxy) redis.UniversalClient {
	if addrs := config.SplitList(os.Getenv("VC_REDIS_ADDR")); len(addrs) > 1 {
		opts := redisstore.Options(config.Redis{Addrs: addrs})
		opts.Dialer = p.Dial
		c := redis.NewUniversalClient(opts)
		s.t.Cleanup(func() { c.Close() })
		return c
	}
	c := redisstore.New(config.Redis{Addrs: []string{p.Addr()}})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// CassandraVia returns a session on the private keyspace that only ever
// talks to Cassandra through the proxy.
func (s *Stack) CassandraVia(p *tcpproxy.Proxy) *gocql.Session {
	s.t.Helper()
	cfg := s.Cass.Config
	cfg.Hosts = []string{p.Addr()}
	cfg.Timeout = 5 * time.Second
	cl, err := cassandrastore.Cluster(cfg, cfg.Keyspace)
	if err != nil {
		s.t.Fatal(err)
	}
	// gocql must never reach 127.0.0.1:9042 itself: every address it learns
	// from the ring (system.local, system.peers) is translated back to the
	// proxy. (DisableInitialHostLookup alone is not enough: after a
	// reconnect the ring refresh adds the real host beside the contact
	// point, both on the proxy's address, and removing the contact point
	// then drops the live host from the load balancing policy.)
	proxyIP, proxyPort := p.IPPort()
	cl.AddressTranslator = gocql.AddressTranslatorFunc(func(net.IP, int) (net.IP, int) { return proxyIP, proxyPort })
	if os.Getenv("GOCQL_DEBUG") != "" {
		cl.Logger = gocql.NewLogger(gocql.LogLevelDebug)
	}
	sess, err := cl.CreateSession()
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(sess.Close)
	return sess
}

// Reader is a read path and its API on a real listener.
type Reader struct {
	*pages.Reader
	Registry *prometheus.Registry
	Handler  http.Handler // the API, as Server serves it
	Server   *httptest.Server
	Cursors  *cursor.Codec
}

// Config says how to build a Reader; zero values use the stack directly.
type Config struct {
	Options pages.Options         // Registry, Cursors and GroupPrefix are set here
	Redis   redis.UniversalClient // default: the stack's
	Session *gocql.Session        // default: the stack's
	Wrap    func(pages.Store) pages.Store
	Cache   pagecache.Options // the reader's page cache; Window and HotWindow are taken from Options
	Tokens  *auth.Verifier    // Bearer tokens (own pending comments)
	// SharedMaxAge is the API's s-maxage (a Varnish in front).
	SharedMaxAge time.Duration
}

// NewReader builds, starts and serves a read path; everything stops when
// the test ends.
func (s *Stack) NewReader(cfg Config) *Reader {
	s.t.Helper()
	rdb := cfg.Redis
	if rdb == nil {
		rdb = s.Redis
	}
	sess := cfg.Session
	if sess == nil {
		sess = s.Cass.Session
	}
	var store pages.Store = cqlstore.New(sess)
	if cfg.Wrap != nil {
		store = cfg.Wrap(store)
	}
	reg := prometheus.NewRegistry()
	opts := cfg.Options
	opts.Registry = reg
	opts.GroupPrefix = stacktest.Name("rt")
	if opts.Cursors == nil {
		opts.Cursors = cursor.NewCodec([]byte("readtest"))
	}
	if opts.RedisProbe == nil {
		opts.RedisProbe = func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) }
	}
	if opts.CassandraProbe == nil {
		opts.CassandraProbe = func(ctx context.Context) error { return cassandrastore.Ping(ctx, sess) }
	}
	co := cacheOptions(cfg.Cache, opts.Window)
	co.HotWindow = opts.HotWindow
	r, err := pages.New(opts, pagecache.New(rdb, co), store, rdb)
	if err != nil {
		s.t.Fatal(err)
	}
	r.Start()
	h := api.NewHandler(r, api.Options{MaxAge: opts.MaxAge, SharedMaxAge: cfg.SharedMaxAge, Cursors: opts.Cursors, Tokens: cfg.Tokens, Registry: reg})
	srv := httptest.NewServer(h)
	s.t.Cleanup(func() {
		srv.Close()
		if err := r.Close(); err != nil {
			s.t.Error(err)
		}
	})
	return &Reader{Reader: r, Registry: reg, Handler: h, Server: srv, Cursors: opts.Cursors}
}

func cacheOptions(o pagecache.Options, window int) pagecache.Options {
	o.Window = window
	return o
}

// Metric sums the samples of a counter or gauge whose labels include
// labels ("name" alone sums every series).
func Metric(t testing.TB, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue metric
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

// Gate wraps a Store: while armed, each Page call reads Cassandra, then
// waits until the test releases it before returning what it read.
type Gate struct {
	pages.Store
	mu      sync.Mutex
	armed   bool
	once    bool // disarm after holding one call
	release chan struct{}
	Entered chan struct{} // one value per held call
}

// NewGate returns a disarmed gate over s.
func NewGate(s pages.Store) *Gate {
	return &Gate{Store: s, release: make(chan struct{}), Entered: make(chan struct{}, 64)}
}

// Arm holds the Page calls that start from now on.
func (g *Gate) Arm() {
	g.mu.Lock()
	g.armed, g.once = true, false
	g.release = make(chan struct{})
	g.mu.Unlock()
}

// ArmOnce holds only the next Page call.
func (g *Gate) ArmOnce() {
	g.Arm()
	g.mu.Lock()
	g.once = true
	g.mu.Unlock()
}

// Release lets the held calls return and disarms the gate.
func (g *Gate) Release() {
	g.mu.Lock()
	select {
	case <-g.release:
	default:
		close(g.release)
	}
	g.armed = false
	g.mu.Unlock()
}

// Page reads through, holding the result while armed.
func (g *Gate) Page(ctx context.Context, video, before int64, n int) ([]pagecache.Stored, bool, error) {
	rows, all, err := g.Store.Page(ctx, video, before, n)
	g.mu.Lock()
	armed, release := g.armed, g.release
	if g.once {
		g.armed = false
	}
	g.mu.Unlock()
	if armed {
		g.Entered <- struct{}{}
		<-release
	}
	return rows, all, err
}

// WaitFor is stacktest.Eventually, under the name readsvc's tests use.
var WaitFor = stacktest.Eventually

// Response is a decoded API answer.
type Response struct {
	Code   int
	Header http.Header
	Raw    []byte
	Page   struct {
		Comments   []comment.Public `json:"comments"`
		NextCursor *string          `json:"next_cursor"`
		Total      int64            `json:"total"`
	}
	Elapsed time.Duration
}

// IDs returns the ids of the page's comments.
func (r *Response) IDs() []int64 {
	out := []int64{}
	for _, c := range r.Page.Comments {
		id, _ := comment.ParseID(c.ID)
		out = append(out, id)
	}
	return out
}

// Get requests path (with query) from the reader's API.
func (r *Reader) Get(t testing.TB, path string, header ...string) *Response {
	t.Helper()
	return fetch(t, r.Server.Client(), r.Server.URL, path, header...)
}

// GetFrom requests path from the API at base (a proxy or cache in front
// of a Reader), as Reader.Get does.
func GetFrom(t testing.TB, base, path string, header ...string) *Response {
	t.Helper()
	return fetch(t, http.DefaultClient, base, path, header...)
}

func fetch(t testing.TB, client *http.Client, base, path string, header ...string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &Response{Code: resp.StatusCode, Header: resp.Header}
	if out.Raw, err = io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	out.Elapsed = time.Since(start)
	if resp.StatusCode == http.StatusOK && (strings.HasPrefix(path, "/v1/videos/") || strings.Contains(path, "/replies")) {
		if err := json.Unmarshal(out.Raw, &out.Page); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, out.Raw)
		}
	}
	return out
}

// PagePath is the path of a video's comments with query.
func PagePath(video int64, query string) string {
	p := "/v1/videos/" + strconv.FormatInt(video, 10) + "/comments"
	if query != "" {
		p += "?" + query
	}
	return p
}
