package stacktest_test

// Round trips through each real server of the local stack, with the drivers
// and settings the services use. If one of these fails, nothing else can
// work: read these first when `make test` goes red.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/IBM/sarama"
	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/go-mysql-org/go-mysql/canal"
	"github.com/redis/go-redis/v9"

	"github.com/vidcomments/vidcomments/internal/stacktest"
	"github.com/vidcomments/vidcomments/internal/stores/kafkastore"
)

// rowCapture hands every row event of the watched table to a channel.
type rowCapture struct {
	canal.DummyEventHandler
	events chan *canal.RowsEvent
}

func (h *rowCapture) OnRow(e *canal.RowsEvent) error {
	h.events <- e
	return nil
}

func TestMariaDBBinlogRowEvents(t *testing.T) {
	my := stacktest.NewMySQL(t)
	addr, user, password := stacktest.MySQLAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	cfg := canal.NewDefaultConfig()
	cfg.Addr, cfg.User, cfg.Password = addr, user, password
	cfg.Flavor = "mariadb"
	cfg.ServerID = 9000 + uint32(time.Now().UnixNano()%1000) // must differ from the server's and other listeners'
	cfg.Dump.ExecutionPath = ""                              // no mysqldump: binlog only
	cfg.IncludeTableRegex = []string{my.Name + `\.comments`}
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := canal.NewCanal(cfg)
	if err != nil {
		t.Fatalf("canal: %v", err)
	}
	h := &rowCapture{events: make(chan *canal.RowsEvent, 16)}
	c.SetEventHandler(h)
	pos, err := c.GetMasterPos()
	if err != nil {
		t.Fatalf("master position: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- c.RunFrom(pos) }()
	defer func() {
		c.Close()
		<-done
	}()

	const insert = `INSERT INTO comments (id, video_id, user_id, content, status, created_at, updated_at, version)
		VALUES (?, 7, 42, 'first!', 'pending', NOW(6), NOW(6), 1)`
	if _, err := my.DB.ExecContext(ctx, insert, 1001); err != nil {
		t.Fatal(err)
	}
	if _, err := my.DB.ExecContext(ctx, `UPDATE comments SET status = 'approved' WHERE id = ?`, 1001); err != nil {
		t.Fatal(err)
	}

	next := func(want string) *canal.RowsEvent {
		t.Helper()
		select {
		case e := <-h.events:
			if e.Action != want {
				t.Fatalf("got %s event, want %s", e.Action, want)
			}
			return e
		case <-ctx.Done():
			t.Fatalf("no %s event within the deadline", want)
		}
		return nil
	}
	col := func(e *canal.RowsEvent, row int, name string) any {
		t.Helper()
		i := e.Table.FindColumn(name)
		if i < 0 {
			t.Fatalf("column %s not in the table schema", name)
		}
		return e.Rows[row][i]
	}

	ins := next(canal.InsertAction)
	if got := str(col(ins, 0, "content")); got != "first!" {
		t.Errorf("inserted content = %q", got)
	}
	upd := next(canal.UpdateAction)
	if len(upd.Rows) != 2 {
		t.Fatalf("update carries %d row images, want before and after", len(upd.Rows))
	}
	if b, a := str(col(upd, 0, "status")), str(col(upd, 1, "status")); b != "pending" || a != "approved" {
		t.Errorf("status before/after = %s/%s, want pending/approved", b, a)
	}
	// FULL row image: columns the UPDATE did not touch are in both images.
	if b, a := str(col(upd, 0, "content")), str(col(upd, 1, "content")); b != "first!" || a != "first!" {
		t.Errorf("untouched column content before/after = %q/%q: row image is not FULL", b, a)
	}
	// The trigger moved the version forward on a plain UPDATE.
	if b, a := toInt(t, col(upd, 0, "version")), toInt(t, col(upd, 1, "version")); a <= b {
		t.Errorf("version before/after = %d/%d, want it to increase", b, a)
	}
}

// str renders a column value: TEXT columns arrive as []byte.
func str(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return fmt.Sprint(v)
}

func toInt(t *testing.T, v any) int64 {
	t.Helper()
	switch n := v.(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	case uint64:
		return int64(n)
	}
	t.Fatalf("not an integer: %T %v", v, v)
	return 0
}

func TestRedisSortedSet(t *testing.T) {
	rdb := stacktest.Redis(t)
	ctx := context.Background()
	key := "{" + stacktest.Name("vct") + "}:z"
	t.Cleanup(func() { rdb.Del(context.Background(), key) })

	if err := rdb.ZAdd(ctx, key, redis.Z{Score: 3, Member: "c"}, redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"}).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := rdb.ZRevRange(ctx, key, 0, 1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[c b]" {
		t.Errorf("ZREVRANGE 0 1 = %v, want [c b]", got)
	}
}

// groupHandler consumes until it has seen want messages, marking each.
type groupHandler struct {
	seen chan *sarama.ConsumerMessage
}

func (groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.seen <- m
		s.MarkMessage(m, "")
		s.Commit()
	}
	return nil
}

func TestKafkaConsumerGroupCommitsOffsets(t *testing.T) {
	k := stacktest.NewKafka(t, 1)
	cfg := kafkastore.Config("vidcomments-test")
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false

	prod, err := sarama.NewSyncProducer(k.Config.Brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	send := func(from, to int) {
		for i := from; i < to; i++ {
			if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: k.Config.Topic, Key: sarama.StringEncoder("video-7"), Value: sarama.StringEncoder(fmt.Sprint(i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	group := stacktest.Name("vctg")
	// consume runs one group member until it has seen n messages, then
	// leaves the group and returns their values.
	consume := func(n int) []string {
		t.Helper()
		g, err := sarama.NewConsumerGroup(k.Config.Brokers, group, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h := groupHandler{seen: make(chan *sarama.ConsumerMessage, n)}
		done := make(chan error, 1)
		go func() {
			for ctx.Err() == nil {
				if err := g.Consume(ctx, []string{k.Config.Topic}, h); err != nil && !errors.Is(err, sarama.ErrClosedConsumerGroup) {
					done <- err
					return
				}
			}
			done <- nil
		}()
		var got []string
		for len(got) < n {
			select {
			case m := <-h.seen:
				got = append(got, string(m.Value))
			case err := <-done:
				t.Fatalf("consumer group stopped after %d of %d messages: %v", len(got), n, err)
			case <-ctx.Done():
				t.Fatalf("saw %d of %d messages before the deadline", len(got), n)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		return got
	}

	send(0, 5)
	if got := fmt.Sprint(consume(5)); got != "[0 1 2 3 4]" {
		t.Fatalf("first member saw %s", got)
	}
	offsets, err := k.Admin.ListConsumerGroupOffsets(group, map[string][]int32{k.Config.Topic: {0}})
	if err != nil {
		t.Fatal(err)
	}
	if b := offsets.GetBlock(k.Config.Topic, 0); b == nil || b.Offset != 5 {
		t.Fatalf("committed offset = %+v, want 5", b)
	}
	// A restarted member resumes after the committed offset: it sees only
	// the new messages.
	send(5, 8)
	if got := fmt.Sprint(consume(3)); got != "[5 6 7]" {
		t.Fatalf("restarted member saw %s, want [5 6 7]", got)
	}
}

func TestCassandraWriteReadLastWriterWins(t *testing.T) {
	c := stacktest.NewCassandra(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const write = `INSERT INTO comments_by_id (id, video_id, user_id, parent_id, content, status, created_at, like_count, reply_count, version)
		VALUES (?, ?, ?, 0, ?, ?, ?, 0, 0, ?) USING TIMESTAMP ?`
	now := time.Now().UTC().Truncate(time.Millisecond)
	put := func(content, status string, version int64) {
		t.Helper()
		if err := c.Session.Query(write, 1001, 7, 42, content, status, now, version, version).ExecContext(ctx); err != nil {
			t.Fatal(err)
		}
	}
	put("v2", "approved", 2)
	put("v1", "pending", 1) // older version arrives late: must not win

	var content, status string
	var version int64
	var created time.Time
	err := c.Session.Query(`SELECT content, status, version, created_at FROM comments_by_id WHERE id = ?`, 1001).
		Consistency(gocql.One).ScanContext(ctx, &content, &status, &version, &created)
	if err != nil {
		t.Fatal(err)
	}
	if content != "v2" || status != "approved" || version != 2 || !created.Equal(now) {
		t.Errorf("read back %q/%s/v%d/%v, want v2/approved/v2/%v", content, status, version, created, now)
	}
}
