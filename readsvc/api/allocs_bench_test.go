package api_test

import (
	"runtime"
	"testing"
	"time"
)

// BenchmarkHotPageHTTPAllocs is what one hot-page request allocates through
// the whole HTTP stack (net/http's request, headers and buffers included),
// readsvc against the static handler serving the same bytes, under wrk:
// the figure that decides how often the collector runs once readsvc's
// caches fill its memory limit (BenchmarkHotPageHit counts readsvc's own
// code alone). Run it with
//
//	go test ./readsvc/api -run '^$' -bench HotPageHTTPAllocs -benchtime 1x
func BenchmarkHotPageHTTPAllocs(b *testing.B) {
	placement, r, timePath, hotPath := hotPageUnderWrk(b)
	staticTime, _ := staticPage(b, r, timePath)
	defer staticTime.Close()
	modes := []struct{ name, url string }{
		{"static", staticTime.URL + timePath},
		{"readsvc", r.Server.URL + timePath},
		{"readsvc-hot", r.Server.URL + hotPath},
	}
	const each = 4 * time.Second
	for range b.N {
		for _, m := range modes {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			res := runWrk(b, m.url, 64, each)
			runtime.ReadMemStats(&after)
			n := res.RPS * each.Seconds()
			bytes, allocs := float64(after.TotalAlloc-before.TotalAlloc)/n, float64(after.Mallocs-before.Mallocs)/n
			b.ReportMetric(bytes, m.name+"-B/req")
			b.ReportMetric(allocs, m.name+"-allocs/req")
			b.Logf("%-12s %8.0f req/s: %6.0f B and %5.1f allocations per request (%s)", m.name, res.RPS, bytes, allocs, placement)
		}
	}
	b.ReportMetric(0, "ns/op")
}
