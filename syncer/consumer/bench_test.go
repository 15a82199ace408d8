package consumer

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/vidcomments/vidcomments/internal/comment"
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
// reports the bare loop with 32 workers and with one. Not part of `make test`:
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

func compareWithBareLoop(b *testing.B, evs []comment.Event) {
	k := stacktest.NewKafka(b, benchPartitions)
	p := synctest.NewProducer(b, k.Config.Brokers)
	for _, e := range evs {
		p.Send(k.Config.Topic, synctest.EventMessage(b, e))
	}
	p.Close(b)
	workers := benchPartitions * readmodel.DefaultConcurrency

	for range b.N {
		// The machine is shared and its load drifts: the syncer and the
		// concurrent loop take turns, three rounds, and the medians count.
		var syncers, pars, ratios []float64
		for range 3 {
			par := bareLoop(b, evs, workers)
			syncer := runSyncer(b, k, evs)
			pars, syncers, ratios = append(pars, par), append(syncers, syncer), append(ratios, syncer/par)
			b.Logf("round: syncer %.0f events/s, bare loop with %d workers %.0f events/s, ratio %.2f", syncer, workers, par, syncer/par)
		}
		par32 := bareLoop(b, evs, readmodel.DefaultConcurrency)
		seq := bareLoop(b, evs[:len(evs)/10], 1) // a tenth: one write at a time is slow
		b.ReportMetric(median(syncers), "syncer_events/s")
		b.ReportMetric(median(pars), "bare_events/s")
		b.ReportMetric(median(ratios), "ratio")
		b.ReportMetric(par32, "bare32_events/s")
		b.ReportMetric(seq, "bare1_events/s")
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// runSyncer applies the topic with a fresh group and keyspace and returns
// events per second from the first applied batch to the last.
func runSyncer(b *testing.B, k *stacktest.Kafka, evs []comment.Event) float64 {
	b.Helper()
	e := &env{kafka: k, cass: stacktest.NewCassandra(b), dlq: k.Config.Topic + ".dlq"}
	g := e.start(b, stacktest.Name("bench"), cache(b), e.cass)
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
	if err := g.Close(); err != nil {
		b.Fatal(err)
	}
	return float64(len(evs)) / elapsed.Seconds()
}

// bareLoop writes every event with workers goroutines into a fresh keyspace
// and returns events per second.
func bareLoop(b *testing.B, evs []comment.Event, workers int) float64 {
	b.Helper()
	s := stacktest.NewCassandra(b).Session
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
