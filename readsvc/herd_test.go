package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/proctest"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
)

// The herd: two readsvc processes, 1,000 concurrent requests for one cold
// page, exactly one Cassandra page query between them — with groupcache
// peering (the owner loads, the other asks it), and with groupcache off
// (nothing but singleflight and the Redis fill lease in the way).
func TestHerdMakesOneCassandraQuery(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name string
		args func(self, other string) []string
	}{
		{"groupcache peers", func(self, other string) []string {
			return []string{"-peer-addr", self, "-peers", self + "," + other}
		}},
		{"groupcache off: singleflight and the fill lease", func(_, _ string) []string {
			return []string{"-groupcache-bytes", "0"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			video := r.cold(t, 1, 40)[0]
			peers := []string{stacktest.FreeAddr(t), stacktest.FreeAddr(t)}
			procs := make([]*process, 2)
			for i := range procs {
				procs[i] = r.start(t, tt.args(peers[i], peers[1-i])...)
			}

			const n = 1000
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
			defer client.CloseIdleConnections()
			began := time.Now()
			bodies, _, fails := hammer(client, procs, []int64{video}, n/len(procs))
			took := time.Since(began)
			if len(fails) > 0 {
				t.Fatalf("%d of %d requests failed, e.g. %s", len(fails), n, fails[0])
			}
			if len(bodies[video]) != 1 {
				t.Errorf("%d different bodies for one page", len(bodies[video]))
			}
			var queries, peerLoads, leaseBusy float64
			for _, p := range procs {
				queries += p.metric(t, "readsvc_cassandra_page_queries_total")
				peerLoads += p.metric(t, "readsvc_groupcache_peer_loads_total")
				leaseBusy += p.metric(t, `readsvc_fill_leases_total{result="busy"}`)
			}
			if queries != 1 {
				t.Errorf("Cassandra page queries across both processes = %v, want exactly 1", queries)
			}
			if strings.HasPrefix(tt.name, "groupcache peers") && peerLoads == 0 {
				t.Error("no value was fetched from a peer: peering is not in use")
			}
			t.Logf("%d requests in %v: %v Cassandra page query, %v peer loads, %v waits on another process's lease", n, took.Round(time.Millisecond), queries, peerLoads, leaseBusy)
			client.CloseIdleConnections() // else Shutdown waits 5 s for dialled, unused connections
			for _, p := range procs {
				p.stop(t)
			}
			if os.Getenv("HERD_LOGS") != "" {
				t.Log(procs[0].Log())
			}
		})
	}
}

// rig is the readsvc binary and a private keyspace its processes read.
type rig struct {
	bin  string
	cass *stacktest.Cassandra
	seed *cqlseed.Writer
}

func newRig(t *testing.T) *rig {
	t.Helper()
	stacktest.Integration(t)
	r := &rig{bin: stacktest.Build(t, "./readsvc"), cass: stacktest.NewCassandra(t)}
	r.seed = cqlseed.New(r.cass.Session)
	return r
}

// cold returns n new videos of comments comments each, in Cassandra only.
func (r *rig) cold(t *testing.T, n, comments int) []int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	videos := make([]int64, n)
	for i := range videos {
		videos[i] = readtest.Video()
		if err := r.seed.PutAll(ctx, cqlseed.Comments(videos[i], comments, time.Now(), time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	return videos
}

// process is a running readsvc and the addresses of its listeners.
type process struct {
	*proctest.Proc
	api, admin string
}

// start runs a readsvc on the rig's keyspace with flags added and waits
// until it is ready; it is killed when the test ends if still running.
func (r *rig) start(t *testing.T, flags ...string) *process {
	t.Helper()
	args := append([]string{"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0", "-cassandra-keyspace", r.cass.Config.Keyspace, "-fill-wait", "5s"}, flags...)
	p := &process{Proc: proctest.Start(t, "readsvc", r.bin, nil, args...)}
	p.api, p.admin = p.Addr("api"), p.Addr("admin")
	p.WaitReady("http://" + p.admin + "/readyz")
	return p
}

// metric sums every sample of a metric on the process's /metrics.
func (p *process) metric(t *testing.T, name string) float64 {
	t.Helper()
	sum, _ := proctest.Metric(t, p.admin, name)
	return sum
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.Stop(); err != nil {
		t.Errorf("readsvc exited with %v after SIGTERM\n%s", err, p.Log())
	}
}
