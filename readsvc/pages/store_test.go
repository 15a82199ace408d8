package pages

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
)

func TestGroupKeepsWhatItBuilds(t *testing.T) {
	var loads atomic.Int64
	gr := newGroup(t.Name(), 4<<20, func(_ context.Context, key string) ([]byte, error) {
		loads.Add(1)
		switch key {
		case "big":
			return make([]byte, 8<<10), nil // over 4 MiB / 1,024
		case "refused":
			return nil, &uncacheable{value: []byte("v")}
		}
		return []byte("value of " + key), nil
	})
	ctx := context.Background()
	for range 3 {
		got, ok := gr.cached([]byte("a"))
		if !ok {
			v, err := gr.get(ctx, []byte("a"))
			if err != nil {
				t.Fatal(err)
			}
			got = v.ByteSlice()
		}
		if string(got) != "value of a" {
			t.Fatalf("got %q", got)
		}
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("a was built %d times, want once (then read from the store)", n)
	}
	if gr.gets.Load() != 3 || gr.hits.Load() != 2 {
		t.Errorf("store gets %d hits %d, want 3 and 2", gr.gets.Load(), gr.hits.Load())
	}

	for range 2 {
		if v, err := gr.get(ctx, []byte("big")); err != nil || v.Len() != 8<<10 {
			t.Fatalf("big: %d bytes, %v", v.Len(), err)
		}
	}
	if _, ok := gr.cached([]byte("big")); ok || gr.tooLarge.Load() == 0 {
		t.Errorf("a value over a 1,024th of the store: kept %v, counted %d", ok, gr.tooLarge.Load())
	}
	if _, err := gr.get(ctx, []byte("refused")); !errors.As(err, new(*uncacheable)) {
		t.Fatalf("refused: %v", err)
	}
	if gr.has([]byte("refused")) {
		t.Error("an uncacheable value was kept")
	}
}

// TestGroupHoldsNoObjectsPerValue is why the values live in freecache:
// groupcache's LRU costs the collector nine heap objects per value, and
// it marks them all in every cycle.
func TestGroupHoldsNoObjectsPerValue(t *testing.T) {
	const values = 50_000
	page := bytes.Repeat([]byte("x"), 1400)
	gr := newGroup(t.Name(), 128<<20, func(context.Context, string) ([]byte, error) { return page, nil })
	before := liveObjects()
	for i := range values {
		if _, err := gr.get(context.Background(), fmt.Appendf(nil, "t/%d/0/20/1733500000000000/4812", i)); err != nil {
			t.Fatal(err)
		}
	}
	grew := liveObjects() - before
	if n := gr.local().EntryCount(); n != values {
		t.Fatalf("%d values held, want %d", n, values)
	}
	if grew > values/20 {
		t.Errorf("%d values added %d live heap objects (%.2f each), want under one per 20", values, grew, float64(grew)/values)
	}
	t.Logf("%d values: %d more live heap objects", values, grew)
	runtime.KeepAlive(gr)
}

func liveObjects() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapObjects)
}
