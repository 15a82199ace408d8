package wrk

import (
	"slices"
	"strings"
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

func TestParseRefusesErrors(t *testing.T) {
	for _, bad := range []string{
		strings.Replace(report, "Requests/sec:", "  Non-2xx or 3xx responses: 12\nRequests/sec:", 1),
		strings.Replace(report, "Requests/sec:", "  Socket errors: connect 0, read 3, write 0, timeout 0\nRequests/sec:", 1),
		"Running 4s test @ http://127.0.0.1:1/\n",
	} {
		if r, err := Parse(bad); err == nil {
			t.Errorf("Parse accepted %+v from\n%s", r, bad)
		}
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
