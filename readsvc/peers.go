package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/golang/groupcache"
)

var peerPoolMade atomic.Bool

// newPeerPool makes the process's groupcache peer pool: groupcache keeps
// one pool per process (a second NewHTTPPool panics) and every group uses
// it, so main makes it once, before any group is used.
func newPeerPool(self string, peers []string) (http.Handler, error) {
	if !peerPoolMade.CompareAndSwap(false, true) {
		return nil, errors.New("groupcache peer pool already made in this process")
	}
	pool := groupcache.NewHTTPPoolOpts(self, &groupcache.HTTPPoolOptions{})
	pool.Set(peers...)
	tr := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: time.Second}).DialContext,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       time.Minute,
		ResponseHeaderTimeout: 2 * time.Second,
	}
	pool.Transport = func(_ context.Context) http.RoundTripper { return tr }
	mux := http.NewServeMux()
	mux.Handle("/_groupcache/", pool)
	return mux, nil
}
