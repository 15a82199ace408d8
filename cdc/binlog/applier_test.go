package binlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/cdc/rowmap"
	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// journal is a fake cache, position sink and position saver writing one
// shared log, so a test sees the order of Redis edits and position saves.
type journal struct {
	mu          sync.Mutex
	log         []string
	failRecords int   // fail this many Record calls first
	saveErr     error // every save and check fails with it
	stopped     chan struct{}
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.log = append(j.log, s)
}

func (j *journal) entries() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.log...)
}

// The sink side: saves synchronously, in the applier's order.
func (j *journal) submit(p Position) { j.add(fmt.Sprintf("save %d", p.Offset)) }
func (j *journal) failed() <-chan struct{} {
	if j.stopped == nil {
		j.stopped = make(chan struct{})
	}
	return j.stopped
}
func (j *journal) err() error { return j.saveErr }

func (j *journal) Record(_ context.Context, ch pagecache.Change) (bool, int64, error) {
	if j.failRecords > 0 {
		j.failRecords--
		j.add(fmt.Sprintf("record %d failed", ch.ID))
		return false, 0, errors.New("redis: connection refused")
	}
	j.add(fmt.Sprintf("record %d", ch.ID))
	return ch.Version > 0, 1, nil
}

func (j *journal) SetPin(_ context.Context, video, commentID, version int64) (bool, error) {
	j.add(fmt.Sprintf("pin %d %d", video, commentID))
	return true, nil
}

func (j *journal) Invalidate(_ context.Context, video int64) (int64, error) {
	j.add(fmt.Sprintf("invalidate video %d", video))
	return 1, nil
}

// The saver side, for the position writer.
func (j *journal) SavePosition(_ context.Context, _ string, p Position) error {
	if j.saveErr != nil {
		return j.saveErr
	}
	j.add(fmt.Sprintf("saved %d", p.Offset))
	return nil
}

func (j *journal) Check(context.Context) error {
	if j.saveErr != nil {
		return j.saveErr
	}
	j.add("check")
	return nil
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func testApplier(j *journal) (*applier, *fakeClock, *metrics) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	m := newMetrics(prometheus.NewRegistry())
	a := newApplier(j, j, Position{File: "binlog.000001", Offset: 100}, time.Second, m, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a.now = clock.now
	a.lastSave = clock.now()
	a.sleep = func(context.Context, time.Duration) error { return nil }
	return a, clock, m
}

func rows(ids ...int64) work {
	w := work{rows: true}
	for _, id := range ids {
		w.changes = append(w.changes, pagecache.Change{VideoID: 7, ID: id, Version: 1})
	}
	return w
}

func pos(off uint32) work { return work{pos: &Position{File: "binlog.000001", Offset: off}} }

// Each step: advance the clock, hand over work (or tick), expect the log.
type step struct {
	advance time.Duration
	w       *work // nil: a tick
	want    []string
}

func TestApplierSavesOnlyAfterTheEditsAndAtMostOncePerInterval(t *testing.T) {
	rotate := work{pos: &Position{File: "binlog.000002", Offset: 4}, force: true}
	ddl := work{pos: &Position{File: "binlog.000002", Offset: 900}, force: true}
	tests := []struct {
		name  string
		steps []step
	}{
		{"edits first, position after, throttled to the interval", []step{
			{0, ptr(rows(1, 2)), []string{"record 1", "record 2"}},
			{0, ptr(pos(200)), nil}, // first XID: a save is due only after 1s
			{300 * time.Millisecond, ptr(rows(3)), []string{"record 3"}},
			{0, ptr(pos(300)), nil},
			{800 * time.Millisecond, ptr(pos(300)), []string{"save 300"}}, // 1.1s since the last save
			{100 * time.Millisecond, ptr(rows(4)), []string{"record 4"}},
			{0, ptr(pos(400)), nil},                  // 0.1s after a save
			{time.Second, nil, []string{"save 400"}}, // the tick saves what is due
		}},
		{"rotate and DDL save at once", []step{
			{0, ptr(rows(1)), []string{"record 1"}},
			{0, ptr(rotate), []string{"save 4"}},
			{0, ptr(ddl), []string{"save 900"}},
		}},
		{"only other tables change: saved once per keepalive", []step{
			{time.Second, nil, nil},
			{0, ptr(pos(150)), nil}, // other tables' transactions: nothing to record
			{2 * time.Second, nil, nil},
			{KeepaliveInterval, nil, []string{"save 150"}}, // but not forever
		}},
		{"failed Redis edits are retried before anything moves on", []step{
			{0, ptr(rows(1)), []string{"record 1 failed", "record 1 failed", "record 1"}},
			{2 * time.Second, ptr(pos(200)), []string{"save 200"}},
		}},
		{"unmappable rows invalidate their video", []step{
			{0, &work{rows: true, changes: rows(1).changes, failed: errors.Join(
				&rowmap.RowError{Row: 1, VideoID: 9, Err: errors.New("NULL content")},
				&rowmap.RowError{Row: 2, Err: errors.New("no video")})},
				[]string{"record 1", "invalidate video 9"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := &journal{}
			if strings.HasPrefix(tt.name, "failed Redis") {
				j.failRecords = 2
			}
			a, clock, _ := testApplier(j)
			for i, s := range tt.steps {
				j.log = nil
				clock.advance(s.advance)
				if s.w == nil {
					a.maybeSave() // what a tick does
				} else if err := a.handle(context.Background(), *s.w); err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got := j.entries(); !reflect.DeepEqual(got, s.want) {
					t.Errorf("step %d: did %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

func ptr(w work) *work { return &w }

func TestApplierCountsWhatItDid(t *testing.T) {
	j := &journal{failRecords: 1}
	a, _, m := testApplier(j)
	w := rows(1, 2)
	w.changes = append(w.changes, pagecache.Change{VideoID: 7, ID: 3}) // version 0: the fake skips it
	w.failed = &rowmap.RowError{VideoID: 9, Err: errors.New("bad")}
	w.at = uint32(a.now().Add(-3 * time.Second).Unix())
	if err := a.handle(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct{ got, want float64 }{
		"applied":      {value(m.changes.WithLabelValues(resultApplied)), 2},
		"skipped":      {value(m.changes.WithLabelValues(resultSkipped)), 1},
		"unmappable":   {value(m.changes.WithLabelValues(resultUnmappable)), 1},
		"row events":   {value(m.rowEvents), 1},
		"cache errors": {value(m.cacheErrors), 1},
		"behind":       {value(m.behind), 3},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", name, c.got, c.want)
		}
	}
}

func TestApplierRun(t *testing.T) {
	t.Run("closing the queue hands over what was applied", func(t *testing.T) {
		j := &journal{}
		a, _, _ := testApplier(j)
		in := make(chan work, 4)
		in <- rows(1)
		in <- pos(500)
		close(in)
		if err := a.run(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		if want := []string{"record 1", "save 500"}; !reflect.DeepEqual(j.entries(), want) {
			t.Errorf("did %q, want %q", j.entries(), want)
		}
	})
	t.Run("a failed sink (lost lock) stops it", func(t *testing.T) {
		j := &journal{saveErr: ErrLockLost, stopped: make(chan struct{})}
		a, _, _ := testApplier(j)
		close(j.stopped)
		in := make(chan work) // nothing arrives
		if err := a.run(context.Background(), in); !errors.Is(err, ErrLockLost) {
			t.Errorf("run returned %v, want ErrLockLost", err)
		}
	})
	t.Run("a cancelled drain gives up on Redis", func(t *testing.T) {
		j := &journal{failRecords: 1 << 30}
		a, _, _ := testApplier(j)
		a.sleep = sleepCtx
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		in := make(chan work, 1)
		in <- rows(1)
		if err := a.run(ctx, in); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("run returned %v, want the context's error", err)
		}
	})
}

func TestApplierWithGTIDsSavesOnlyNewTransactions(t *testing.T) {
	j := &journal{}
	a, clock, _ := testApplier(j)
	a.pending = Position{File: "binlog.000001", Offset: 100, GTID: "0-1-10"}
	a.saved = a.pending
	// The stream's first (fake) rotate after a GTID start, then a real
	// rotate: no transaction in between, nothing new to save.
	for _, w := range []work{
		{pos: &Position{File: "binlog.000001", Offset: 4, GTID: "0-1-10"}, force: true},
		{pos: &Position{File: "binlog.000002", Offset: 4, GTID: "0-1-10"}, force: true},
	} {
		if err := a.handle(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	clock.advance(2 * time.Second)
	for _, w := range []work{rows(1), {pos: &Position{File: "binlog.000002", Offset: 300, GTID: "0-1-11"}}} {
		if err := a.handle(context.Background(), w); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"record 1", "save 300"}; !reflect.DeepEqual(j.entries(), want) {
		t.Errorf("did %q, want %q", j.entries(), want)
	}
}

func TestPositionWriter(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	t.Run("saves the newest position submitted, and what is left at close", func(t *testing.T) {
		// 10 is superseded before the writer runs; 20 may be too, by 30.
		j := &journal{}
		m := newMetrics(prometheus.NewRegistry())
		w := &positionWriter{saver: j, name: PositionName, interval: time.Hour, m: m, log: quiet, now: time.Now,
			mailbox: make(chan Position, 1), done: make(chan struct{})}
		w.submit(Position{File: "binlog.000001", Offset: 10})
		w.submit(Position{File: "binlog.000001", Offset: 20})
		go w.run(context.Background())
		w.submit(Position{File: "binlog.000002", Offset: 30})
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
		got := j.entries()
		if len(got) == 0 || slices.Contains(got, "saved 10") || got[len(got)-1] != "saved 30" {
			t.Errorf("saved %q: want 10 superseded and 30 last", got)
		}
		if value(m.savedOffset) != 30 || value(m.savedFile) != 2 || value(m.saves) != float64(len(got)) {
			t.Errorf("metrics: offset %v file %v saves %v", value(m.savedOffset), value(m.savedFile), value(m.saves))
		}
	})
	t.Run("proves the lock while idle", func(t *testing.T) {
		j := &journal{}
		w := startPositionWriter(context.Background(), j, 5*time.Millisecond, newMetrics(prometheus.NewRegistry()), quiet)
		deadline := time.Now().Add(5 * time.Second)
		for !slices.Contains(j.entries(), "check") {
			if time.Now().After(deadline) {
				t.Fatal("an idle writer never checked the lock")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := w.close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stops for good when the lock is lost", func(t *testing.T) {
		j := &journal{saveErr: ErrLockLost}
		w := startPositionWriter(context.Background(), j, time.Hour, newMetrics(prometheus.NewRegistry()), quiet)
		w.submit(Position{File: "binlog.000001", Offset: 10})
		select {
		case <-w.failed():
		case <-time.After(5 * time.Second):
			t.Fatal("writer did not stop on a lost lock")
		}
		w.submit(Position{File: "binlog.000001", Offset: 20}) // never blocks, even now
		w.submit(Position{File: "binlog.000001", Offset: 30})
		if !errors.Is(w.err(), ErrLockLost) || !errors.Is(w.close(), ErrLockLost) {
			t.Errorf("err %v, want ErrLockLost", w.err())
		}
	})
}

func TestPositionFileNumber(t *testing.T) {
	for file, want := range map[string]int64{"binlog.000042": 42, "mysql-bin.000001": 1, "binlog": -1, "binlog.x": -1} {
		if got := (Position{File: file}).FileNumber(); got != want {
			t.Errorf("%s: %d, want %d", file, got, want)
		}
	}
}

func TestCheckBinlogSettings(t *testing.T) {
	tests := []struct {
		format, image string
		ok            bool
	}{
		{"ROW", "FULL", true},
		{"row", "full", true},
		{"MIXED", "FULL", false},
		{"STATEMENT", "FULL", false},
		{"ROW", "MINIMAL", false},
		{"ROW", "NOBLOB", false},
	}
	for _, tt := range tests {
		t.Run(tt.format+"/"+tt.image, func(t *testing.T) {
			err := checkBinlogSettings(tt.format, tt.image)
			if (err == nil) != tt.ok {
				t.Fatalf("checkBinlogSettings = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "binlog_format=ROW and binlog_row_image=FULL") {
				t.Errorf("message does not say what is needed: %v", err)
			}
		})
	}
}

func TestLockName(t *testing.T) {
	if got := LockName("vidcomments"); got != "vidcomments-cdc:vidcomments" {
		t.Errorf("LockName = %q", got)
	}
	long := strings.Repeat("d", 64)
	a, b := LockName(long), LockName(long+"x")
	if len(a) > 64 || len(b) > 64 || a == b {
		t.Errorf("long names %q / %q: want distinct names of at most 64 bytes", a, b)
	}
}

func TestPurgedErrorNamesTheRecoveryCommand(t *testing.T) {
	err := &PurgedError{Pos: Position{File: "binlog.000001", Offset: 4, GTID: "0-1-5"}, Reason: "purged"}
	for _, want := range []string{"binlog.000001:4 (gtid 0-1-5)", "purged", "`cdc reset-position`", "invalidates every cached video"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q lacks %q", err, want)
		}
	}
}

func TestCanalLogHandlerLowersParseErrors(t *testing.T) {
	var buf strings.Builder
	log := slog.New(canalLogHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})}).With("component", "canal")
	log.Error(canalParseError, "query", "CREATE TRIGGER …")
	log.Error("canal start sync binlog err")
	log.Info(canalTableChanged, "table", "x")
	log.Warn("rotate binlog")
	out := buf.String()
	if !strings.Contains(out, "level=WARN msg=\""+canalParseError) || !strings.Contains(out, "level=ERROR msg=\"canal start sync binlog err\"") ||
		strings.Contains(out, "table structure") || !strings.Contains(out, "level=WARN msg=\"rotate binlog\"") || !strings.Contains(out, "component=canal") {
		t.Errorf("logged:\n%s", out)
	}
}
