// Command readsvc serves comment pages of hot videos through layered caches:
// groupcache in process (shared with peers), Redis sorted-set pages, and a
// guarded backfill from Cassandra. See README.md for flags, metrics and
// failure behaviour.
package main

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
	"github.com/vidcomments/vidcomments/internal/server"
	"github.com/vidcomments/vidcomments/internal/stores/cassandrastore"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/internal/stores/redisstore"
	"github.com/vidcomments/vidcomments/readsvc/api"
	"github.com/vidcomments/vidcomments/readsvc/cqlstore"
	"github.com/vidcomments/vidcomments/readsvc/cursor"
	"github.com/vidcomments/vidcomments/readsvc/demo"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

func main() {
	os.Exit(server.Main("readsvc", os.Args[1:], build))
}

// build opens Redis and Cassandra, builds the read path and wires the
// listeners: admin, API (with the read-only demo page at /demo/), and the
// groupcache peer listener when peering.
func build(_ context.Context, cfg Config, logger *slog.Logger) (*server.App, error) {
	reg := prometheus.NewRegistry()
	admin := server.NewAdmin(reg)
	app := server.NewApp("readsvc", logger, admin, cfg.AdminAddr)
	if err := cfg.Validate(); err != nil {
		return nil, app.Abort(err)
	}

	rdb := redisstore.New(cfg.Redis)
	app.OnClose("redis", rdb.Close)
	admin.AddCheck("redis", func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) })

	cass, err := cassandrastore.Open(cfg.Cassandra)
	if err != nil {
		return nil, app.Abort(err)
	}
	app.OnClose("cassandra", func() error { cass.Close(); return nil })
	admin.AddCheck("cassandra", func(ctx context.Context) error { return cassandrastore.Ping(ctx, cass) })

	if len(cfg.Peers) > 0 {
		self, peers := cfg.peerURLs()
		pool, err := newPeerPool(self, peers)
		if err != nil {
			return nil, app.Abort(err)
		}
		app.AddServer("peer", cfg.PeerAddr, pool)
		logger.Info("groupcache peering", "self", self, "peers", peers)
	}

	if cfg.CursorKey == "" {
		logger.Warn("no cursor key configured (VC_CURSOR_KEY): cursors are signed with the development key")
	}
	cursors := cursor.NewCodec([]byte(cfg.CursorKey))
	cacheBytes := cfg.GroupcacheBytes
	if cacheBytes == 0 {
		cacheBytes = -1 // off
	}
	if limit := memoryLimit(cacheBytes); limit > 0 {
		debug.SetMemoryLimit(limit)
		logger.Info("soft memory limit", "bytes", limit, "from", "(groupcache bytes + 1/8 + 1/16 for the last good pages) × 9/8 + 40 MiB (GOMEMLIMIT overrides)")
	}
	var cache pages.Cache = pagecache.New(rdb, pagecache.Options{Window: cfg.Window, PageTTL: cfg.PageTTL, NegativeTTL: cfg.NegativeTTL})
	redisProbe := func(ctx context.Context) error { return redisstore.Ping(ctx, rdb) }
	if cfg.CachesOff {
		cacheBytes, cache, redisProbe = -1, cachesOff{}, cachesOff{}.probe
		logger.Warn("caches off (-caches-off): every page is read from Cassandra; a benchmark baseline, not for serving")
	}
	var authors pages.Profiles
	if cfg.Profiles && !cfg.CachesOff {
		db, err := mysqlstore.OpenLazy(cfg.MySQL) // readsvc serves while MySQL is down: pages without authors
		if err != nil {
			return nil, app.Abort(err)
		}
		app.OnClose("mysql", db.Close)
		authors = pages.Profiles{Cache: profiles.NewCache(rdb), Store: profiles.Store{DB: db}, Probe: db.PingContext}
	}
	reader, err := pages.New(pages.Options{
		Profiles:       authors,
		CacheBytes:     cacheBytes,
		Window:         cfg.Window,
		MaxAge:         cfg.MaxAge,
		LeaseTTL:       cfg.FillLease,
		FillWait:       cfg.FillWait,
		LoadTimeout:    cfg.LoadTimeout,
		MaxInflight:    cfg.MaxInflight,
		Cursors:        cursors,
		RedisProbe:     redisProbe,
		CassandraProbe: func(ctx context.Context) error { return cassandrastore.Ping(ctx, cass) },
		Registry:       reg,
		Logger:         logger,
	}, cache, cqlstore.New(cass), rdb)
	if err != nil {
		return nil, app.Abort(err)
	}
	reader.Start()
	app.OnClose("read path", reader.Close)

	var tokens *auth.Verifier
	if cfg.JWTSecret != "" {
		if tokens, err = auth.NewVerifier(cfg.JWTSecret, time.Now); err != nil {
			return nil, app.Abort(err)
		}
	}
	app.AddServer("api", cfg.Addr, demo.Mount(api.NewHandler(reader, api.Options{MaxAge: cfg.MaxAge, SharedMaxAge: cfg.SharedMaxAge, Cursors: cursors, Tokens: tokens, Registry: reg, Logger: logger})))
	return app, nil
}

// memoryLimit is the Go runtime's soft memory limit for a readsvc whose
// caches may hold cacheBytes (the page group), cacheBytes/8 (the comment
// group) and pages.StaleBytesFor(cacheBytes) (the last good pages): their
// sum, an eighth of it for what they cost beyond their bytes (the stores'
// index, the last good pages' entries and size classes), and 40 MiB for
// the rest: the version map, the author
// profiles (pages.ProfileTableBytes at most), the heap of requests in
// flight, stacks, runtime metadata, and room for the collector to work
// in. So the heap never doubles past the configured size, and the room is
// not slack: when the last good pages and the profiles were bounded by
// count alone (some 33 MiB together), a full cache left the collector a
// few MiB and it took 42% of readsvc's CPU under wrk on the large profile.
// 0 (no limit) when GOMEMLIMIT is set, which wins, or when groupcache is
// off.
func memoryLimit(cacheBytes int64) int64 {
	if cacheBytes <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	held := cacheBytes + cacheBytes/8 + pages.StaleBytesFor(cacheBytes)
	return held + held/8 + 40<<20
}
