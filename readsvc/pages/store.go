package pages

import (
	"context"
	"math/rand/v2"
	"sync/atomic"

	"github.com/coocood/freecache"
	"github.com/golang/groupcache"
)

// group is one groupcache group and the in-process store of its values.
//
// groupcache routes a key to the peer that owns it and lets one load of
// a key run at a time across the ring; its own LRU (a list element, an
// entry, a boxed key and a boxed view per value, nine heap objects in
// all) is off (cache bytes 0), because the collector marks every one of
// those objects in every cycle: with the large profile's ~55,000 values
// that was a quarter of readsvc's CPU under wrk. The values live in
// freecache instead, whose 256 ring buffers and their index hold no
// pointers: the collector marks a few hundred objects however full it is.
//
// What lands in the store is what groupcache's two caches held: every
// value this process built (it owns the key, or its owner could not be
// reached), and one in ten of those fetched from a peer, as groupcache's
// hot cache keeps. freecache evicts the oldest entry of a ring unless it
// was read more recently than the ring's average (nearly LRU).
type group struct {
	g     *groupcache.Group
	store atomic.Pointer[freecache.Cache]
	load  func(context.Context, string) ([]byte, error)

	gets, hits, tooLarge, peerKept atomic.Int64
}

// minStoreBytes is freecache's least size.
const minStoreBytes = 512 << 10

func newGroup(name string, bytes int64, load func(context.Context, string) ([]byte, error)) *group {
	gr := &group{load: load}
	gr.store.Store(freecache.NewCache(int(max(bytes, minStoreBytes))))
	gr.g = groupcache.NewGroup(name, 0, groupcache.GetterFunc(gr.build))
	return gr
}

func (gr *group) local() *freecache.Cache { return gr.store.Load() }

// release lets the store's memory go: groupcache keeps a group (and so
// its getter) for the life of the process, and a closed Reader's store
// would stay with it.
func (gr *group) release() { gr.store.Store(freecache.NewCache(minStoreBytes)) }

// build is the group's getter: the stored value when there is one (a
// peer's fetch of a key this process owns), else a load, stored.
func (gr *group) build(ctx context.Context, key string, dest groupcache.Sink) error {
	k := []byte(key)
	if v, err := gr.local().Get(k); err == nil {
		return dest.SetBytes(v)
	}
	b, err := gr.load(ctx, key)
	if err != nil {
		return err // uncacheable values (and failures) are not stored
	}
	gr.keep(k, b)
	return dest.SetBytes(b)
}

// cached returns a copy of the stored value of key.
func (gr *group) cached(key []byte) ([]byte, bool) {
	gr.gets.Add(1)
	v, err := gr.local().Get(key)
	if err != nil {
		return nil, false
	}
	gr.hits.Add(1)
	return v, true
}

// get answers key through groupcache: from its owner, or built here.
func (gr *group) get(ctx context.Context, key []byte) (groupcache.ByteView, error) {
	var v groupcache.ByteView
	if err := gr.g.Get(ctx, string(key), groupcache.ByteViewSink(&v)); err != nil {
		return v, err
	}
	// One in ten of the values fetched from a peer is kept. The draw comes
	// first: a value built here is stored already, and nine misses in ten
	// need not look again to tell.
	if rand.IntN(10) == 0 && !gr.has(key) {
		gr.peerKept.Add(1)
		gr.keep(key, v.ByteSlice())
	}
	return v, nil
}

func (gr *group) has(key []byte) bool {
	return gr.local().PeekFn(key, func([]byte) error { return nil }) == nil
}

// keep stores a value; one over a 1,024th of the store (freecache's
// bound on an entry) is not kept and is counted.
func (gr *group) keep(key, value []byte) {
	if err := gr.local().Set(key, value, 0); err != nil {
		gr.tooLarge.Add(1)
	}
}
