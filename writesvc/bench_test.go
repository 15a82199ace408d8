package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/auth"
	"github.com/vidcomments/vidcomments/internal/cpustat"
	"github.com/vidcomments/vidcomments/internal/stores/mysqlstore"
	"github.com/vidcomments/vidcomments/writesvc/store"
)

// benchConcurrency is the number of concurrent clients in both loops.
const benchConcurrency = 64

// BenchmarkAcceptComments measures accepted comments per second through
// the whole write path — HTTP, JWT, validation, the Redis rate limiter,
// the node lease, one MySQL transaction with the outbox row, while the
// relay publishes to Kafka — at concurrency 64, beside a bare loop running
// the same transaction (BEGIN, the same INSERT, COMMIT) through the same
// driver at the same concurrency, in the same run against the same MariaDB. It needs the local stack; it is
// not part of `make test` (benchmarks only run with -bench):
//
//	go test -run '^$' -bench AcceptComments -benchtime 5000x ./writesvc/
//
// b.N is the number of comments in each loop; the loops alternate in five
// rounds. Around each loop it measures the CPU time of the stack's servers
// (internal/cpustat): accepted comments per mariadbd CPU-second (and the
// bare transaction's), per redis-server CPU-second (the rate limiter) and
// per Kafka broker CPU-second (the relay publishing, measured until the
// outbox is sent) — the per-core figures of docs/capacity.md.
func BenchmarkAcceptComments(b *testing.B) {
	servers := map[string]cpustat.Process{}
	for _, name := range []string{"mariadb", "redis", "kafka"} {
		p, err := cpustat.Server(name)
		if err != nil {
			b.Fatal(err)
		}
		servers[name] = p
	}
	apiMySQL, apiRedis, apiKafka := cpustat.NewMeter(servers["mariadb"]), cpustat.NewMeter(servers["redis"]), cpustat.NewMeter(servers["kafka"])
	bareMySQL := cpustat.NewMeter(servers["mariadb"])
	measure := func(f func(), meters ...*cpustat.Meter) {
		if err := cpustat.Around(f, meters...); err != nil {
			b.Fatal(err)
		}
	}
	st := newStack(b)
	cfg := st.config(b, func(c *Config) { c.RateLimit, c.RateLimitBurst = 1_000_000, 1_000_000 })
	in := start(b, cfg, overrides{})
	ctx := context.Background()
	var err error
	bare := st.my.Config // the driver settings writesvc uses
	if bare.DSN, err = store.TuneDSN(bare.DSN); err != nil {
		b.Fatal(err)
	}
	db, err := mysqlstore.Open(ctx, bare)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	tokens := make([]string, benchConcurrency)
	for i := range tokens {
		tokens[i] = token(b, int64(10_000+i), auth.RoleUser)
	}
	b.ResetTimer()

	// The bare loop runs writesvc's own transaction for a post — BEGIN, the
	// same INSERT (ban check included), COMMIT — through the same driver
	// settings, without HTTP, auth, validation, the rate limit or the id
	// lease around it.
	insert := func(worker int, i int64) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		now := time.Now().UTC()
		user := int64(10_000 + worker)
		if _, err := tx.ExecContext(ctx, store.InsertComment, 1<<50+i, 1+i%16, user, 0, fmt.Sprintf("bare insert %d", i), "pending",
			nil, nil, now, now, now.UnixMicro(), "allow", "", "", user); err != nil {
			return err
		}
		return tx.Commit()
	}
	body := func(i int64) []byte { return fmt.Appendf(nil, `{"content":"benchmark comment number %d"}`, i) }
	post := func(worker int, i int64) error {
		r, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/videos/%d/comments", in.api, 1+i%16), bytes.NewReader(body(i)))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+tokens[worker])
		resp, err := in.client.Do(r)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("post answered %d", resp.StatusCode)
		}
		return nil
	}
	// The two loops alternate in rounds, so that load from elsewhere on the
	// machine falls on both alike.
	var insertTime, apiTime time.Duration
	var insertLat, apiLat []time.Duration
	const rounds = 5
	for round := range rounds {
		n := b.N / rounds
		if round == rounds-1 {
			n = b.N - n*(rounds-1)
		}
		if n == 0 {
			continue
		}
		first := int64(round * (b.N / rounds))
		var d time.Duration
		var lat []time.Duration
		measure(func() { d, lat = runLoop(b, first, n, insert) }, bareMySQL)
		insertTime, insertLat = insertTime+d, append(insertLat, lat...)
		// Kafka's meter runs on until the relay has published every
		// outbox row: the broker's CPU per event published.
		measure(func() {
			measure(func() { d, lat = runLoop(b, first, n, post) }, apiMySQL, apiRedis)
			waitFor(b, time.Minute, "the relay publishes the outbox", func() bool {
				return st.count(b, `SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL`) == 0
			})
		}, apiKafka)
		apiTime, apiLat = apiTime+d, append(apiLat, lat...)
	}
	insertRate := float64(b.N) / insertTime.Seconds()
	apiRate := float64(b.N) / apiTime.Seconds()
	b.StopTimer()

	b.ReportMetric(apiRate, "accepted/s")
	b.ReportMetric(insertRate, "inserts/s")
	b.ReportMetric(apiRate/insertRate, "ratio")
	b.ReportMetric(ms(percentile(apiLat, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(apiLat, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(insertLat, 50)), "insert-p50-ms")
	b.ReportMetric(ms(percentile(insertLat, 99)), "insert-p99-ms")
	n := float64(b.N)
	b.ReportMetric(apiMySQL.PerCPUSecond(n), "accepted/mariadb-cpu-s")
	b.ReportMetric(bareMySQL.PerCPUSecond(n), "inserts/mariadb-cpu-s")
	b.ReportMetric(apiRedis.PerCPUSecond(n), "accepted/redis-cpu-s")
	b.ReportMetric(apiKafka.PerCPUSecond(n), "published/kafka-cpu-s")
	if b.N >= 1000 {
		b.Logf("N=%d concurrency=%d: accepted %.0f/s (p50 %.2fms p99 %.2fms); bare transaction %.0f/s (p50 %.2fms p99 %.2fms); ratio %.2f",
			b.N, benchConcurrency, apiRate, ms(percentile(apiLat, 50)), ms(percentile(apiLat, 99)),
			insertRate, ms(percentile(insertLat, 50)), ms(percentile(insertLat, 99)), apiRate/insertRate)
		b.Logf("per-core: accepted %.0f per mariadbd CPU-second (%.2f CPU-s, %s), bare transaction %.0f per mariadbd CPU-second (%.2f CPU-s); during the accepted loops redis-server %.2f CPU-s (%.0f comments per CPU-second: the rate limiter), Kafka broker %.2f CPU-s (%.0f events published by the relay per CPU-second, until the outbox was sent)",
			apiMySQL.PerCPUSecond(n), apiMySQL.Total().Seconds(), servers["mariadb"], bareMySQL.PerCPUSecond(n), bareMySQL.Total().Seconds(),
			apiRedis.Total().Seconds(), apiRedis.PerCPUSecond(n), apiKafka.Total().Seconds(), apiKafka.PerCPUSecond(n))
	}
	b.StartTimer()
}

// runLoop runs op for ids first..first+n-1 over benchConcurrency workers
// and returns the time taken and each op's latency.
func runLoop(b *testing.B, first int64, n int, op func(worker int, i int64) error) (time.Duration, []time.Duration) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for w := range benchConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				t0 := time.Now()
				if err := op(w, first+i); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	return elapsed, lat
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
