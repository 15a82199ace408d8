package main

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// The ring: three readsvc processes with one -peers list. Cold pages are
// requested from all three at once: every instance answers every page, each
// page is built once in the whole ring (by its owner; the others fetch it
// from the owner) and backfilled from Cassandra once, and the owners differ
// by page. Then the herd: 1,002 concurrent requests for one cold page spread
// over the three, one Cassandra query. Under `make test-cluster` the three
// share the Redis Cluster.
func TestRingOfThreeBuildsEachPageOnce(t *testing.T) {
	r := newRig(t)
	peers := []string{stacktest.FreeAddr(t), stacktest.FreeAddr(t), stacktest.FreeAddr(t)}
	procs := make([]*process, len(peers))
	for i := range procs {
		// A day-long epoch: no page's groupcache key turns over during the
		// test, so a second load of a page could only be a ring failure.
		procs[i] = r.start(t, "-max-age", "24h", "-peer-addr", peers[i], "-peers", "http://"+peers[0]+",http://"+peers[1]+",http://"+peers[2])
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}
	defer client.CloseIdleConnections()
	// metrics returns a metric per instance.
	metrics := func(name string) []float64 {
		out := make([]float64, len(procs))
		for i, p := range procs {
			out[i] = p.metric(t, name)
		}
		return out
	}
	names := []string{"readsvc_cassandra_page_queries_total", `readsvc_fills_total{result="written"}`, "readsvc_page_loads_total", "readsvc_groupcache_peer_loads_total"}
	// delta runs f and returns how each metric of names moved per instance.
	delta := func(f func()) map[string][]float64 {
		before := map[string][]float64{}
		for _, n := range names {
			before[n] = metrics(n)
		}
		f()
		out := map[string][]float64{}
		for _, n := range names {
			after := metrics(n)
			for i := range after {
				after[i] -= before[n][i]
			}
			out[n] = after
		}
		return out
	}

	tests := []struct {
		name        string
		videos      int
		perInstance int // concurrent requests per video per instance
		checks      []check
	}{
		{"twelve cold pages, 20 requests per page per instance", 12, 20, []check{
			{"readsvc_cassandra_page_queries_total", exactly(12)},
			{`readsvc_fills_total{result="written"}`, exactly(12)},
			{"readsvc_page_loads_total", exactly(12)},  // each page built by one instance only
			{"readsvc_page_loads_total", notAllOn(12)}, // by different owners
			{"readsvc_groupcache_peer_loads_total", func(_ float64, each []float64) error {
				for i, n := range each {
					if n == 0 {
						return fmt.Errorf("instance %d fetched nothing from a peer", i)
					}
				}
				return nil
			}},
		}},
		{"the herd: 1,002 requests for one cold page", 1, 334, []check{
			{"readsvc_cassandra_page_queries_total", exactly(1)},
			{`readsvc_fills_total{result="written"}`, exactly(1)},
			{"readsvc_page_loads_total", exactly(1)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			videos := r.cold(t, tt.videos, 30)
			var (
				bodies map[int64]map[string]bool
				served []int
				fails  []string
			)
			moved := delta(func() { bodies, served, fails = hammer(client, procs, videos, tt.perInstance) })
			if len(fails) > 0 {
				t.Fatalf("%d requests failed, e.g. %s", len(fails), fails[0])
			}
			for v, bs := range bodies {
				if len(bs) != 1 {
					t.Errorf("video %d: %d different bodies across the ring", v, len(bs))
				}
			}
			for i, n := range served {
				if n != len(videos)*tt.perInstance {
					t.Errorf("instance %d answered %d of %d requests", i, n, len(videos)*tt.perInstance)
				}
			}
			for _, c := range tt.checks {
				each := moved[c.metric]
				var total float64
				for _, n := range each {
					total += n
				}
				if err := c.ok(total, each); err != nil {
					t.Errorf("%s per instance %v: %v", c.metric, each, err)
				}
			}
			t.Logf("%d requests over 3 instances: per instance Cassandra queries %v, fills %v, page loads %v, peer loads %v", len(videos)*tt.perInstance*len(procs),
				moved[names[0]], moved[names[1]], moved[names[2]], moved[names[3]])
		})
	}
	client.CloseIdleConnections()
	for _, p := range procs {
		p.stop(t)
	}
}

// hammer sends perInstance concurrent GETs of each video's first page to
// each process, all released at once.
func hammer(client *http.Client, procs []*process, videos []int64, perInstance int) (bodies map[int64]map[string]bool, served []int, fails []string) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	bodies, served = map[int64]map[string]bool{}, make([]int, len(procs))
	start := make(chan struct{})
	for _, v := range videos {
		bodies[v] = map[string]bool{}
		for i := range procs {
			for range perInstance {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					resp, err := client.Get("http://" + procs[i].api + "/v1/videos/" + strconv.FormatInt(v, 10) + "/comments?limit=20")
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						fails = append(fails, err.Error())
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 {
						fails = append(fails, fmt.Sprintf("instance %d: %d %s", i, resp.StatusCode, b))
						return
					}
					bodies[v][string(b)] = true
					served[i]++
				}()
			}
		}
	}
	close(start)
	wg.Wait()
	return bodies, served, fails
}

// check is a condition on how a metric moved: its total over the ring and
// its value per instance.
type check struct {
	metric string
	ok     func(total float64, each []float64) error
}

func exactly(n int) func(float64, []float64) error {
	return func(total float64, _ []float64) error {
		if total != float64(n) {
			return fmt.Errorf("total %v, want exactly %d", total, n)
		}
		return nil
	}
}

// notAllOn fails when one instance did all n.
func notAllOn(n int) func(float64, []float64) error {
	return func(_ float64, each []float64) error {
		for i, x := range each {
			if x == float64(n) {
				return fmt.Errorf("instance %d did all %d: the ring is not sharding", i, n)
			}
		}
		return nil
	}
}
