package comment

import (
	"errors"
	"fmt"
	"math/bits"
	"sync"
	"time"
)

// Comment ids are Snowflake-style: 41 bits of milliseconds since Epoch, 10
// bits of node, 12 bits of sequence. They sort by creation time, are unique
// across writesvc nodes as long as no two run with the same node number, and
// fit an int64 until 2093.
const (
	NodeBits = 10
	SeqBits  = 12
	MaxNode  = 1<<NodeBits - 1
	maxSeq   = 1<<SeqBits - 1
)

// Epoch is time zero of comment ids.
var Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// IDTime returns the millisecond an id was made in.
func IDTime(id int64) time.Time {
	return Epoch.Add(time.Duration(id>>(NodeBits+SeqBits)) * time.Millisecond)
}

// MinIDAt returns the smallest id that can be made at t.
func MinIDAt(t time.Time) int64 {
	return t.Sub(Epoch).Milliseconds() << (NodeBits + SeqBits)
}

// BucketHours is the width of a Cassandra time bucket.
const BucketHours = 1

// Bucket returns the Cassandra time bucket of an id: hours since the Unix
// epoch of the id's time.
func Bucket(id int64) int32 {
	return int32(IDTime(id).Unix() / (3600 * BucketHours))
}

// HotBand is the hot-index band of a like count (hot_by_video.band):
// bits.Len64, so 0 for no likes, 1 for 1, 2 for 2–3, 3 for 4–7 …
func HotBand(likes int64) int32 { return int32(bits.Len64(uint64(max(likes, 0)))) }

// IDGenerator makes ids for one node. Safe for concurrent use.
type IDGenerator struct {
	mu   sync.Mutex
	node int64
	last int64 // milliseconds since Epoch of the last id
	seq  int64
	now  func() time.Time
}

// MaxClockSkew is how far the clock may step back before Next fails rather
// than wait for it.
const MaxClockSkew = time.Second

// ErrClockBackwards means the clock went back further than MaxClockSkew.
var ErrClockBackwards = errors.New("comment ids: clock moved backwards")

// NewIDGenerator returns a generator for node (0..MaxNode). now is the
// clock (time.Now in production).
func NewIDGenerator(node int, now func() time.Time) (*IDGenerator, error) {
	if node < 0 || node > MaxNode {
		return nil, fmt.Errorf("comment ids: node %d out of 0..%d", node, MaxNode)
	}
	return &IDGenerator{node: int64(node), now: now, last: -1}, nil
}

// Next returns a new id, strictly greater than every id this generator made
// before. When the sequence of a millisecond is used up, or the clock stepped
// back by less than MaxClockSkew, it waits for the clock.
func (g *IDGenerator) Next() (int64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		ms := g.now().Sub(Epoch).Milliseconds()
		switch {
		case ms > g.last:
			g.last, g.seq = ms, 0
		case ms == g.last && g.seq < maxSeq:
			g.seq++
		case g.last-ms > MaxClockSkew.Milliseconds():
			return 0, fmt.Errorf("%w by %dms", ErrClockBackwards, g.last-ms)
		default:
			time.Sleep(100 * time.Microsecond)
			continue
		}
		return g.last<<(NodeBits+SeqBits) | g.node<<SeqBits | g.seq, nil
	}
}
