package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/readsvc/internal/cqlseed"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
)

// The herd: two readsvc processes, 1,000 concurrent requests for one cold
// page, exactly one Cassandra page query between them — with groupcache
// peering (the owner loads, the other asks it), and with groupcache off
// (nothing but singleflight and the Redis fill lease in the way).
func TestHerdMakesOneCassandraQuery(t *testing.T) {
	stacktest.Integration(t)
	bin := stacktest.Build(t, "./readsvc")
	cass := stacktest.NewCassandra(t)
	seed := cqlseed.New(cass.Session)
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
			video := readtest.Video()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := seed.PutAll(ctx, cqlseed.Comments(video, 40, time.Now(), time.Minute)); err != nil {
				t.Fatal(err)
			}
			peers := []string{stacktest.FreeAddr(t), stacktest.FreeAddr(t)}
			procs := make([]*process, 2)
			for i := range procs {
				procs[i] = startReadsvc(t, bin, append([]string{"-cassandra-keyspace", cass.Config.Keyspace, "-fill-wait", "5s"},
					tt.args(peers[i], peers[1-i])...)...)
			}

			const n = 1000
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
			defer client.CloseIdleConnections()
			var (
				wg     sync.WaitGroup
				mu     sync.Mutex
				bodies = map[string]int{}
				fails  []string
			)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					url := "http://" + procs[i%2].api + "/v1/videos/" + strconv.FormatInt(video, 10) + "/comments?limit=20"
					resp, err := client.Get(url)
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						fails = append(fails, err.Error())
						return
					}
					defer resp.Body.Close()
					b, _ := io.ReadAll(resp.Body)
					if resp.StatusCode != 200 {
						fails = append(fails, fmt.Sprintf("%d %s", resp.StatusCode, b))
						return
					}
					bodies[string(b)]++
				}()
			}
			began := time.Now()
			close(start)
			wg.Wait()
			took := time.Since(began)
			if len(fails) > 0 {
				t.Fatalf("%d of %d requests failed, e.g. %s", len(fails), n, fails[0])
			}
			if len(bodies) != 1 {
				t.Errorf("%d different bodies for one page", len(bodies))
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
				t.Log(procs[0].log())
			}
		})
	}
}

type process struct {
	cmd        *exec.Cmd
	api, admin string
	exited     chan error
	mu         sync.Mutex
	logs       strings.Builder
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startReadsvc runs the binary against the stack and waits until it is
// ready; it is killed when the test ends if still running.
func startReadsvc(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	args = append([]string{"-addr", "127.0.0.1:0", "-admin-addr", "127.0.0.1:0"}, args...)
	p := &process{cmd: exec.Command(bin, args...), exited: make(chan error, 1)}
	p.cmd.Env = os.Environ()
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill() })
	addrs := make(chan [2]string, 4)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			var l struct{ Msg, Listener, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "listening" {
				addrs <- [2]string{l.Listener, l.Addr}
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	deadline := time.After(60 * time.Second)
	for p.api == "" || p.admin == "" {
		select {
		case a := <-addrs:
			switch a[0] {
			case "api":
				p.api = a[1]
			case "admin":
				p.admin = a[1]
			}
		case err := <-p.exited:
			t.Fatalf("readsvc exited before listening: %v\n%s", err, p.log())
		case <-deadline:
			t.Fatalf("readsvc did not listen within 60s\n%s", p.log())
		}
	}
	readtest.WaitFor(t, 30*time.Second, "readsvc to be ready", func() bool {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return p
}

// metric sums every sample of a metric on the process's /metrics.
func (p *process) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum += v
	}
	return sum
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			t.Errorf("readsvc exited with %v after SIGTERM\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("readsvc still running 30s after SIGTERM\n%s", p.log())
	}
}
