package wrk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const report = `Running 4s test @ http://127.0.0.1:1/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms  310.00us   9.80ms   90.00%
    Req/Sec    63.10k     2.00k   66.00k    80.00%
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    1.40ms
     99%    6.10ms
  251234 requests in 4.00s, 1.10GB read
Requests/sec:  62808.50
Transfer/sec:    281.00MB
`

func TestParse(t *testing.T) {
	r, err := Parse(report)
	if err != nil {
		t.Fatal(err)
	}
	if r.RPS != 62808.5 || r.P50 != 812*time.Microsecond || r.P99 != 6100*time.Microsecond {
		t.Errorf("got %+v", r)
	}
}

func TestParseCountsErrors(t *testing.T) {
	for _, tt := range []struct {
		out    string
		failed int64
	}{
		{strings.Replace(report, "Requests/sec:", "  Non-2xx or 3xx responses: 12\nRequests/sec:", 1), 12},
		{strings.Replace(report, "Requests/sec:", "  Socket errors: connect 1, read 3, write 0, timeout 5\nRequests/sec:", 1), 9},
	} {
		r, err := Parse(tt.out)
		if err != nil || r.Failed != tt.failed || r.Requests != 251234 {
			t.Errorf("Parse: %+v, %v; want %d failed of 251234", r, err, tt.failed)
		}
	}
	if r, err := Parse("Running 4s test @ http://127.0.0.1:1/\n"); err == nil {
		t.Errorf("Parse accepted %+v from a report without a rate", r)
	}
	r, _ := Parse(strings.Replace(report, "Requests/sec:", "  Non-2xx or 3xx responses: 125617\nRequests/sec:", 1))
	if got := r.GoodRPS(); got < 31404 || got > 31405 {
		t.Errorf("GoodRPS with half the answers failed: %v, want 31404.25", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"812.00us": 812 * time.Microsecond, "6.10ms": 6100 * time.Microsecond, "1.02s": 1020 * time.Millisecond, "2.00m": 2 * time.Minute} {
		if got := parseDuration(in); got != want {
			t.Errorf("%s: %v, want %v", in, got, want)
		}
	}
}

func TestRoundsReverseEveryOtherRound(t *testing.T) {
	var got []int
	if err := Rounds(3, 3, func(mode, round int) error { got = append(got, round*10+mode); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 1, 2, 12, 11, 10, 20, 21, 22}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

// The ratio of two modes is taken round by round, so a slow round (the
// box busy elsewhere) that hits both modes alike does not move it.
func TestMedianRatioPairsRounds(t *testing.T) {
	rs := func(rps ...float64) []Result {
		out := make([]Result, len(rps))
		for i, r := range rps {
			out[i].RPS = r
		}
		return out
	}
	if got := MedianRatio(rs(9500, 4750, 19000, 9600, 9400), rs(10000, 5000, 20000, 10000, 10000)); got != 0.95 {
		t.Errorf("median ratio %v, want 0.95", got)
	}
	// Rounds' ratios 0.5, 1 and 2: the median is 1.
	if got := MedianRatio(rs(5000, 10000, 10000), rs(10000, 10000, 5000)); got != 1 {
		t.Errorf("median ratio %v, want 1", got)
	}
}

// TestRunPathsAsksEachPathAndCountsFailures drives a server with a file of
// three paths, one of them answered 503: wrk asks all three and nothing
// else, and the 503s are counted, not fatal.
func TestRunPathsAsksEachPathAndCountsFailures(t *testing.T) {
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.RequestURI()]++
		mu.Unlock()
		if r.URL.Path == "/shed" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "paths")
	if err := os.WriteFile(file, []byte("/a?limit=50\n/b\n/shed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := RunPaths(context.Background(), srv.URL, file, 2, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen["/a?limit=50"] == 0 || seen["/b"] == 0 || seen["/shed"] == 0 {
		t.Errorf("paths asked: %v, want the file's three", seen)
	}
	if r.Failed == 0 || r.Failed < r.Requests/4 || r.Failed > r.Requests/2 {
		t.Errorf("%d of %d failed, want about a third (the /shed answers)", r.Failed, r.Requests)
	}
	if g := r.GoodRPS(); g <= 0 || g >= r.RPS {
		t.Errorf("GoodRPS %v of RPS %v: want the 2xx share", g, r.RPS)
	}
}

// RunAt holds the rate it is given, whatever the server could take: two
// rates, each seen by the server within 10% of rate × duration.
func TestRunAtHoldsTheRate(t *testing.T) {
	if err := Installed(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		mu.Unlock()
	}))
	defer srv.Close()
	for _, rate := range []float64{400, 2000} {
		mu.Lock()
		n = 0
		mu.Unlock()
		r, err := RunAt(context.Background(), srv.URL, 16, rate, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		seen := n
		mu.Unlock()
		if want := 2 * rate; float64(seen) < 0.9*want || float64(seen) > 1.1*want {
			t.Errorf("at %.0f/s for 2s the server saw %d requests, want about %.0f", rate, seen, want)
		}
		if r.RPS < 0.9*rate || r.RPS > 1.1*rate {
			t.Errorf("at %.0f/s wrk reports %.0f/s", rate, r.RPS)
		}
	}
}
