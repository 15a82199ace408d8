package main

import (
	"fmt"
	"hash/fnv"
	"math"
	"net/url"
	"os"
	"time"

	"github.com/vidcomments/vidcomments/cdc/binlog"
	"github.com/vidcomments/vidcomments/internal/config"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// Defaults of cdc's own flags.
const (
	DefaultServerID = 0 // derive one from the host name and pid
	// The cache inspector job (internal/inspect): off by default.
	DefaultInspectEvery  = 0                // 0: the job does not run
	DefaultInspectGrace  = 30 * time.Second // younger mismatches are the pipeline at work
	DefaultInspectVideos = 100              // cached videos inspected per run
	DefaultInspectRepair = true             // a stale cache entry is dropped, not only counted
	DefaultCDNRepeat     = time.Second      // readsvc's default max-age
	// DefaultCDNSettle: a Varnish fetch under way when a purge lands has
	// stored its page well within this (cdn.PurgerConfig.Settle).
	DefaultCDNSettle = 150 * time.Millisecond
	// derivedServerIDBase keeps derived ids clear of the small ids servers
	// are usually given.
	derivedServerIDBase = 1001
)

// Config is cdc's configuration.
type Config struct {
	config.Process
	MySQL        config.MySQL
	Redis        config.Redis
	ServerID     int64         // replica server id; 0 derives one per process
	SaveInterval time.Duration // at most one position save per interval while changes flow
	LockWait     time.Duration // one GET_LOCK attempt's wait while standing by
	CacheWindow  int           // newest comments cached per video: must match readsvc's
	// The periodic cache inspector: every InspectEvery (0: off), up to
	// InspectVideos cached videos, mismatches older than InspectGrace counted.
	InspectEvery  time.Duration
	InspectGrace  time.Duration
	InspectVideos int
	InspectRepair bool // drop the cached pages of a video with an old mismatch
	// The CDN tier (internal/cdn): the Varnish instances purged by tag
	// after each change (none: no purges), and when a tag is purged again:
	// soon after, for a fetch that was under way (CDNSettle), and after
	// readsvc's max-age (CDNRepeat).
	CDNPurgeURLs []string
	CDNSettle    time.Duration
	CDNRepeat    time.Duration
}

// RegisterFlags registers every cdc flag with its VC_… environment name.
func (c *Config) RegisterFlags(f *config.Flags) {
	c.Process.RegisterFlags(f, "VC_CDC_", config.DefaultCDCAdminAddr)
	c.MySQL.RegisterFlags(f)
	c.Redis.RegisterFlags(f)
	f.Int64(&c.ServerID, "server-id", "VC_CDC_SERVER_ID", DefaultServerID,
		"replica server id cdc registers with: unique among the MySQL server's replicas and other cdc processes; 0 derives one from host name and pid")
	f.Duration(&c.SaveInterval, "save-interval", "VC_CDC_SAVE_INTERVAL", binlog.DefaultSaveInterval, "at most one binlog position save per interval while changes flow")
	f.Duration(&c.LockWait, "lock-wait", "VC_CDC_LOCK_WAIT", binlog.DefaultLockWait, "how long one leader-lock attempt waits in MySQL while standing by (whole seconds)")
	f.Int(&c.CacheWindow, "cache-window", "VC_CACHE_WINDOW", pagecache.DefaultWindow, "newest comments cached per video (must equal readsvc's)")
	f.Duration(&c.InspectEvery, "inspect-every", "VC_CDC_INSPECT_EVERY", DefaultInspectEvery, "run the cache inspector over a sample of cached videos this often (0: off)")
	f.Bool(&c.InspectRepair, "inspect-repair", "VC_CDC_INSPECT_REPAIR", DefaultInspectRepair, "drop the cached pages of a video the inspector finds stale for longer than -inspect-grace (the next read refills them)")
	f.Duration(&c.InspectGrace, "inspect-grace", "VC_CDC_INSPECT_GRACE", DefaultInspectGrace, "inspector mismatches younger than this are not counted (the pipeline at work)")
	f.Int(&c.InspectVideos, "inspect-videos", "VC_CDC_INSPECT_VIDEOS", DefaultInspectVideos, "cached videos one inspector run compares with MySQL")
	f.List(&c.CDNPurgeURLs, "cdn-purge-urls", "VC_CDN_PURGE_URLS", nil, "Varnish instances (http://host:port) purged by tag after each change; empty: no CDN tier")
	f.Duration(&c.CDNSettle, "cdn-purge-settle", "VC_CDN_PURGE_SETTLE", DefaultCDNSettle, "each tag is purged once more this soon after the first purge, for a Varnish fetch already under way when it landed (0: not at all)")
	f.Duration(&c.CDNRepeat, "cdn-purge-repeat", "VC_CDN_PURGE_REPEAT", DefaultCDNRepeat, "the second purge of each tag follows the first after this: readsvc's max-age (0: purge once)")
}

// Validate checks what flag parsing cannot.
func (c Config) Validate() error {
	if err := c.MySQL.Validate(); err != nil {
		return err
	}
	if c.ServerID < 0 || c.ServerID > math.MaxUint32 {
		return fmt.Errorf("server-id %d: want 1..%d, or 0 to derive one", c.ServerID, uint32(math.MaxUint32))
	}
	if c.SaveInterval <= 0 || c.LockWait < time.Second || c.CacheWindow <= 0 {
		return fmt.Errorf("save-interval %v, lock-wait %v, cache-window %d: want a positive interval, a wait of at least 1s and a positive window",
			c.SaveInterval, c.LockWait, c.CacheWindow)
	}
	for _, u := range c.CDNPurgeURLs {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return fmt.Errorf("cdn-purge-urls %q: want http://host:port", u)
		}
	}
	if c.CDNRepeat < 0 || c.CDNSettle < 0 {
		return fmt.Errorf("cdn-purge-repeat %v, cdn-purge-settle %v: want 0 or more", c.CDNRepeat, c.CDNSettle)
	}
	if c.InspectEvery < 0 || c.InspectGrace < 0 || c.InspectVideos <= 0 {
		return fmt.Errorf("inspect-every %v, inspect-grace %v, inspect-videos %d: want non-negative durations and a positive sample",
			c.InspectEvery, c.InspectGrace, c.InspectVideos)
	}
	return nil
}

// ReplicaServerID is the server id cdc registers with: the flag, or one
// derived from the host name and pid, so two cdc processes never share one
// (MySQL drops a replica connection when another registers the same id).
func (c Config) ReplicaServerID() uint32 {
	if c.ServerID != 0 {
		return uint32(c.ServerID)
	}
	host, _ := os.Hostname()
	return deriveServerID(host, os.Getpid())
}

func deriveServerID(host string, pid int) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s/%d", host, pid)
	return derivedServerIDBase + h.Sum32()%(1<<30)
}
