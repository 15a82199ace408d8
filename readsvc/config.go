package main

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/readsvc/pages"
)

// Config is readsvc's configuration.
type Config struct {
	config.Process
	Addr      string // public API listener
	PeerAddr  string // groupcache peer listener (only when Peers is set)
	PeerURL   string // how peers reach this instance; "" = http://PeerAddr
	Peers     []string
	Redis     config.Redis
	Cassandra config.Cassandra
	MySQL     config.MySQL // author profiles (users, user_bans); read-only
	Profiles  bool         // pages carry their authors' profiles

	GroupcacheBytes int64 // per group; 0 turns groupcache off
	CachesOff       bool  // benchmark baseline: no groupcache, no Redis, every page from Cassandra
	Window          int
	MaxAge          time.Duration
	SharedMaxAge    time.Duration // s-maxage for a CDN that cdc purges; 0: none
	PageTTL         time.Duration
	NegativeTTL     time.Duration
	CursorKey       string
	JWTSecret       string // writesvc's token secret: a reader's own pending comments; "" = tokens refused
	MaxInflight     int
	FillLease       time.Duration
	FillWait        time.Duration
	LoadTimeout     time.Duration
}

// RegisterFlags registers every readsvc flag with its VC_… environment name.
// The defaults are the constants of the packages that use them (pages,
// pagecache); config_test.go pins them.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_READSVC_", config.DefaultReadAdminAddr)
	f.String(&c.Addr, "addr", "VC_READSVC_ADDR", config.DefaultReadAddr, "public API listen address")
	f.String(&c.PeerAddr, "peer-addr", "VC_READSVC_PEER_ADDR", config.DefaultReadPeerAddr, "groupcache peer listen address (used when -peers is set)")
	f.String(&c.PeerURL, "peer-url", "VC_READSVC_PEER_URL", "", "this instance's URL as listed in -peers (default http://<peer-addr>)")
	f.List(&c.Peers, "peers", "VC_READSVC_PEERS", nil, "groupcache peers, host:port or http://host:port, this instance included; empty: no peering")
	c.Redis.RegisterFlags(f)
	c.Cassandra.RegisterFlags(f)
	c.MySQL.RegisterFlags(f)
	f.Bool(&c.Profiles, "profiles", "VC_READSVC_PROFILES", true, "pages carry their authors' profiles, read from MySQL through Redis and process copies; false: no authors and no MySQL")
	f.Int64(&c.GroupcacheBytes, "groupcache-bytes", "VC_READSVC_GROUPCACHE_BYTES", pages.DefaultCacheBytes, "groupcache size per group; 0 turns groupcache off (every request reads Redis)")
	f.Bool(&c.CachesOff, "caches-off", "VC_READSVC_CACHES_OFF", false, "benchmark baseline only: bypass groupcache and Redis, read every page from Cassandra")
	f.Int(&c.Window, "cache-window", "VC_CACHE_WINDOW", pagecache.DefaultWindow, "newest comments cached in Redis per video (cdc reads the same variable)")
	f.Duration(&c.MaxAge, "max-age", "VC_READSVC_MAX_AGE", pages.DefaultMaxAge, "groupcache epoch and Cache-Control max-age")
	f.Duration(&c.SharedMaxAge, "shared-max-age", "VC_READSVC_SHARED_MAX_AGE", 0, "Cache-Control s-maxage: how long a CDN may keep a page (set it only when cdc purges that CDN, VC_CDN_PURGE_URLS); 0: none")
	f.Duration(&c.PageTTL, "page-ttl", "VC_READSVC_PAGE_TTL", pagecache.DefaultPageTTL, "Redis TTL of a video's window (+ up to 20% jitter)")
	f.Duration(&c.NegativeTTL, "negative-ttl", "VC_READSVC_NEGATIVE_TTL", pagecache.DefaultNegativeTTL, "Redis TTL of an empty video's entry (+ up to 20% jitter)")
	f.String(&c.CursorKey, "cursor-key", "VC_CURSOR_KEY", "", "HMAC key of page cursors, the same on every instance (default: a development key)")
	f.String(&c.JWTSecret, "jwt-secret", "VC_JWT_SECRET", "", "writesvc's HS256 token secret: a Bearer token shows its user their own pending comments (empty: requests with a token get 401; prefer the environment)")
	f.Int(&c.MaxInflight, "cassandra-max-inflight", "VC_READSVC_CASSANDRA_MAX_INFLIGHT", pages.DefaultMaxInflight, "concurrent Cassandra reads; more are refused with 503")
	f.Duration(&c.FillLease, "fill-lease", "VC_READSVC_FILL_LEASE", pages.DefaultLeaseTTL, "cross-process backfill lease")
	f.Duration(&c.FillWait, "fill-wait", "VC_READSVC_FILL_WAIT", pages.DefaultFillWait, "how long to wait for another process's backfill")
	f.Duration(&c.LoadTimeout, "load-timeout", "VC_READSVC_LOAD_TIMEOUT", pages.DefaultLoadTimeout, "bound of one page build")
}

// Validate checks what flags cannot.
func (c *Config) Validate() error {
	switch {
	case c.Window < 1:
		return fmt.Errorf("window %d: want at least 1", c.Window)
	case c.MaxAge < time.Second:
		return fmt.Errorf("max-age %v: want at least 1s", c.MaxAge)
	case c.SharedMaxAge < 0:
		return fmt.Errorf("shared-max-age %v: want 0 (none) or more", c.SharedMaxAge)
	case c.GroupcacheBytes < 0:
		return fmt.Errorf("groupcache-bytes %d: want 0 (off) or more", c.GroupcacheBytes)
	case c.MaxInflight < 1:
		return fmt.Errorf("cassandra-max-inflight %d: want at least 1", c.MaxInflight)
	case c.JWTSecret != "" && auth.CheckSecret(c.JWTSecret) != nil:
		return fmt.Errorf("jwt-secret: %w", auth.CheckSecret(c.JWTSecret))
	case len(c.Peers) > 0 && c.PeerURL == "" && wildcardHost(c.PeerAddr):
		// Peers could not reach http://0.0.0.0:…, and this instance would
		// not recognise itself in -peers: it would ask itself over HTTP.
		return fmt.Errorf("peer-addr %q listens on every interface: set -peer-url to this instance's URL as listed in -peers", c.PeerAddr)
	}
	return nil
}

// wildcardHost says whether a listen address has no host or an unspecified
// one (":8090", "0.0.0.0:8090", "[::]:8090").
func wildcardHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || (ip != nil && ip.IsUnspecified())
}

// peerURLs returns this instance's URL and every peer's, normalised to
// http://host:port, this instance included.
func (c *Config) peerURLs() (self string, all []string) {
	norm := func(s string) string {
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		return strings.TrimSuffix(s, "/")
	}
	self = c.PeerURL
	if self == "" {
		self = c.PeerAddr
	}
	self = norm(self)
	all = []string{self}
	for _, p := range c.Peers {
		if p = norm(p); p != self {
			all = append(all, p)
		}
	}
	return self, all
}
