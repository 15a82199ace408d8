package pages

import (
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
		memoHits:          f.Counter("readsvc_page_memo_hits_total", "Page requests answered by the shape's last fresh copy under the same key (version and epoch), before the group's store: the in-process hits its counters do not see."),
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

// groupcacheCollector exports the counters of each group: its store's
// (the in-process tier) and groupcache's own (peers and loads).
type groupcacheCollector struct {
	groups []*group
	descs  map[string]*prometheus.Desc
}

var groupcacheCounters = []struct {
	name, help string
	get        func(*group) int64
}{
	{"gets", "Reads of the group's in-process store.", func(g *group) int64 { return g.gets.Load() }},
	{"hits", "Reads answered by the in-process store.", func(g *group) int64 { return g.hits.Load() }},
	{"peer_loads", "Values fetched from the owning peer.", func(g *group) int64 { return g.g.Stats.PeerLoads.Get() }},
	{"peer_errors", "Failed fetches from peers.", func(g *group) int64 { return g.g.Stats.PeerErrors.Get() }},
	{"peer_kept", "Values fetched from a peer and kept in the store (one in ten).", func(g *group) int64 { return g.peerKept.Load() }},
	{"local_loads", "Values built by this process.", func(g *group) int64 { return g.g.Stats.LocalLoads.Get() }},
	{"local_load_errors", "Failed or uncacheable local builds.", func(g *group) int64 { return g.g.Stats.LocalLoadErrs.Get() }},
	{"server_requests", "Gets served to peers.", func(g *group) int64 { return g.g.Stats.ServerRequests.Get() }},
	{"too_large", "Values over a 1,024th of the store, not kept in it.", func(g *group) int64 { return g.tooLarge.Load() }},
	{"evacuations", "Entries the store's rings evicted, or moved to the front when read recently.", func(g *group) int64 { return g.local().EvacuateCount() }},
}

func newGroupcacheCollector(groups ...*group) *groupcacheCollector {
	c := &groupcacheCollector{groups: groups, descs: map[string]*prometheus.Desc{}}
	for _, k := range groupcacheCounters {
		c.descs[k.name] = prometheus.NewDesc("readsvc_groupcache_"+k.name+"_total", k.help, []string{"group"}, nil)
	}
	c.descs["entries"] = prometheus.NewDesc("readsvc_groupcache_entries", "Values held by the group's in-process store.", []string{"group"}, nil)
	return c
}

func (c *groupcacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *groupcacheCollector) Collect(ch chan<- prometheus.Metric) {
	for _, g := range c.groups {
		name := g.g.Name()
		for _, k := range groupcacheCounters {
			ch <- prometheus.MustNewConstMetric(c.descs[k.name], prometheus.CounterValue, float64(k.get(g)), name)
		}
		ch <- prometheus.MustNewConstMetric(c.descs["entries"], prometheus.GaugeValue, float64(g.local().EntryCount()), name)
	}
}
