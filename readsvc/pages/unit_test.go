package pages

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/golang/groupcache"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
)

func TestValueRoundTrip(t *testing.T) {
	entries := []pagecache.Entry{{ID: 3, Body: []byte(`{"id":"3"}`)}, {ID: 2, Body: []byte(`{"id":"2"}`)}}
	tests := []struct {
		name            string
		version         int64
		stale, notFound bool
		next, tags      string
		wantBody        string
	}{
		{"a page with a next cursor", 1795315179149397, false, false, "abc_-", "v1 u7 u9", `{"comments":[{"id":"3"},{"id":"2"}],"next_cursor":"abc_-","total":7}`},
		{"the last page, stale, untagged", 0, true, false, "", "", `{"comments":[{"id":"3"},{"id":"2"}],"next_cursor":null,"total":7}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := sealValue(appendPageBody(newValue(tt.tags, 0), entries, tt.next, 7), tt.version, tt.stale, tt.notFound)
			var view groupcache.ByteView
			if err := groupcache.ByteViewSink(&view).SetBytes(v); err != nil {
				t.Fatal(err)
			}
			fromView, err := decodeView(view)
			if err != nil {
				t.Fatal(err)
			}
			fromRaw, err := decodeRaw(v)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range []Page{fromView, fromRaw} {
				var b strings.Builder
				if _, err := p.WriteTo(&b); err != nil {
					t.Fatal(err)
				}
				if b.String() != tt.wantBody || string(p.Body()) != tt.wantBody || p.Len() != len(tt.wantBody) {
					t.Errorf("body %q (len %d), want %q", b.String(), p.Len(), tt.wantBody)
				}
				if got := strings.Join(p.TagHeader(), ""); got != tt.tags {
					t.Errorf("tags %q, want %q", got, tt.tags)
				}
				if p.Stale != tt.stale || p.NotFound != tt.notFound || p.Version() != tt.version || len(p.ETag) != etagLen {
					t.Errorf("page %+v version %d", p, p.Version())
				}
			}
		})
	}
	a := sealValue(appendPageBody(newValue("v1", 0), entries, "", 7), 5, false, false)
	b := sealValue(appendPageBody(newValue("v1", 0), entries, "", 8), 5, false, false)
	if string(a[2:2+etagLen]) == string(b[2:2+etagLen]) {
		t.Error("different bodies, same ETag")
	}
	if _, err := decodeRaw([]byte("short")); !errors.Is(err, errBadValue) {
		t.Errorf("short value: %v", err)
	}
	overlong := append([]byte(nil), a...)
	overlong[fixedLen-2] = 0xff // tags longer than the value
	if _, err := decodeRaw(overlong); !errors.Is(err, errBadValue) {
		t.Errorf("tags past the end: %v", err)
	}
}

func TestVersionsMap(t *testing.T) {
	v := newVersions(3)
	if _, _, ok := v.get(1); ok {
		t.Fatal("hit in an empty map")
	}
	_, gen, _ := v.get(1)
	v.learn(1, 10, gen)
	if _, _, ok := v.get(1); ok {
		t.Fatal("learned while no subscription is confirmed")
	}
	v.live.Store(true)
	_, gen, _ = v.get(1)
	v.learn(1, 10, gen)
	v.observe(1, 12)
	v.observe(1, 11) // late and older: ignored
	if ver, _, ok := v.get(1); !ok || ver != 12 {
		t.Errorf("get(1) = %d %v, want 12", ver, ok)
	}
	_, gen, _ = v.get(2)
	v.reset() // a reconnect between the miss and the Redis read
	v.learn(2, 5, gen)
	if _, _, ok := v.get(2); ok {
		t.Error("a lookup that raced a reset was stored")
	}
	for i := int64(10); i < 14; i++ { // past the bound: cleared, then refilled
		v.observe(i, 1)
	}
	v.mu.RLock()
	n := len(v.m)
	v.mu.RUnlock()
	if n > 3 {
		t.Errorf("map holds %d entries, bound 3", n)
	}
}

func TestBreaker(t *testing.T) {
	probeOK := make(chan error, 10)
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	b := newBreaker("dep", 2, time.Millisecond, func(context.Context) error { return <-probeOK }, slog.New(slog.NewTextHandler(io.Discard, nil)), gauge)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	down := errors.New("down")
	steps := []struct {
		name     string
		err      error
		wantOpen bool
	}{
		{"one failure", down, false},
		{"a success resets the count", nil, false},
		{"a caller that went away does not count", context.Canceled, false},
		{"failure 1", down, false},
		{"failure 2 opens", down, true},
	}
	for _, s := range steps {
		b.record(s.err)
		if b.isOpen() != s.wantOpen || b.allow() == s.wantOpen {
			t.Fatalf("%s: open=%v", s.name, b.isOpen())
		}
	}
	probeOK <- down // the first probe fails: still open
	probeOK <- nil  // the second succeeds
	deadline := time.Now().Add(5 * time.Second)
	for b.isOpen() {
		if time.Now().After(deadline) {
			t.Fatal("breaker never closed after a successful probe")
		}
		time.Sleep(time.Millisecond)
	}
	if len(probeOK) != 0 {
		t.Error("probes not consumed in order")
	}
}

func TestWindowAfterAndAdjustTotal(t *testing.T) {
	w := &window{entries: []pagecache.Entry{{ID: 50}, {ID: 40}, {ID: 30}, {ID: 20}}}
	ids := func(es []pagecache.Entry) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tt := range []struct {
		before int64
		n      int
		want   []int64
	}{{0, 2, []int64{50, 40}}, {40, 5, []int64{30, 20}}, {45, 1, []int64{40}}, {20, 3, []int64{}}} {
		if got := ids(w.after(tt.before, tt.n)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("after(%d, %d) = %v, want %v", tt.before, tt.n, got, tt.want)
		}
	}

	rows := []pagecache.Stored{{ID: 50, Version: 5}, {ID: 40, Version: 4}}
	tests := []struct {
		name string
		ov   map[int64]pagecache.OverlayEntry
		all  bool
		want int64
	}{
		{"no overlay", nil, false, 10},
		{"a read row rejected", map[int64]pagecache.OverlayEntry{40: {Version: 9}}, false, 9},
		{"an older overlay entry changes nothing", map[int64]pagecache.OverlayEntry{40: {Version: 1}}, false, 10},
		{"a new comment above the rows", map[int64]pagecache.OverlayEntry{60: {Version: 9, Visible: true}}, false, 11},
		{"an addition below the rows is unknowable", map[int64]pagecache.OverlayEntry{10: {Version: 9, Visible: true}}, false, 10},
		{"... unless the rows are all", map[int64]pagecache.OverlayEntry{10: {Version: 9, Visible: true}}, true, 11},
	}
	for _, tt := range tests {
		if got := adjustTotal(10, rows, tt.ov, tt.all); got != tt.want {
			t.Errorf("%s: adjustTotal = %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestParseKeyAndEpoch(t *testing.T) {
	if f, err := parseKey("t/7/0/20/u/99", 5); err != nil || !reflect.DeepEqual(f, []int64{7, 0, 20, -1, 99}) {
		t.Errorf("parseKey = %v %v", f, err)
	}
	for _, bad := range []string{"t/7/0/20/99", "t/7/x/20/1/99", ""} {
		if _, err := parseKey(bad, 5); err == nil {
			t.Errorf("parseKey(%q) accepted", bad)
		}
	}
	at := time.Unix(1_800_000_000, 5e8) // mid-second: some offsets cross into the next epoch
	r := &Reader{opts: Options{MaxAge: time.Second, Now: func() time.Time { return at }}}
	offsets := map[int64]bool{}
	for id := int64(1); id <= 50; id++ {
		e := r.epoch(id, r.now())
		if e != at.Unix() && e != at.Unix()+1 {
			t.Fatalf("epoch(%d) = %d, want now/max-age (+1 for the offset)", id, e)
		}
		offsets[e] = true
	}
	if len(offsets) < 2 {
		t.Error("every video's epoch turns over at the same instant")
	}
}

func TestLastGoodIsBoundedInBytes(t *testing.T) {
	const bound = 64 << 10
	l := newLastGood(bound)
	page := func(n int) Page { return Page{raw: make([]byte, n)} }
	for i := range 500 {
		s := fmt.Sprintf("shape/%d", i)
		l.remember([]byte(s), []byte(s+"/1"), page(1000+i%4000))
		l.mu.RLock()
		got, n := l.bytes, int64(0)
		for _, g := range l.m {
			n += g.size()
		}
		l.mu.RUnlock()
		if got != n {
			t.Fatalf("after %d pages the count says %d bytes, the entries hold %d", i+1, got, n)
		}
		if got > bound {
			t.Fatalf("after %d pages %d bytes are kept, bound %d", i+1, got, bound)
		}
	}
	if l.bytes < bound/2 {
		t.Errorf("%d bytes kept of a %d bound: eviction took far more than it had to", l.bytes, bound)
	}
	// A newer copy of a shape replaces the older one and is counted once.
	l.remember([]byte("k"), []byte("k/1/1"), page(100))
	before := l.bytes
	l.remember([]byte("k"), []byte("k/2/1"), page(100))
	if p, ok := l.fresh([]byte("k"), []byte("k/2/1")); !ok || p.size() != 100 {
		t.Errorf("fresh(k/2/1) = %+v %v", p, ok)
	}
	if l.bytes != before {
		t.Errorf("replacing a shape's page changed the count %d → %d", before, l.bytes)
	}
	// A page larger than the whole bound is not kept, and evicts nothing.
	held := l.bytes
	l.remember([]byte("huge"), []byte("huge/1"), page(bound))
	if _, ok := l.get("huge"); ok || l.bytes != held {
		t.Errorf("a page over the bound: kept %v, %d bytes held before, %d after", ok, held, l.bytes)
	}
}

// racingCache is a profile copy whose Get runs during, before its answer
// comes back, whatever the test hooks in: a cdc announcement overtaking
// the read.
type racingCache struct {
	old    map[int64]profiles.Profile
	during func()
	gets   int
}

func (c *racingCache) Get(_ context.Context, users []int64) (map[int64]profiles.Profile, error) {
	c.gets++
	if c.during != nil {
		c.during()
		c.during = nil
	}
	out := map[int64]profiles.Profile{}
	for _, u := range users {
		if p, ok := c.old[u]; ok {
			out[u] = p
		}
	}
	return out, nil
}

func (c *racingCache) Fill(context.Context, map[int64]profiles.Profile) error { return nil }

// TestAuthorsKeepNothingAnAnnouncementOvertook: a profile read from Redis
// just before cdc overwrote it, answered just after cdc's announcement
// dropped the user, shows on the page being built but is not kept in
// process: the next page reads Redis again. The same after a reset (a
// re-made subscription). Kept, the old name outlived the rename by
// localProfileTTL, on every page and every CDN fetch (CI, issue #16).
func TestAuthorsKeepNothingAnAnnouncementOvertook(t *testing.T) {
	for _, tt := range []struct {
		name     string
		overtake func(a *authors)
	}{
		{"announcement", func(a *authors) { a.forget(7) }},
		{"reset", func(a *authors) { a.reset() }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := &racingCache{old: map[int64]profiles.Profile{7: {UserID: 7, DisplayName: "old"}, 8: {UserID: 8, DisplayName: "eight"}}}
			reg := prometheus.NewRegistry()
			br := func(n string) *breaker {
				return newBreaker(n, 3, time.Second, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewGauge(prometheus.GaugeOpts{Name: n}))
			}
			a := newAuthors(Profiles{Cache: cache}, br("r"), br("m"), Options{Now: time.Now, MaxAge: time.Second}, reg)
			cache.during = func() { tt.overtake(a) }
			if got := a.lookup(context.Background(), []int64{7, 8}); got[7].DisplayName != "old" || got[8].DisplayName != "eight" {
				t.Fatalf("the page being built shows %+v, want what was read", got)
			}
			cache.old[7] = profiles.Profile{UserID: 7, DisplayName: "new"}
			if got := a.lookup(context.Background(), []int64{7}); got[7].DisplayName != "new" {
				t.Errorf("after the announcement: %q, want the new name", got[7].DisplayName)
			}
			if cache.gets != 2 {
				t.Errorf("%d Redis reads, want 2: the overtaken copy must not be kept", cache.gets)
			}
			gets := cache.gets
			wantKept := tt.name == "announcement" // user 8 was not announced
			a.lookup(context.Background(), []int64{8})
			if kept := cache.gets == gets; kept != wantKept {
				t.Errorf("user 8 kept in process: %v, want %v", kept, wantKept)
			}
		})
	}
}

func TestProfileTable(t *testing.T) {
	at := time.Unix(1_800_000_000, 5)
	tb := newProfileTable(3, 16)
	ada := profiles.Profile{UserID: 1, DisplayName: "Ada", AvatarURL: "a.png", BannedUntil: -1}
	tb.put(ada, at)
	tb.put(profiles.Profile{UserID: 2}, at)
	if p, when, ok := tb.get(1); !ok || p != ada || !when.Equal(at) {
		t.Fatalf("get(1) = %+v, %v, %v; want %+v at %v", p, when, ok, ada, at)
	}
	if p, _, ok := tb.get(2); !ok || p != (profiles.Profile{UserID: 2}) {
		t.Errorf("an empty profile: %+v, %v", p, ok)
	}
	renamed := profiles.Profile{UserID: 1, DisplayName: "Ada L."}
	tb.put(renamed, at) // 14 bytes of 16 in the arena now
	if p, _, _ := tb.get(1); p != renamed {
		t.Errorf("after a second put: %+v, want %+v", p, renamed)
	}
	tb.put(profiles.Profile{UserID: 3, DisplayName: "Cyd"}, at) // over the bytes: cleared first
	if _, _, ok := tb.get(1); ok || len(tb.index) != 1 {
		t.Errorf("a put over the byte bound keeps %d entries (user 1 kept: %v), want only the new one", len(tb.index), ok)
	}
	for u := int64(10); u < 14; u++ { // 3, 10, 11 fill it; 12 clears it
		tb.put(profiles.Profile{UserID: u}, at)
	}
	if _, _, ok := tb.get(3); ok || len(tb.index) != 2 {
		t.Errorf("%d entries after passing the entry bound (user 3 kept: %v), want 2 (cleared, then 12 and 13)", len(tb.index), ok)
	}
	tb.put(profiles.Profile{UserID: 13, DisplayName: strings.Repeat("x", 17)}, at)
	if _, _, ok := tb.get(13); ok {
		t.Error("a profile longer than the whole arena was kept")
	}
	tb.put(profiles.Profile{UserID: 20, DisplayName: "Eve"}, at)
	tb.del(20)
	if _, _, ok := tb.get(20); ok {
		t.Error("del left the entry")
	}
	// The point of the table: nothing in it for the collector to mark.
	for _, typ := range []reflect.Type{reflect.TypeFor[int64](), reflect.TypeFor[profileRef]()} {
		if hasPointers(typ) {
			t.Errorf("%v holds pointers", typ)
		}
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return false
	}
	return true
}

// BenchmarkProfileTableHeap is the heap 100,000 authors take in the
// in-process profile table, without names (the bench's seed) and with a
// 13-byte name and a 32-byte avatar URL each (past the byte bound: the
// table is cleared once on the way). Run it with
//
//	go test ./readsvc/pages -run '^$' -bench ProfileTableHeap -benchtime 1x
func BenchmarkProfileTableHeap(b *testing.B) {
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	for _, named := range []bool{false, true} {
		b.Run(fmt.Sprintf("named=%v", named), func(b *testing.B) {
			for b.Loop() {
				before := heap()
				tb := newProfileTable(DefaultProfileEntries, DefaultProfileBytes)
				now := time.Now()
				for u := int64(1); u <= 100_000; u++ {
					p := profiles.Profile{UserID: u}
					if named {
						p.DisplayName, p.AvatarURL = fmt.Sprintf("Author %06d", u), fmt.Sprintf("https://img.example/a/%06d.png", u)
					}
					tb.put(p, now)
				}
				b.ReportMetric(float64(heap()-before)/(1<<20), "MiB")
				b.ReportMetric(float64(len(tb.index)), "entries")
				runtime.KeepAlive(tb)
			}
		})
	}
}
