package consumer

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
	"github.com/vidcomments/vidcomments/internal/cpustat"
	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/syncer/readmodel"
	"github.com/vidcomments/vidcomments/syncer/synctest"
)

// The writes of the bare loop: per event, what the syncer writes for it.
const (
	bareByID = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	bareByVideo = `INSERT INTO comments_by_video (video_id, bucket, id, user_id, parent_id, content, created_at, like_count, reply_count, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ?`
	bareDelete = `DELETE FROM comments_by_video USING TIMESTAMP ? WHERE video_id = ? AND bucket = ? AND id = ?`
)

// BenchmarkSyncerVersusBareLoop compares, in one run against the real
// stack, the events per second the syncer makes durable (Kafka in, Cassandra
// writes, recounts, Redis settles, offsets) with a bare gocql loop doing the
// same two data writes per event and nothing else, with as many workers as
// the syncer can have writes in flight (three rounds taking turns with the
// syncer; medians; "ratio" is the goal's figure). For context it also
// reports the bare loop with 32 workers and with one. Around each phase it
// measures the CPU time of the stack's servers (internal/cpustat), the
// per-core figures of docs/capacity.md: events applied by the syncer per
// Cassandra CPU-second (and the bare loop's per Cassandra CPU-second),
// events published and consumed per Kafka broker CPU-second, and events
// settled per redis-server CPU-second. Not part of `make test`:
//
//	go test ./syncer/consumer -run '^$' -bench SyncerVersusBareLoop -benchtime 1x -v
func BenchmarkSyncerVersusBareLoop(b *testing.B) {
	// Live traffic: comments made within the last two hours, so a batch's
	// events share partitions (video, hour).
	const n, hours = 20_000, 2
	videos := synctest.RandomVideos(50)
	b.Run("moderation", func(b *testing.B) {
		// 4,000 comments created, approved, rejected, edited, deleted: a
		// batch often holds several versions of one comment.
		stream := synctest.NewStream(99, videos, 4000, hours)
		evs := make([]comment.Event, n)
		for i := range evs {
			evs[i] = stream.Next()
		}
		compareWithBareLoop(b, evs)
	})
	b.Run("new comments", func(b *testing.B) {
		// Every event a new comment: nothing for the syncer to coalesce.
		compareWithBareLoop(b, synctest.Fresh(98, videos, n, hours))
	})
}

// benchPartitions is the topic's partition count: the syncer runs one
// pipeline per partition, each with up to DefaultConcurrency writes in
// flight, so the bare loop gets as many workers as the syncer can have
// writes in flight.
const benchPartitions = 8

// serverMeters are the stack's servers the syncer benchmark measures.
type serverMeters struct {
	cassandra, kafka, redis cpustat.Process
}

func stackServers(b *testing.B) serverMeters {
	b.Helper()
	var m serverMeters
	for _, s := range []struct {
		name string
		p    *cpustat.Process
	}{{"cassandra", &m.cassandra}, {"kafka", &m.kafka}, {"redis", &m.redis}} {
		p, err := cpustat.Server(s.name)
		if err != nil {
			b.Fatal(err)
		}
		*s.p = p
	}
	return m
}

// around measures the CPU time meters' processes use while f runs.
func around(b *testing.B, f func(), meters ...*cpustat.Meter) {
	b.Helper()
	if err := cpustat.Around(f, meters...); err != nil {
		b.Fatal(err)
	}
}

func compareWithBareLoop(b *testing.B, evs []comment.Event) {
	srv := stackServers(b)
	k := stacktest.NewKafka(b, benchPartitions)
	p := synctest.NewProducer(b, k.Config.Brokers)
	produced := cpustat.NewMeter(srv.kafka)
	around(b, func() {
		for _, e := range evs {
			p.Send(k.Config.Topic, synctest.EventMessage(b, e))
		}
		p.Close(b)
	}, produced)
	workers := benchPartitions * readmodel.DefaultConcurrency

	for range b.N {
		// The machine is shared and its load drifts: the syncer and the
		// concurrent loop take turns, three rounds, and the medians count.
		var syncers, pars, ratios []float64
		syncCass, syncKafka, syncRedis, bareCass := cpustat.NewMeter(srv.cassandra), cpustat.NewMeter(srv.kafka), cpustat.NewMeter(srv.redis), cpustat.NewMeter(srv.cassandra)
		for range 3 {
			par := bareLoop(b, evs, workers, bareCass)
			syncer := runSyncer(b, k, evs, syncCass, syncKafka, syncRedis)
			pars, syncers, ratios = append(pars, par), append(syncers, syncer), append(ratios, syncer/par)
			b.Logf("round: syncer %.0f events/s, bare loop with %d workers %.0f events/s, ratio %.2f", syncer, workers, par, syncer/par)
		}
		par32 := bareLoop(b, evs, readmodel.DefaultConcurrency, nil)
		seq := bareLoop(b, evs[:len(evs)/10], 1, nil) // a tenth: one write at a time is slow
		b.ReportMetric(median(syncers), "syncer_events/s")
		b.ReportMetric(median(pars), "bare_events/s")
		b.ReportMetric(median(ratios), "ratio")
		b.ReportMetric(par32, "bare32_events/s")
		b.ReportMetric(seq, "bare1_events/s")
		n, applied := float64(len(evs)), 3*float64(len(evs))
		b.ReportMetric(syncCass.PerCPUSecond(applied), "syncer_events/cassandra-cpu-s")
		b.ReportMetric(bareCass.PerCPUSecond(applied), "bare_events/cassandra-cpu-s")
		b.ReportMetric(produced.PerCPUSecond(n), "published/kafka-cpu-s")
		b.ReportMetric(syncKafka.PerCPUSecond(applied), "consumed/kafka-cpu-s")
		b.ReportMetric((n+applied)/(produced.Total()+syncKafka.Total()).Seconds(), "published+consumed/kafka-cpu-s")
		b.ReportMetric(syncRedis.PerCPUSecond(applied), "settled/redis-cpu-s")
		b.Logf("per-core: syncer %.0f events per Cassandra CPU-second (%.2f CPU-s for %.0f events; bare loop %.0f per Cassandra CPU-second, %.2f CPU-s); Kafka broker: %.0f published per CPU-second (%.2f CPU-s for %.0f), %.0f consumed per CPU-second (%.2f CPU-s for %.0f); redis-server %.0f events settled per CPU-second (%.2f CPU-s); %s, %s, %s",
			syncCass.PerCPUSecond(applied), syncCass.Total().Seconds(), applied, bareCass.PerCPUSecond(applied), bareCass.Total().Seconds(),
			produced.PerCPUSecond(n), produced.Total().Seconds(), n, syncKafka.PerCPUSecond(applied), syncKafka.Total().Seconds(), applied,
			syncRedis.PerCPUSecond(applied), syncRedis.Total().Seconds(), srv.cassandra, srv.kafka, srv.redis)
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// runSyncer applies the topic with a fresh group and keyspace and returns
// events per second from the first applied batch to the last. meters
// measure from the syncer's start (after the keyspace is made) to the last
// applied event.
func runSyncer(b *testing.B, k *stacktest.Kafka, evs []comment.Event, meters ...*cpustat.Meter) float64 {
	b.Helper()
	e := &env{kafka: k, cass: stacktest.NewCassandra(b), dlq: k.Config.Topic + ".dlq"}
	settle := cache(b)
	for _, m := range meters {
		if err := m.Start(); err != nil {
			b.Fatal(err)
		}
	}
	g := e.start(b, stacktest.Name("bench"), settle, e.cass)
	var first time.Time
	for {
		n := value(b, g.h.m.applied)
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if n >= float64(len(evs)) {
			break
		}
		time.Sleep(2 * time.Millisecond) // polling a counter, not waiting for a condition to hold
	}
	elapsed := time.Since(first)
	for _, m := range meters {
		if err := m.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	if err := g.Close(); err != nil {
		b.Fatal(err)
	}
	return float64(len(evs)) / elapsed.Seconds()
}

// bareLoop writes every event with workers goroutines into a fresh keyspace
// and returns events per second; cass (when not nil) measures Cassandra
// over the writes.
func bareLoop(b *testing.B, evs []comment.Event, workers int, cass *cpustat.Meter) float64 {
	b.Helper()
	s := stacktest.NewCassandra(b).Session
	if cass != nil {
		if err := cass.Start(); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := cass.Stop(); err != nil {
				b.Fatal(err)
			}
		}()
	}
	ctx := context.Background()
	write := func(e comment.Event) error {
		c := e.Comment
		bucket := comment.Bucket(c.ID)
		if err := s.Query(bareByID, c.ID, c.VideoID, c.UserID, c.ParentID, c.Content, string(c.Status), c.CreatedAt,
			c.LikeCount, int32(c.ReplyCount), c.Version, e.Version).ExecContext(ctx); err != nil {
			return err
		}
		var q *gocql.Query
		if c.Status.Visible() {
			q = s.Query(bareByVideo, c.VideoID, bucket, c.ID, c.UserID, c.ParentID, c.Content, c.CreatedAt,
				c.LikeCount, int32(c.ReplyCount), c.Version, e.Version)
		} else {
			q = s.Query(bareDelete, e.Version, c.VideoID, bucket, c.ID)
		}
		return q.ExecContext(ctx)
	}
	start := time.Now()
	next := make(chan comment.Event)
	var wg sync.WaitGroup
	var once sync.Once
	var failed error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				if err := write(e); err != nil {
					once.Do(func() { failed = err })
				}
			}
		}()
	}
	for _, e := range evs {
		next <- e
	}
	close(next)
	wg.Wait()
	if failed != nil {
		b.Fatal(failed)
	}
	return float64(len(evs)) / time.Since(start).Seconds()
}
