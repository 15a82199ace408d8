package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/vidcomments/vidcomments/internal/wrk"
	"github.com/vidcomments/vidcomments/readsvc/internal/readtest"
)

// BenchmarkHotPageHalfRate is the latency half of issue #16's hot-page
// goal: the p99 of readsvc at half of the static handler's maximum rate,
// against the static handler's p99 at the same rate (goal ≤ 1.2×).
//
// The maximum is wrk's (closed loop, as in BenchmarkHotPageWrk); the
// half-rate runs are vegeta's, an open-loop generator that sends at a fixed
// rate whatever the server does, so a slow answer cannot slow the sending
// and hide its own latency (coordinated omission). As wrk does, vegeta
// runs on a CPU of its own (wrk.SplitCPUs): this test binary starts itself
// again as the generator (TestVegetaAttackProcess) behind taskset, while
// the handlers stay in this process on the other CPUs. A run whose achieved
// rate falls short of the target by more than 5% is marked: the generator,
// not the server, set its pace. Modes take turns for rounds rounds;
// medians are reported. Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPageHalfRate -benchtime 1x
func BenchmarkHotPageHalfRate(b *testing.B) {
	placement := splitCPUs(b)
	st := readtest.NewStack(b)
	video := seedLiked(b, st, 200)
	r := st.NewReader(readtest.Config{})
	timePath, hotPath := readtest.PagePath(video, "limit=20"), readtest.PagePath(video, "limit=20&sort=hot")
	staticTime, _ := staticPage(b, r, timePath)
	defer staticTime.Close()
	staticHot, _ := staticPage(b, r, hotPath)
	defer staticHot.Close()

	const (
		rounds = 3
		conns  = 64
		maxFor = 4 * time.Second
		each   = 4 * time.Second
	)
	// The static handlers' maximum rates, each the median of rounds wrk runs.
	maxOf := func(url string) float64 {
		rps := make([]float64, rounds)
		for i := range rps {
			rps[i] = runWrk(b, url, conns, maxFor).RPS
		}
		slices.Sort(rps)
		return rps[len(rps)/2]
	}
	timeMax, hotMax := maxOf(staticTime.URL+timePath), maxOf(staticHot.URL+hotPath)
	null := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Length"] = []string{"0"}
	}))
	defer null.Close()

	modes := []struct {
		name, url string
		rate      float64
	}{
		{"null", null.URL + "/", timeMax / 2}, // the generator's own p99 at that rate
		{"static", staticTime.URL + timePath, timeMax / 2},
		{"readsvc", r.Server.URL + timePath, timeMax / 2},
		{"static-hot", staticHot.URL + hotPath, hotMax / 2},
		{"readsvc-hot", r.Server.URL + hotPath, hotMax / 2},
	}
	runs := make([][]vegeta.Metrics, len(modes))
	for range b.N {
		for range rounds {
			for i, m := range modes {
				runs[i] = append(runs[i], attackAt(b, m.url, m.rate, conns, each))
			}
		}
	}
	medP99 := func(i int) time.Duration {
		ps := make([]time.Duration, len(runs[i]))
		for j, x := range runs[i] {
			ps[j] = x.Latencies.P99
		}
		slices.Sort(ps)
		return ps[len(ps)/2]
	}
	var lines []string
	for i, m := range modes {
		line := fmt.Sprintf("%-12s at %6.0f req/s: p99 %-10v (rounds:", m.name, m.rate, medP99(i))
		short, failed := false, 0.0
		for _, x := range runs[i] {
			line += fmt.Sprintf(" %v@%.0f", x.Latencies.P99.Round(10*time.Microsecond), x.Rate)
			short = short || x.Rate < 0.95*m.rate
			failed = max(failed, 1-x.Success)
		}
		line += ")"
		if short {
			line += "  GENERATOR-BOUND: a round fell >5% short of the target rate, not a figure"
		}
		if failed > 0 {
			line += fmt.Sprintf("  SATURATED: up to %.1f%% of a round's requests failed or timed out (generator and server share the cores), not a figure", 100*failed)
		}
		lines = append(lines, line)
		b.ReportMetric(float64(medP99(i).Microseconds())/1000, m.name+"-p99-ms")
	}
	ratio := func(a, s int) float64 { return float64(medP99(a)) / float64(medP99(s)) }
	b.ReportMetric(ratio(2, 1), "readsvc/static-p99")
	b.ReportMetric(ratio(4, 3), "readsvc-hot/static-hot-p99")
	b.ReportMetric(0, "ns/op")
	b.Logf("%s; max (wrk -t1 -c%d -d%v, median of %d): static %.0f, static-hot %.0f req/s; half-rate runs: vegeta, %v each, %d rounds interleaved, medians\n%s\nreadsvc/static p99 %.2f (goal <= 1.2) | readsvc-hot/static-hot p99 %.2f (goal <= 1.2)",
		placement, conns, maxFor, rounds, timeMax, hotMax, each, rounds, strings.Join(lines, "\n"), ratio(2, 1), ratio(4, 3))
}

// An attack is what the generator process is asked to do.
type attack struct {
	URL   string
	Rate  float64
	Conns int
	For   time.Duration
}

const attackEnv = "VC_VEGETA_ATTACK"

// attackAt sends GET url at a fixed rate for d over at most conns
// connections, from a generator process on the generator's CPUs, and
// returns vegeta's figures. Failed requests (timeouts of a saturated box)
// are counted, not fatal: the report marks them; an answer other than 200
// or a timeout is a defect and fails the run.
func attackAt(b *testing.B, url string, rate float64, conns int, d time.Duration) vegeta.Metrics {
	b.Helper()
	spec, err := json.Marshal(attack{URL: url, Rate: rate, Conns: conns, For: d})
	if err != nil {
		b.Fatal(err)
	}
	argv := wrk.OnGenerator(os.Args[0], "-test.run=^TestVegetaAttackProcess$", "-test.count=1")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), attackEnv+"="+string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("vegeta %s at %.0f/s: %v\n%s", url, rate, err, stderr.String())
	}
	var m vegeta.Metrics
	_, body, _ := bytes.Cut(out, []byte(attackEnv+"\n")) // after the marker: the test runner prints too
	body, _, _ = bytes.Cut(body, []byte("\n"))
	if err := json.Unmarshal(body, &m); err != nil {
		b.Fatalf("vegeta %s: the generator's answer %q: %v", url, out, err)
	}
	for code := range m.StatusCodes {
		if code != "200" && code != "0" { // 0: no answer within the timeout
			b.Fatalf("vegeta %s at %.0f/s: status codes %v, errors %v", url, rate, m.StatusCodes, firstOf(m.Errors, 3))
		}
	}
	return m
}

// TestVegetaAttackProcess is the generator process of attackAt, and does
// nothing in a plain test run.
func TestVegetaAttackProcess(t *testing.T) {
	spec := os.Getenv(attackEnv)
	if spec == "" {
		return // not started by attackAt
	}
	var a attack
	if err := json.Unmarshal([]byte(spec), &a); err != nil {
		t.Fatal(err)
	}
	targeter := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: a.URL})
	attacker := vegeta.NewAttacker(vegeta.Connections(a.Conns), vegeta.MaxConnections(a.Conns),
		vegeta.Workers(uint64(a.Conns)), vegeta.Timeout(5*time.Second))
	var m vegeta.Metrics
	for res := range attacker.Attack(targeter, vegeta.ConstantPacer{Freq: int(a.Rate), Per: time.Second}, a.For, "") {
		m.Add(res)
	}
	m.Close()
	attacker.Stop()
	out, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s\n%s\n", attackEnv, out)
	// A generator process: its idle client connections are no leak of
	// the package under test, and goleak (TestMain) must not fail the run.
	os.Exit(0)
}

func firstOf(xs []string, n int) []string { return xs[:min(n, len(xs))] }
