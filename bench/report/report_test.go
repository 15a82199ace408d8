package report

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/bench/load"
)

func TestWriteProducesEveryFile(t *testing.T) {
	r := &Report{
		Title: "test", Generated: time.Unix(0, 0), Command: "go test", Machine: ThisMachine(),
		Modes:     []Mode{{Name: "static", BestRPS: 900, Steps: []load.Result{{Rate: 500, Achieved: 500, OK: 50, P50: 0.2, P99: 1}, {Rate: 1000, Achieved: 900, OK: 90, P50: 0.5, P99: 30}}}},
		Ratios:    []Ratio{{Name: "hot page vs static", Value: 0.93, Goal: 0.9, Higher: true}, {Name: "reject→gone p99", Value: 250, Goal: 200, Unit: " ms"}},
		Tiers:     []Tier{{Mode: "zipf", Requests: 1000, GroupcachePct: 90, RedisPct: 9.5, CassandraPct: 0.5}},
		Latencies: []Latency{NewLatency("post→visible", []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})},
	}
	dir := t.TempDir()
	if err := r.Write(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"| hot page vs static | 0.93 | ≥ 0.9 | yes |", "| reject→gone p99 | 250 ms | ≤ 200 ms | no |", "![latency](latency.png)", "| post→visible | 3 | 2.0 |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q\n%s", want, md)
		}
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &back); err != nil || back.Modes[0].BestRPS != 900 {
		t.Errorf("report.json: %v %+v", err, back.Modes)
	}
	for _, name := range []string{"latency.png", "tiers.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 100 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNewLatency(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := NewLatency("x", s)
	if l.N != 100 || l.P50 != 50 || l.P99 != 99 || l.Max != 100 {
		t.Errorf("%+v", l)
	}
	if NewLatency("empty", nil).N != 0 {
		t.Error("empty")
	}
}

func TestLastPerRate(t *testing.T) {
	tests := []struct {
		name  string
		steps []load.Result
		want  []float64 // p99 of the kept steps
	}{
		{"no retries", []load.Result{{Rate: 1, P99: 1}, {Rate: 2, P99: 2}}, []float64{1, 2}},
		{"retried step keeps the last attempt", []load.Result{{Rate: 1, P99: 1}, {Rate: 2, P99: 90}, {Rate: 2, P99: 3}, {Rate: 4, P99: 4}}, []float64{1, 3, 4}},
		{"empty", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []float64
			for _, s := range lastPerRate(tc.steps) {
				got = append(got, s.P99)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// A ratio taken at the generator's ceiling is never a pass, and the report
// says why.
func TestGeneratorBoundRatioIsNeverMet(t *testing.T) {
	r := Ratio{Name: "readsvc / static", Value: 1.0, Goal: 0.95, Higher: true}
	if !r.Met() {
		t.Fatal("1.0 ≥ 0.95 not met")
	}
	r.GeneratorBound = true
	if r.Met() {
		t.Fatal("a generator-bound ratio was met")
	}
	md := (&Report{Title: "t", Ratios: []Ratio{r}}).markdown(nil)
	if !strings.Contains(md, "| no: generator-bound |") {
		t.Errorf("markdown does not say generator-bound:\n%s", md)
	}
}
