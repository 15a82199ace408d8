// Package pages is readsvc's read path: comment pages and single comments
// through three tiers, each counted in metrics.
//
//  1. groupcache, in process and shared with peers. Values never change, so
//     a key carries what makes it fresh: video, order, cursor, limit, the
//     video's cache version and a time epoch (now / MaxAge, offset per
//     video so epochs of different videos do not turn over together). The
//     version comes from a local map kept current by the inval channel.
//  2. Redis (internal/pagecache): a page is one Lua call over the video's
//     window of the newest comments.
//  3. Cassandra, on a miss: singleflight in process plus a Redis fill lease
//     across processes; one loader reads the newest Window comments,
//     merges the overlay and fills Redis only if the video's version has
//     not moved since it started. Pages past the window are read from
//     Cassandra directly (overlay merged) and cached in groupcache.
//
// When Redis is down, pages are read from Cassandra directly under a
// concurrency cap (excess: ErrOverloaded at once) and cached in groupcache
// for their epoch. When Cassandra is down, a breaker fails its reads at
// once (ErrUnavailable) and a page that cannot be rebuilt is served from
// the last good copy of the same request, if there is one.
//
// A page is Stale (the API's X-Cache-Stale: 1) when its freshness cannot be
// confirmed: it is a last good copy served past the version or epoch it was
// built for, or it was built while Redis was unreachable, so without the
// video's version and the overlay of moderation changes Cassandra may not
// hold yet. Every other page was built at the video's current version
// within the current epoch (or, for a groupcache hit, at the version the
// inval channel last announced).
package pages

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang/groupcache"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
)

// Cache is what the read path needs of the Redis page cache
// (*pagecache.Cache).
type Cache interface {
	Read(ctx context.Context, video, before int64, limit int) (pagecache.Page, error)
	Version(ctx context.Context, video int64) (int64, error)
	BeginFill(ctx context.Context, video int64) (pagecache.FillToken, error)
	FillSince(ctx context.Context, video int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error)
	Overlay(ctx context.Context, video int64) (map[int64]pagecache.OverlayEntry, error)

	// Hot order, replies, pins and own pending comments.
	ReadHot(ctx context.Context, video, epoch int64, pos pagecache.HotPos, limit int) (pagecache.HotPage, error)
	FillHot(ctx context.Context, video int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error)
	ReadReplies(ctx context.Context, video, parent, before int64, limit int) (pagecache.Page, error)
	FillReplies(ctx context.Context, video, parent int64, tok pagecache.FillToken, entries []pagecache.Entry, total int64, complete bool) (pagecache.FillResult, error)
	TryLeaseOf(ctx context.Context, video int64, kind string, ttl time.Duration) (token string, ok bool, err error)
	ReleaseLeaseOf(ctx context.Context, video int64, kind, token string) error
	Pin(ctx context.Context, video int64) (pagecache.Pin, error)
	FillPin(ctx context.Context, video, commentID, version int64) error
	Pending(ctx context.Context, video, user int64) ([]pagecache.Entry, error)
}

// Store is what the read path needs of Cassandra (*cqlstore.Store).
type Store interface {
	Page(ctx context.Context, video, before int64, n int) (rows []pagecache.Stored, all bool, err error)
	Total(ctx context.Context, video int64) (int64, error)
	Comment(ctx context.Context, id int64) (c comment.Comment, body []byte, found bool, err error)
	HotPage(ctx context.Context, video int64, pos pagecache.HotPos, n int) (rows []pagecache.Entry, all bool, err error)
	Replies(ctx context.Context, parent, before int64, n int) (rows []pagecache.Stored, all bool, err error)
	Pin(ctx context.Context, video int64) (id, version int64, err error)
}

// Defaults of Options.
const (
	DefaultGroupPrefix     = "readsvc"
	DefaultCacheBytes      = 64 << 20
	DefaultWindow          = pagecache.DefaultWindow
	DefaultMaxAge          = time.Second
	DefaultLeaseTTL        = 2 * time.Second
	DefaultFillWait        = time.Second
	DefaultLoadTimeout     = 2 * time.Second
	DefaultMaxInflight     = 32
	DefaultStaleBytes      = 4 << 20 // when groupcache is off; else CacheBytes/16
	DefaultVersionEntries  = 100000
	DefaultBreakerFailures = 3
	DefaultBreakerProbe    = 250 * time.Millisecond
	DefaultFillAttempts    = 3
	DefaultSnapshotEvery   = 5 * time.Second
	fillPoll               = 10 * time.Millisecond
	MaxLimit               = 50
)

// Options configure a Reader. Zero values take the defaults, except
// CacheBytes, where a negative value turns groupcache off.
type Options struct {
	GroupPrefix     string        // groupcache group names: PREFIX-time, PREFIX-comment (unique per process)
	CacheBytes      int64         // per group; < 0: groupcache off, every request reads Redis
	Window          int           // newest comments cached per video (pagecache Options.Window)
	MaxAge          time.Duration // epoch length; the API's Cache-Control max-age
	LeaseTTL        time.Duration // cross-process fill lease
	FillWait        time.Duration // how long a process waits for another's fill
	LoadTimeout     time.Duration // bound of one page build, detached from the request
	MaxInflight     int           // concurrent Cassandra reads
	StaleBytes      int64         // bound of the last good pages kept for outages (and the hot-page memo)
	VersionEntries  int           // local version map bound (cleared when full)
	BreakerFailures int           // consecutive failures that open a breaker
	BreakerProbe    time.Duration // probe interval of an open breaker
	FillAttempts    int           // backfills per miss when changes keep voiding them
	HotWindow       int           // most liked roots cached per video (pagecache Options.HotWindow)
	SnapshotEvery   time.Duration // hot page one pins a new snapshot of the hot window this often

	Profiles       Profiles // authors of pages; zero: pages carry no authors
	Cursors        *cursor.Codec
	RedisProbe     func(context.Context) error // closes the Redis breaker when nil error
	CassandraProbe func(context.Context) error
	Registry       prometheus.Registerer
	Logger         *slog.Logger
	Now            func() time.Time
}

// StaleBytesFor is the default bound of the last good pages for a
// CacheBytes: a sixteenth of the page group, or DefaultStaleBytes when
// groupcache is off.
func StaleBytesFor(cacheBytes int64) int64 {
	if cacheBytes > 0 {
		return cacheBytes / 16
	}
	return DefaultStaleBytes
}

func (o *Options) defaults() {
	if o.GroupPrefix == "" {
		o.GroupPrefix = DefaultGroupPrefix
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	config.Default(&o.Window, DefaultWindow)
	config.Default(&o.MaxAge, DefaultMaxAge)
	config.Default(&o.LeaseTTL, DefaultLeaseTTL)
	config.Default(&o.FillWait, DefaultFillWait)
	config.Default(&o.LoadTimeout, DefaultLoadTimeout)
	config.Default(&o.MaxInflight, DefaultMaxInflight)
	if o.StaleBytes == 0 {
		o.StaleBytes = StaleBytesFor(o.CacheBytes)
	}
	config.Default(&o.VersionEntries, DefaultVersionEntries)
	config.Default(&o.BreakerFailures, DefaultBreakerFailures)
	config.Default(&o.BreakerProbe, DefaultBreakerProbe)
	config.Default(&o.FillAttempts, DefaultFillAttempts)
	config.Default(&o.HotWindow, pagecache.DefaultHotWindow)
	config.Default(&o.SnapshotEvery, DefaultSnapshotEvery)
	if o.Cursors == nil {
		o.Cursors = cursor.NewCodec(nil)
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RedisProbe == nil {
		o.RedisProbe = func(context.Context) error { return nil }
	}
	if o.CassandraProbe == nil {
		o.CassandraProbe = func(context.Context) error { return nil }
	}
}

// Reader serves pages. Start it before use; Close stops its goroutines.
type Reader struct {
	opts    Options
	cache   *guardedCache
	store   *guardedStore
	redisBr *breaker
	cassBr  *breaker
	m       *metrics
	vers    *versions
	inval   *invalListener
	stale   *lastGood
	authors *authors // nil: no Profiles
	mysqlBr *breaker // of authors' MySQL reads

	pageGroup    *group // nil when groupcache is off
	commentGroup *group
	fills        singleflight.Group
	verLookups   singleflight.Group
	pageLoads    singleflight.Group // with groupcache off: identical in-flight page requests share one load

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// ErrGroupExists means a Reader with the same GroupPrefix was already made
// in this process: groupcache groups are process-wide and never removed.
var ErrGroupExists = errors.New("pages: groupcache group already registered in this process")

// New returns a Reader over cache, store and the inval subscription of sub.
func New(opts Options, cache Cache, store Store, sub Subscriber) (*Reader, error) {
	opts.defaults()
	pageName, commentName := opts.GroupPrefix+"-time", opts.GroupPrefix+"-comment"
	if opts.CacheBytes > 0 && (groupcache.GetGroup(pageName) != nil || groupcache.GetGroup(commentName) != nil) {
		return nil, fmt.Errorf("%w: %s", ErrGroupExists, opts.GroupPrefix)
	}
	m := newMetrics(opts.Registry)
	r := &Reader{opts: opts, m: m, vers: newVersions(opts.VersionEntries), stale: newLastGood(opts.StaleBytes)}
	r.redisBr = newBreaker("redis", opts.BreakerFailures, opts.BreakerProbe, opts.RedisProbe, opts.Logger, m.breakerOpen.WithLabelValues("redis"))
	r.cassBr = newBreaker("cassandra", opts.BreakerFailures, opts.BreakerProbe, opts.CassandraProbe, opts.Logger, m.breakerOpen.WithLabelValues("cassandra"))
	if opts.Profiles.Store != nil {
		probe := opts.Profiles.Probe
		if probe == nil {
			probe = func(context.Context) error { return nil }
		}
		r.mysqlBr = newBreaker("mysql", opts.BreakerFailures, opts.BreakerProbe, probe, opts.Logger, m.breakerOpen.WithLabelValues("mysql"))
		r.authors = newAuthors(opts.Profiles, r.redisBr, r.mysqlBr, opts, opts.Registry)
	}
	r.cache = &guardedCache{c: cache, br: r.redisBr}
	r.store = &guardedStore{s: store, br: r.cassBr, sem: make(chan struct{}, opts.MaxInflight), m: m}
	if opts.CacheBytes > 0 {
		r.pageGroup = newGroup(pageName, opts.CacheBytes, r.loadPage)
		r.commentGroup = newGroup(commentName, opts.CacheBytes/8, r.loadComment)
		opts.Registry.MustRegister(newGroupcacheCollector(r.pageGroup, r.commentGroup))
	}
	// Last: Subscribe connects at once (and retries in the background).
	r.inval = &invalListener{vers: r.vers, ps: sub.Subscribe(context.Background(), pagecache.InvalChannel), authors: r.authors, logger: opts.Logger, metrics: m, health: invalHealthInterval}
	return r, nil
}

// Start runs the inval listener and the breaker probes.
func (r *Reader) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	runs := []func(context.Context){r.inval.run, r.redisBr.run, r.cassBr.run}
	if r.mysqlBr != nil {
		runs = append(runs, r.mysqlBr.run)
	}
	for _, run := range runs {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); run(ctx) }()
	}
}

// Close stops the goroutines and waits for them.
func (r *Reader) Close() error {
	if r.cancel != nil {
		r.cancel()
	}
	err := r.inval.ps.Close()
	r.wg.Wait()
	if r.pageGroup != nil {
		r.pageGroup.release()
		r.commentGroup.release()
	}
	if err != nil {
		return fmt.Errorf("close inval subscription: %w", err)
	}
	return nil
}

// Request asks for one page of a video's comments.
type Request struct {
	Video  int64
	Sort   cursor.Sort
	Before int64 // the cursor's last id; 0 for the first page
	Limit  int   // 1..MaxLimit
	// sort=hot: the cursor's last (likes, id) and its snapshot epoch.
	Hot   pagecache.HotPos
	Epoch int64
}

// ErrUnsupportedSort: this order is laid out but not served yet.
var ErrUnsupportedSort = errors.New("pages: sort order not supported yet")

// Page returns one page.
func (r *Reader) Page(ctx context.Context, req Request) (Page, error) {
	if req.Sort == cursor.ByHot {
		return r.hotPage(ctx, req)
	}
	if req.Sort != cursor.ByTime {
		return Page{}, ErrUnsupportedSort
	}
	if req.Video <= 0 || req.Before < 0 || req.Limit < 1 || req.Limit > MaxLimit {
		return Page{}, fmt.Errorf("pages: bad request %+v", req)
	}
	var buf [keyBuf]byte
	key, shape := r.pageKey(ctx, buf[:0], 't', r.now(), req.Video, req.Video, req.Before, int64(req.Limit))
	return r.page(ctx, key, shape)
}

// Comment returns a single comment; Page.NotFound when readers may not see
// it.
func (r *Reader) Comment(ctx context.Context, id int64) (Page, error) {
	if id <= 0 {
		return Page{}, fmt.Errorf("pages: bad comment id %d", id)
	}
	key := make([]byte, 0, 48)
	key = append(key, 'c', '/')
	key = strconv.AppendInt(key, id, 10)
	shape := len(key)
	key = append(key, '/')
	key = strconv.AppendInt(key, r.epoch(id, r.now()), 10)
	return r.get(ctx, r.commentGroup, r.loadComment, key, shape)
}

// now is the Reader's clock in Unix nanoseconds. A request reads it once:
// on a virtual machine a clock read costs more than 100 ns, a tenth of a
// page hit (readsvc/api BenchmarkHotPageHit's CPU profile on the shared
// box).
func (r *Reader) now() int64 { return r.opts.Now().UnixNano() }

// epoch is the time slot a value belongs to at now, offset per id so that
// the epochs of different videos turn over at different instants (jitter).
func (r *Reader) epoch(id, now int64) int64 {
	span := int64(r.opts.MaxAge)
	offset := int64((uint64(id) * 0x9E3779B97F4A7C15) >> 1 % uint64(span))
	return (now + offset) / span
}

type confirmKey struct{}

// ConfirmVersion marks ctx's reads as ones a shared cache (a CDN) will
// keep: their video versions are asked of Redis, not taken from the local
// map the inval channel keeps, so a read right after a change never
// builds the page as it was before it. For the CDN's own fetches only:
// each costs a Redis round trip.
func ConfirmVersion(ctx context.Context) context.Context {
	return context.WithValue(ctx, confirmKey{}, true)
}

// version returns the video's cache version: from the local map, else
// (or when ctx asks to confirm it) from Redis; known is false when Redis
// cannot be asked.
func (r *Reader) version(ctx context.Context, video int64) (int64, bool) {
	ver, gen, ok := r.vers.get(video)
	if ok && ctx.Value(confirmKey{}) == nil {
		r.m.versionFromMap.Inc()
		return ver, true
	}
	if !r.redisBr.allow() {
		r.m.versionLookups.WithLabelValues("unknown").Inc()
		return 0, false
	}
	v, err, _ := r.verLookups.Do(strconv.FormatInt(video, 10), func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
		defer cancel()
		return r.cache.Version(ctx, video)
	})
	if err != nil {
		r.m.versionLookups.WithLabelValues("unknown").Inc()
		return 0, false
	}
	r.m.versionLookups.WithLabelValues("redis").Inc()
	r.vers.learn(video, v.(int64), gen)
	return v.(int64), true
}

// keyBuf holds any page key on the stack.
const keyBuf = 128

// page answers a page key. A hit of the shape's last fresh copy under the
// very same key (version and epoch included) is the groupcache value
// itself, already decoded, headers and all: the hot path of a hot page
// allocates nothing. Everything else goes through groupcache (get). With
// groupcache off every request reads Redis, as that mode promises.
//
// A read a shared cache will keep (ConfirmVersion) never gets a page that
// shows an author as they no longer are: cdc purged the CDN's copy for the
// change, and the CDN would keep the old profile for its s-maxage. Such a
// read compares the page's authors with their copies in Redis (which cdc
// overwrites before it purges, so this does not wait on cdc's
// announcement reaching this process) and builds the page again, past
// groupcache, with the current profiles when they differ. Where Redis and
// MySQL cannot say, an author cdc announced within two epochs does the
// same.
func (r *Reader) page(ctx context.Context, key []byte, shapeLen int) (Page, error) {
	p, err := r.cachedPage(ctx, key, shapeLen)
	if err != nil || r.authors == nil || len(p.authors) == 0 || ctx.Value(confirmKey{}) == nil {
		return p, err
	}
	current, known := r.authors.current(ctx, p.authors)
	if known && showsAuthors(&p, current, r.opts.Now()) || !known && !r.authors.changedAmong(p.authors) {
		return p, nil
	}
	r.m.rebuiltForAuthors.Inc()
	v, err := r.loadPage(withProfiles(ctx, current), string(key))
	if u, ok := errors.AsType[*uncacheable](err); ok {
		v, err = u.value, nil
	}
	if err != nil {
		return p, nil // the page as groupcache had it: the purge's repeat (cdn.Purger) tries again
	}
	return decodeRaw(v)
}

func (r *Reader) cachedPage(ctx context.Context, key []byte, shapeLen int) (Page, error) {
	if r.pageGroup != nil {
		if p, ok := r.stale.fresh(key[:shapeLen], key); ok {
			r.m.memoHits.Inc()
			return p, nil
		}
	}
	return r.get(ctx, r.pageGroup, r.loadPage, key, shapeLen)
}

// get answers key from the group's store, else through groupcache (or
// from the loader directly when it is off), falling back to the last good
// copy of the same request when a fresh one cannot be built.
func (r *Reader) get(ctx context.Context, gr *group, load func(context.Context, string) ([]byte, error), key []byte, shapeLen int) (Page, error) {
	var (
		p   Page
		err error
	)
	switch {
	case gr != nil:
		if b, ok := gr.cached(key); ok {
			p, err = decodeRaw(b)
		} else {
			var v groupcache.ByteView
			if v, err = gr.get(ctx, key); err == nil {
				p, err = decodeView(v)
			}
		}
	default:
		// Without groupcache, identical requests in flight share one load
		// (one Redis round trip) — what groupcache does for its keys. The
		// key carries the version and epoch, so sharing never serves an
		// older page than a caller's own load would.
		var v any
		v, err, _ = r.pageLoads.Do(string(key), func() (any, error) {
			lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.LoadTimeout)
			defer cancel()
			return load(lctx, string(key))
		})
		if err == nil {
			p, err = decodeRaw(v.([]byte))
		}
	}
	if err == nil && !p.Stale {
		r.stale.remember(key[:shapeLen], key, p)
	}
	if err == nil {
		return p, nil
	}
	if u, ok := errors.AsType[*uncacheable](err); ok {
		return decodeRaw(u.value)
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, ErrOverloaded) || errors.Is(err, errCacheDown) || errors.Is(err, context.DeadlineExceeded) {
		if sp, ok := r.stale.get(string(key[:shapeLen])); ok {
			r.m.staleServed.Inc()
			sp.Stale = true
			return sp, nil
		}
	}
	return Page{}, err
}

// lastGood keeps the last fresh page of each request shape (the key without
// version and epoch), to serve marked stale when a dependency is down.
// It is bounded in bytes, not entries: a page it holds after groupcache
// evicted it is memory the groupcache bound does not count, and an entry
// bound of a few thousand 5 KB pages was tens of MiB the process's memory
// limit (readsvc's memoryLimit) never planned for.
type lastGood struct {
	mu         sync.RWMutex
	m          map[string]goodPage
	bytes, max int64
}

type goodPage struct {
	key  string
	page Page
}

// goodPageOverhead is what an entry costs beside its value: the map slot,
// the key strings and the page's header slices.
const goodPageOverhead = 256

func (g goodPage) size() int64 { return int64(g.page.size() + len(g.key) + goodPageOverhead) }

func newLastGood(max int64) *lastGood { return &lastGood{m: make(map[string]goodPage), max: max} }

func (l *lastGood) remember(shape, key []byte, p Page) {
	l.mu.RLock()
	g, ok := l.m[string(shape)]
	l.mu.RUnlock()
	if ok && g.key == string(key) {
		return
	}
	next := goodPage{key: string(key), page: p}
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.m[string(shape)]; ok {
		delete(l.m, string(shape))
		l.bytes -= old.size()
	}
	if next.size() > l.max {
		return // larger than the whole bound: not kept, and nothing evicted for it
	}
	if l.bytes+next.size() > l.max {
		// Evict arbitrary entries down to 7/8 of the bound: map order is
		// random enough here, and one sweep pays for many inserts.
		for k, g := range l.m {
			if l.bytes+next.size() <= l.max-l.max/8 {
				break
			}
			delete(l.m, k)
			l.bytes -= g.size()
		}
	}
	l.m[string(shape)] = next
	l.bytes += next.size()
}

// fresh returns the last fresh page of shape if it was stored under key.
func (l *lastGood) fresh(shape, key []byte) (Page, bool) {
	l.mu.RLock()
	g, ok := l.m[string(shape)]
	l.mu.RUnlock()
	if !ok || g.key != string(key) {
		return Page{}, false
	}
	return g.page, true
}

func (l *lastGood) get(shape string) (Page, bool) {
	l.mu.RLock()
	g, ok := l.m[shape]
	l.mu.RUnlock()
	return g.page, ok
}

// pageKey appends to b the groupcache key of a page: kind, then the fields that say
// which page (its shape, shapeLen bytes long: the stale copy's key), then
// what makes it fresh — the video's cache version ('u' when unknown) and
// its max-age epoch at now (r.now). parseKey reads it back.
func (r *Reader) pageKey(ctx context.Context, b []byte, kind byte, now, video int64, shape ...int64) (key []byte, shapeLen int) {
	ver, known := r.version(ctx, video)
	b = append(b, kind)
	for _, f := range shape {
		b = append(b, '/')
		b = strconv.AppendInt(b, f, 10)
	}
	shapeLen = len(b)
	b = append(b, '/')
	if known {
		b = strconv.AppendInt(b, ver, 10)
	} else {
		b = append(b, 'u')
	}
	b = append(b, '/')
	b = strconv.AppendInt(b, r.epoch(video, now), 10)
	return b, shapeLen
}

// parseKey splits a groupcache key into its fields.
func parseKey(key string, want int) ([]int64, error) {
	parts := strings.Split(key, "/")
	if len(parts) != want+1 {
		return nil, fmt.Errorf("pages: malformed key %q", key)
	}
	out := make([]int64, want)
	for i, s := range parts[1:] {
		if s == "u" {
			out[i] = -1
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pages: malformed key %q", key)
		}
		out[i] = n
	}
	return out, nil
}
