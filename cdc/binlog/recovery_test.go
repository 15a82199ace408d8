package binlog

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// fakeGuard is an epoch in memory, writing to the journal.
type fakeGuard struct {
	j      *journal
	state  string
	target Position
}

func (g *fakeGuard) State(context.Context) (string, error) { return g.state, nil }
func (g *fakeGuard) Begin(context.Context) (Position, error) {
	g.state = pagecache.EpochRecovering
	g.j.add(fmt.Sprintf("begin until %d", g.target.Offset))
	return g.target, nil
}
func (g *fakeGuard) Reached(p, target Position) bool { return atOrPast(p, target) }
func (g *fakeGuard) Durable(context.Context, Position) (bool, error) {
	return true, nil // the journal's sink saves at once
}
func (g *fakeGuard) Finish(context.Context) error {
	g.state = pagecache.EpochOK
	g.j.add("finish")
	return nil
}

// recordingJournal notes whether each Record came in recovering.
type recordingJournal struct{ *journal }

func (j recordingJournal) Record(ctx context.Context, ch pagecache.Change) (bool, int64, error) {
	if ch.Recovering {
		j.add(fmt.Sprintf("drop-record %d", ch.ID))
		return true, 1, nil
	}
	return j.journal.Record(ctx, ch)
}

// A Redis that lost its data (no epoch) is seen before the next change is
// applied: every change up to the binlog's end as of then is recorded
// recovering (windows dropped, not edited), and only past that point are
// windows edited again. A recovery left unfinished ("r") is redone; a
// healthy epoch costs nothing but the read.
func TestApplierRecoversFromARedisDataLoss(t *testing.T) {
	tests := []struct {
		name  string
		state string
		want  []string
	}{
		{"epoch ok", pagecache.EpochOK, []string{"record 1", "record 2", "record 3"}},
		{"epoch missing", "", []string{"begin until 600", "drop-record 1", "drop-record 2", "finish", "record 3"}},
		{"recovery left unfinished", pagecache.EpochRecovering, []string{"begin until 600", "drop-record 1", "drop-record 2", "finish", "record 3"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			a, clock, m := testApplier(j)
			a.cache = recordingJournal{j}
			g := &fakeGuard{j: j, state: tc.state, target: Position{File: "binlog.000001", Offset: 600}}
			a.guard = g
			ctx := context.Background()
			if err := a.checkEpoch(ctx); err != nil {
				t.Fatal(err)
			}
			for _, w := range []work{rows(1), pos(500), rows(2), pos(600), rows(3), pos(700)} {
				clock.advance(time.Millisecond) // no new epoch read: not due yet
				if err := a.handle(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for _, e := range j.entries() {
				if e[:4] != "save" {
					got = append(got, e)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("did %q, want %q", got, tc.want)
			}
			if a.recovering || value(m.recovering) != 0 {
				t.Errorf("still recovering after the target")
			}
		})
	}

	t.Run("a loss while running is seen at the next due read", func(t *testing.T) {
		j := &journal{}
		a, clock, m := testApplier(j)
		a.cache = recordingJournal{j}
		g := &fakeGuard{j: j, state: pagecache.EpochOK, target: Position{File: "binlog.000002", Offset: 4}}
		a.guard = g
		ctx := context.Background()
		_ = a.checkEpoch(ctx)
		_ = a.handle(ctx, rows(1))
		g.state = "" // FLUSHALL
		clock.advance(EpochCheckEvery)
		_ = a.handle(ctx, rows(2))
		_ = a.handle(ctx, pos(900)) // binlog.000001: still before the target
		_ = a.handle(ctx, work{pos: &Position{File: "binlog.000002", Offset: 4}, force: true})
		_ = a.handle(ctx, rows(3))
		want := []string{"record 1", "begin until 4", "drop-record 2", "save 4", "finish", "record 3"}
		if got := j.entries(); !reflect.DeepEqual(got, want) {
			t.Errorf("did %q, want %q", got, want)
		}
		if value(m.redisLosses) != 1 {
			t.Errorf("cdc_redis_data_losses_total = %v, want 1", value(m.redisLosses))
		}
	})
}

func TestAtOrPast(t *testing.T) {
	p := func(f string, o uint32) Position { return Position{File: f, Offset: o} }
	for _, tc := range []struct {
		p, target Position
		want      bool
	}{
		{p("binlog.000001", 10), p("binlog.000001", 10), true},
		{p("binlog.000001", 9), p("binlog.000001", 10), false},
		{p("binlog.000002", 4), p("binlog.000001", 900), true},
		{p("binlog.000009", 900), p("binlog.000010", 4), false},
	} {
		if got := atOrPast(tc.p, tc.target); got != tc.want {
			t.Errorf("atOrPast(%v, %v) = %v, want %v", tc.p, tc.target, got, tc.want)
		}
	}
}
