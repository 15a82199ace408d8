// Package pagecachetest holds what tests of the page cache and of its
// readers share.
package pagecachetest

import (
	"sync/atomic"
	"time"
)

// Clock is an injectable pagecache Options.Now: it stands still at the time
// NewClock was called until Add moves it. Safe for concurrent use.
type Clock struct {
	start time.Time
	off   atomic.Int64 // how far Add moved it, in nanoseconds
}

// NewClock returns a Clock standing at the current time.
func NewClock() *Clock { return &Clock{start: time.Now()} }

// Now is the clock's time.
func (c *Clock) Now() time.Time { return c.start.Add(time.Duration(c.off.Load())) }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) { c.off.Add(int64(d)) }
