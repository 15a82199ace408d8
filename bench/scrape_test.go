package main

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP readsvc_page_loads_total Pages.
# TYPE readsvc_page_loads_total counter
readsvc_page_loads_total{source="redis"} 40
readsvc_page_loads_total{source="backfill"} 2
readsvc_page_loads_total{source="direct"} 3
readsvc_page_loads_total{source="cassandra"} 5
readsvc_http_requests_total{code="200",route="video_comments"} 1000
readsvc_http_requests_total{code="503",route="video_comments"} 7
readsvc_http_requests_total{code="304",route="video_comments"} 0
readsvc_cassandra_page_queries_total 1.5e1 1700000000000
readsvc_http_requests_total{code="200",route="comment"} 99
go_goroutines 12
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"labelled", m.sum("readsvc_page_loads_total", "source", "redis"), 40},
		{"all labels", m.sum("readsvc_page_loads_total"), 50},
		{"filtered code", m.sum("readsvc_http_requests_total", "code", "200"), 1099},
		{"two filters", m.sum("readsvc_http_requests_total", "route", "video_comments", "code", "200"), 1000},
		{"unlabelled with timestamp", m.sum("readsvc_cassandra_page_queries_total"), 15},
		{"plain", m.sum("go_goroutines"), 12},
		{"missing", m.sum("nope"), 0},
		{"prefix is not a match", m.sum("readsvc_page_loads"), 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	t.Run("tiers", func(t *testing.T) {
		before := metrics{`readsvc_page_loads_total{source="redis"}`: 10}
		tf := tiersFrom(m.minus(before))
		want := tierFigures{Requests: 1000, Groupcache: 960, Redis: 30, Backfill: 2, Cassandra: 8, Queries: 15}
		if tf != want {
			t.Errorf("got %+v, want %+v", tf, want)
		}
	})
	t.Run("bad value", func(t *testing.T) {
		if _, err := parseMetrics(strings.NewReader("x{a=\"b\"} notanumber\n")); err == nil {
			t.Error("accepted")
		}
	})
}

func TestGCFigures(t *testing.T) {
	before := metrics{"process_cpu_seconds_total": 10, "go_cpu_classes_gc_total_cpu_seconds_total": 1, "go_gc_duration_seconds_count": 5}
	after := metrics{"process_cpu_seconds_total": 30, "go_cpu_classes_gc_total_cpu_seconds_total": 6, "go_gc_duration_seconds_count": 45, "go_memstats_heap_inuse_bytes": 96 << 20}
	got := gcFigures(after, after.minus(before))
	for i, want := range []float64{25, 40, 96} {
		if got[i].Value != want {
			t.Errorf("%s = %v, want %v", got[i].Name, got[i].Value, want)
		}
	}
	if z := gcFigures(metrics{}, metrics{}); z[0].Value != 0 {
		t.Errorf("no CPU spent: share %v, want 0", z[0].Value)
	}
}
