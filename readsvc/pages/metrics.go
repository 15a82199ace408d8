package pages

import (
	"github.com/golang/groupcache"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/metric"
)

// metrics of the read path. No label carries a video id.
type metrics struct {
	versionLookups   *prometheus.CounterVec // source: map, redis, unknown
	loads            *prometheus.CounterVec // source: redis, backfill, cassandra, direct
	pageQueries      prometheus.Counter
	cassandraSeconds *prometheus.HistogramVec
	fills            *prometheus.CounterVec // result: written, merged, voided, error
	leases           *prometheus.CounterVec // result: acquired, busy
	fillWaits        *prometheus.CounterVec // result: filled, timeout
	rejected         *prometheus.CounterVec // reason: overloaded, cassandra_down
	staleServed      prometheus.Counter
	uncacheable      prometheus.Counter
	invalMessages    prometheus.Counter
	versionResets    prometheus.Counter
	breakerOpen      *prometheus.GaugeVec
	subscribed       prometheus.Gauge

	versionFromMap    prometheus.Counter // curried once: the hot path
	memoHits          prometheus.Counter
	rebuiltForAuthors prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := metric.With(reg)
	m := &metrics{
		rebuiltForAuthors: f.Counter("readsvc_pages_rebuilt_for_authors_total", "Pages a CDN fetch got built anew, past groupcache, because one of their authors changed within two epochs."),
		memoHits:          f.Counter("readsvc_page_memo_hits_total", "Page requests answered by the shape's last fresh copy under the same key (version and epoch), before groupcache: the in-process hits groupcache's own counters do not see."),
		versionLookups: f.CounterVec("readsvc_version_lookups_total", "Cache-version lookups of page requests by source: the local map, Redis (after a map miss, or to confirm a CDN fetch), or unknown (Redis down).",
			"source"),
		loads: f.CounterVec("readsvc_page_loads_total", "Pages built after a groupcache miss, by the tier that answered: redis (window hit), backfill (window refilled from Cassandra), cassandra (page past the window), direct (Cassandra without Redis).",
			"source"),
		pageQueries: f.Counter("readsvc_cassandra_page_queries_total", "Cassandra page reads: one per backfill of a video's window and one per page read past it or without Redis."),
		cassandraSeconds: f.HistogramVec("readsvc_cassandra_seconds", "Latency of Cassandra reads by operation.",
			[]float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}, "op"),
		fills: f.CounterVec("readsvc_fills_total", "Fills of a video's window: written (the version had not moved), merged (written with the changes recorded during the backfill merged from the overlay), voided (older than the overlay horizon, or the video was invalidated during the backfill) or error.",
			"result"),
		leases:        f.CounterVec("readsvc_fill_leases_total", "Attempts to take a video's cross-process fill lease.", "result"),
		fillWaits:     f.CounterVec("readsvc_fill_waits_total", "Waits for another process's fill: filled in time or timed out.", "result"),
		rejected:      f.CounterVec("readsvc_cassandra_rejected_total", "Cassandra reads refused at once: overloaded (concurrency cap full) or cassandra_down (circuit open).", "reason"),
		staleServed:   f.Counter("readsvc_stale_served_total", "Responses served from the last good copy because a fresh one could not be built."),
		uncacheable:   f.Counter("readsvc_uncacheable_pages_total", "Pages served once but not cached because the video changed while they were read."),
		invalMessages: f.Counter("readsvc_inval_messages_total", "Messages received on the inval channel."),
		versionResets: f.Counter("readsvc_version_map_resets_total", "Times the local version map was dropped on an inval (re)subscription."),
		subscribed:    f.Gauge("readsvc_inval_subscribed", "1 while the inval subscription is confirmed and the local version map is trusted."),
		breakerOpen:   f.GaugeVec("readsvc_dependency_down", "1 while a dependency's circuit is open (calls fail fast).", "dependency"),
	}
	f.Must()
	m.versionFromMap = m.versionLookups.WithLabelValues("map")
	return m
}

// groupcacheCollector exports the counters groupcache keeps per group.
type groupcacheCollector struct {
	groups []*groupcache.Group
	descs  map[string]*prometheus.Desc
}

var groupcacheCounters = []struct {
	name, help string
	get        func(*groupcache.Stats) int64
}{
	{"gets", "Gets of the group, hits included.", func(s *groupcache.Stats) int64 { return s.Gets.Get() }},
	{"hits", "Gets answered by this process's cache.", func(s *groupcache.Stats) int64 { return s.CacheHits.Get() }},
	{"peer_loads", "Values fetched from the owning peer.", func(s *groupcache.Stats) int64 { return s.PeerLoads.Get() }},
	{"peer_errors", "Failed fetches from peers.", func(s *groupcache.Stats) int64 { return s.PeerErrors.Get() }},
	{"local_loads", "Values built by this process.", func(s *groupcache.Stats) int64 { return s.LocalLoads.Get() }},
	{"local_load_errors", "Failed or uncacheable local builds.", func(s *groupcache.Stats) int64 { return s.LocalLoadErrs.Get() }},
	{"server_requests", "Gets served to peers.", func(s *groupcache.Stats) int64 { return s.ServerRequests.Get() }},
}

func newGroupcacheCollector(groups ...*groupcache.Group) *groupcacheCollector {
	c := &groupcacheCollector{groups: groups, descs: map[string]*prometheus.Desc{}}
	for _, k := range groupcacheCounters {
		c.descs[k.name] = prometheus.NewDesc("readsvc_groupcache_"+k.name+"_total", k.help, []string{"group"}, nil)
	}
	c.descs["bytes"] = prometheus.NewDesc("readsvc_groupcache_bytes", "Bytes held by the group's main and hot caches.", []string{"group", "cache"}, nil)
	c.descs["evictions"] = prometheus.NewDesc("readsvc_groupcache_evictions_total", "Evictions from the group's caches.", []string{"group", "cache"}, nil)
	return c
}

func (c *groupcacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *groupcacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.groups {
		for _, k := range groupcacheCounters {
			ch <- prometheus.MustNewConstMetric(c.descs[k.name], prometheus.CounterValue, float64(k.get(&g.Stats)), g.Name())
		}
		for name, which := range map[string]groupcache.CacheType{"main": groupcache.MainCache, "hot": groupcache.HotCache} {
			s := g.CacheStats(which)
			ch <- prometheus.MustNewConstMetric(c.descs["bytes"], prometheus.GaugeValue, float64(s.Bytes), g.Name(), name)
			ch <- prometheus.MustNewConstMetric(c.descs["evictions"], prometheus.CounterValue, float64(s.Evictions), g.Name(), name)
		}
	}
}
