package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// metrics is one scrape of a Prometheus text exposition: series (name plus
// its label set exactly as exposed) → value.
type metrics map[string]float64

// parseMetrics reads the text format: comments and blank lines skipped,
// "name{labels} value [timestamp]" or "name value".
func parseMetrics(r io.Reader) (metrics, error) {
	m := metrics{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		var series, rest string
		if i := strings.IndexByte(line, '}'); i >= 0 && strings.IndexByte(line, '{') >= 0 && strings.IndexByte(line, '{') < i {
			series, rest = line[:i+1], strings.TrimSpace(line[i+1:])
		} else {
			f := strings.Fields(line)
			if len(f) < 2 {
				return nil, fmt.Errorf("metrics line %q: no value", line)
			}
			series, rest = f[0], strings.Join(f[1:], " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		m[series] = v
	}
	return m, sc.Err()
}

// sum adds every series of name whose labels include each of want
// (label=value pairs).
func (m metrics) sum(name string, want ...string) float64 {
	total := 0.0
	for series, v := range m {
		n, labels, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(want); i += 2 {
			if !strings.Contains(labels, want[i]+`="`+want[i+1]+`"`) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// minus is m − before, series by series (counters between two scrapes).
func (m metrics) minus(before metrics) metrics {
	d := metrics{}
	for k, v := range m {
		d[k] = v - before[k]
	}
	return d
}

// scrape fetches and parses url.
func scrape(ctx context.Context, c *http.Client, url string) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: status %d", url, resp.StatusCode)
	}
	return parseMetrics(resp.Body)
}

// tierFigures turns the counter deltas of one readsvc run into tier shares.
// A page request that built no page was a groupcache hit; a page load from
// Redis is a Redis hit; backfill, past-window and direct loads touched
// Cassandra.
type tierFigures struct {
	Requests, Groupcache, Redis, Backfill, Cassandra, Queries float64
}

func tiersFrom(d metrics) tierFigures {
	t := tierFigures{
		Requests:  d.sum("readsvc_http_requests_total", "route", "video_comments", "code", "200") + d.sum("readsvc_http_requests_total", "route", "video_comments", "code", "304"),
		Redis:     d.sum("readsvc_page_loads_total", "source", "redis"),
		Backfill:  d.sum("readsvc_page_loads_total", "source", "backfill"),
		Cassandra: d.sum("readsvc_page_loads_total", "source", "cassandra") + d.sum("readsvc_page_loads_total", "source", "direct"),
		Queries:   d.sum("readsvc_cassandra_page_queries_total"),
	}
	t.Groupcache = max(t.Requests-t.Redis-t.Backfill-t.Cassandra, 0)
	return t
}
