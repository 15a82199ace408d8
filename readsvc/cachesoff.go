package main

import (
	"context"
	"errors"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// errCachesOff is what every call of cachesOff returns.
var errCachesOff = errors.New("page cache turned off (-caches-off)")

// cachesOff is the page cache of the -caches-off benchmark baseline: every
// call fails, so the read path's Redis breaker opens (its probe fails too)
// and every page is read from Cassandra directly, as during a Redis outage.
type cachesOff struct{}

func (cachesOff) probe(context.Context) error { return errCachesOff }

func (cachesOff) Read(context.Context, int64, int64, int) (pagecache.Page, error) {
	return pagecache.Page{}, errCachesOff
}
func (cachesOff) Version(context.Context, int64) (int64, error) { return 0, errCachesOff }
func (cachesOff) BeginFill(context.Context, int64) (pagecache.FillToken, error) {
	return pagecache.FillToken{}, errCachesOff
}
func (cachesOff) FillSince(context.Context, int64, pagecache.FillToken, []pagecache.Entry, int64, bool) (pagecache.FillResult, error) {
	return pagecache.FillResult{}, errCachesOff
}
func (cachesOff) Overlay(context.Context, int64) (map[int64]pagecache.OverlayEntry, error) {
	return nil, errCachesOff
}
func (cachesOff) ReadHot(context.Context, int64, int64, pagecache.HotPos, int) (pagecache.HotPage, error) {
	return pagecache.HotPage{}, errCachesOff
}
func (cachesOff) FillHot(context.Context, int64, pagecache.FillToken, []pagecache.Entry, int64, bool) (pagecache.FillResult, error) {
	return pagecache.FillResult{}, errCachesOff
}
func (cachesOff) ReadReplies(context.Context, int64, int64, int64, int) (pagecache.Page, error) {
	return pagecache.Page{}, errCachesOff
}
func (cachesOff) FillReplies(context.Context, int64, int64, pagecache.FillToken, []pagecache.Entry, int64, bool) (pagecache.FillResult, error) {
	return pagecache.FillResult{}, errCachesOff
}
func (cachesOff) TryLeaseOf(context.Context, int64, string, time.Duration) (string, bool, error) {
	return "", false, errCachesOff
}
func (cachesOff) ReleaseLeaseOf(context.Context, int64, string, string) error { return errCachesOff }
func (cachesOff) Pin(context.Context, int64) (pagecache.Pin, error) {
	return pagecache.Pin{}, errCachesOff
}
func (cachesOff) FillPin(context.Context, int64, int64, int64) error { return errCachesOff }
func (cachesOff) Pending(context.Context, int64, int64) ([]pagecache.Entry, error) {
	return nil, errCachesOff
}
