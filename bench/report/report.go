// Package report writes a benchmark run as one directory: report.json (every
// figure), report.md (tables and ratios against their goals) and PNG plots
// (latency against offered rate per mode, cache-tier shares).
package report

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/vidcomments/vidcomments/bench/load"
)

// Report is one benchmark run.
type Report struct {
	Title     string        `json:"title"`
	Generated time.Time     `json:"generated"`
	Command   string        `json:"command"`
	Machine   Machine       `json:"machine"`
	Notes     []string      `json:"notes,omitempty"`
	Modes     []Mode        `json:"modes"`
	Ratios    []Ratio       `json:"ratios"`
	Tiers     []Tier        `json:"tiers,omitempty"`
	Latencies []Latency     `json:"latencies,omitempty"`
	Extra     []NamedFigure `json:"extra,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
}

// ThisMachine describes the running machine.
func ThisMachine() Machine {
	return Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
}

// Mode is one target driven through a ramp of offered rates.
type Mode struct {
	Name    string        `json:"name"`
	Steps   []load.Result `json:"steps"`
	BestRPS float64       `json:"best_rps"` // highest achieved rate whose step met the p99 target
	// LatencyFloor: the mode missed the p99 target at its first rate with
	// few errors, so BestRPS is its highest rate with < 1% errors or
	// unsent requests, whatever its p99.
	LatencyFloor bool `json:"latency_floor,omitempty"`
}

// Ratio is a figure compared with its goal.
type Ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Goal   float64 `json:"goal"`
	Higher bool    `json:"higher_is_better"`
	Unit   string  `json:"unit,omitempty"`
	Detail string  `json:"detail,omitempty"`
	// GeneratorBound: a throughput measured within 10% of the load
	// generator's own ceiling in the same run. What it shows is the
	// generator, so the ratio is never met, whatever its value.
	GeneratorBound bool `json:"generator_bound,omitempty"`
}

// Met reports whether the ratio reaches its goal.
func (r Ratio) Met() bool {
	if r.GeneratorBound {
		return false
	}
	if r.Higher {
		return r.Value >= r.Goal
	}
	return r.Value <= r.Goal
}

// Tier is how one mode's requests were served, from the services' metrics.
type Tier struct {
	Mode               string  `json:"mode"`
	Requests           float64 `json:"requests"`
	GroupcachePct      float64 `json:"groupcache_pct"`
	RedisPct           float64 `json:"redis_pct"`
	CassandraPct       float64 `json:"cassandra_pct"`
	Backfills          float64 `json:"backfills"`
	CassandraPer1000   float64 `json:"cassandra_queries_per_1000"`
	WithoutCassandraPc float64 `json:"without_cassandra_pct"`
}

// Latency is a distribution of an end-to-end delay (post→visible, …) in ms.
type Latency struct {
	Name string  `json:"name"`
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	Max  float64 `json:"max_ms"`
}

// NewLatency summarises samples (any order).
func NewLatency(name string, samples []time.Duration) Latency {
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	l := Latency{Name: name, N: len(s)}
	if len(s) == 0 {
		return l
	}
	q := func(p float64) float64 {
		i := int(p*float64(len(s))+0.5) - 1
		if i < 0 {
			i = 0
		}
		if i >= len(s) {
			i = len(s) - 1
		}
		return float64(s[i]) / float64(time.Millisecond)
	}
	l.P50, l.P90, l.P99, l.Max = q(0.50), q(0.90), q(0.99), float64(s[len(s)-1])/float64(time.Millisecond)
	return l
}

// NamedFigure is any other measured number worth keeping.
type NamedFigure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Write puts report.json, report.md and the plots into dir.
func (r *Report) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644); err != nil {
		return err
	}
	plots, err := r.plot(dir)
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(r.markdown(plots)), 0o644)
}

func (r *Report) markdown(plots []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", r.Title)
	fmt.Fprintf(&b, "Generated %s by `%s` on %d CPUs (%s, %s).\n\n", r.Generated.UTC().Format(time.RFC3339), r.Command, r.Machine.CPUs, r.Machine.OS, r.Machine.GoVersion)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	if len(r.Notes) > 0 {
		b.WriteString("\n")
	}
	if len(r.Ratios) > 0 {
		b.WriteString("## Goals\n\n| figure | measured | goal | met |\n| --- | ---: | ---: | :---: |\n")
		for _, x := range r.Ratios {
			cmp := "≤"
			if x.Higher {
				cmp = "≥"
			}
			met := "no"
			switch {
			case x.GeneratorBound:
				met = "no: generator-bound"
			case x.Met():
				met = "yes"
			}
			fmt.Fprintf(&b, "| %s | %.3g%s | %s %.3g%s | %s |\n", x.Name, x.Value, x.Unit, cmp, x.Goal, x.Unit, met)
		}
		b.WriteString("\n")
		for _, x := range r.Ratios {
			if x.Detail != "" {
				fmt.Fprintf(&b, "- %s: %s\n", x.Name, x.Detail)
			}
		}
		b.WriteString("\n")
	}
	if len(r.Modes) > 0 {
		b.WriteString("## Throughput and latency by mode\n\n| mode | offered/s | achieved/s | p50 ms | p99 ms | p99.9 ms | errors | unsent |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, m := range r.Modes {
			for _, s := range m.Steps {
				fmt.Fprintf(&b, "| %s | %.0f | %.0f | %.2f | %.2f | %.2f | %d | %d |\n", m.Name, s.Rate, s.Achieved, s.P50, s.P99, s.P999, s.Errors, s.Unsent)
			}
		}
		b.WriteString("\n| mode | best sustained rate/s |\n| --- | ---: |\n")
		for _, m := range r.Modes {
			fmt.Fprintf(&b, "| %s | %.0f |\n", m.Name, m.BestRPS)
		}
		b.WriteString("\n")
	}
	if len(r.Tiers) > 0 {
		b.WriteString("## Cache tiers\n\n| mode | requests | groupcache % | Redis % | Cassandra % | without Cassandra % | backfills | Cassandra queries / 1,000 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, t := range r.Tiers {
			fmt.Fprintf(&b, "| %s | %.0f | %.1f | %.1f | %.2f | %.2f | %.0f | %.2f |\n", t.Mode, t.Requests, t.GroupcachePct, t.RedisPct, t.CassandraPct, t.WithoutCassandraPc, t.Backfills, t.CassandraPer1000)
		}
		b.WriteString("\n")
	}
	if len(r.Latencies) > 0 {
		b.WriteString("## End-to-end delays\n\n| delay | samples | p50 ms | p90 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, l := range r.Latencies {
			fmt.Fprintf(&b, "| %s | %d | %.1f | %.1f | %.1f | %.1f |\n", l.Name, l.N, l.P50, l.P90, l.P99, l.Max)
		}
		b.WriteString("\n")
	}
	if len(r.Extra) > 0 {
		b.WriteString("## Other figures\n\n| figure | value |\n| --- | ---: |\n")
		for _, f := range r.Extra {
			fmt.Fprintf(&b, "| %s | %.4g %s |\n", f.Name, f.Value, f.Unit)
		}
		b.WriteString("\n")
	}
	for _, p := range plots {
		fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(p, ".png"), p)
	}
	return b.String()
}
