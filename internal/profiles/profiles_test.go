package profiles_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vidcomments/vidcomments/internal/pagecache"
	"github.com/vidcomments/vidcomments/internal/profiles"
	"github.com/vidcomments/vidcomments/internal/stacktest"
)

// users returns n user ids no other test run uses (Redis is shared).
func users(n int) []int64 {
	base := 5e12 + rand.Int64N(1e12)
	out := make([]int64, n)
	for i := range out {
		out[i] = base + int64(i)
	}
	return out
}

func TestLoadReadsProfilesAndBansInOneQuery(t *testing.T) {
	my := stacktest.NewMySQL(t)
	ctx := context.Background()
	u := users(5)
	now := time.Now().UTC()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := my.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(`INSERT INTO users (id, display_name, avatar_url, updated_at) VALUES (?, 'Ada "L" <&>', 'https://img.example/a.png', ?), (?, 'Bob', '', ?)`, u[0], now, u[1], now)
	until := now.Add(time.Hour).Truncate(time.Second)
	exec(`INSERT INTO user_bans (user_id, reason, banned_by, created_at, expires_at) VALUES (?, 'spam', 1, ?, NULL), (?, 'spam', 1, ?, ?), (?, 'old', 1, ?, ?)`,
		u[1], now, u[2], now, until, u[3], now, now.Add(-time.Hour))

	got, err := profiles.Load(ctx, my.DB, u)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]profiles.Profile{
		u[0]: {UserID: u[0], DisplayName: `Ada "L" <&>`, AvatarURL: "https://img.example/a.png"},
		u[1]: {UserID: u[1], DisplayName: "Bob", BannedUntil: -1},
		u[2]: {UserID: u[2], BannedUntil: until.UnixMicro()},
		u[3]: {UserID: u[3]}, // the ban ended
		u[4]: {UserID: u[4]}, // no row at all
	}
	if len(got) != len(want) {
		t.Fatalf("got %d profiles, want %d: %+v", len(got), len(want), got)
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("user %d: %+v, want %+v", id, got[id], w)
		}
	}
	if !got[u[1]].Banned(now) || !got[u[2]].Banned(now) || got[u[2]].Banned(until.Add(time.Second)) || got[u[3]].Banned(now) {
		t.Error("Banned does not follow the bans")
	}
}

func TestRedisCopyNeverOlderThanWhatCdcWrote(t *testing.T) {
	my := stacktest.NewMySQL(t)
	rdb := stacktest.Redis(t)
	ctx := context.Background()
	u := users(2)
	c := profiles.NewCache(rdb)
	sub := rdb.Subscribe(ctx, pagecache.InvalChannel)
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription is live
		t.Fatal(err)
	}

	// cdc saw the rename and wrote the new profile ...
	if _, err := my.DB.ExecContext(ctx, `INSERT INTO users (id, display_name, avatar_url, updated_at) VALUES (?, 'new name', '', NOW(6))`, u[0]); err != nil {
		t.Fatal(err)
	}
	r := &profiles.Refresher{DB: my.DB, Redis: rdb}
	if err := r.Refresh(ctx, u[:1]); err != nil {
		t.Fatal(err)
	}
	// ... while a readsvc that read the old row fills late: it must not win.
	if err := c.Fill(ctx, map[int64]profiles.Profile{u[0]: {UserID: u[0], DisplayName: "old name"}, u[1]: {UserID: u[1], DisplayName: "first fill"}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if got[u[0]].DisplayName != "new name" || got[u[1]].DisplayName != "first fill" {
		t.Errorf("copies %+v: want cdc's new name kept and the empty slot filled", got)
	}
	// The channel is the stack's: tests of other packages running beside
	// this one announce their own users on it. Wait for ours.
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		msg, err := sub.ReceiveMessage(wait)
		if err != nil {
			t.Fatalf("no inval message for user %d: %v", u[0], err)
		}
		if user, ok := profiles.ParseInval(msg.Payload); ok && user == u[0] {
			break
		}
	}
	if ttl := rdb.TTL(ctx, profiles.Key(u[0])).Val(); ttl <= 0 || ttl > profiles.TTL {
		t.Errorf("ttl %v: want (0, %v]", ttl, profiles.TTL)
	}
}

func TestParseInval(t *testing.T) {
	for payload, want := range map[string]int64{"u:42": 42, "u:0": 0, "u:-1": 0, "u:x": 0, "42 7": 0, "": 0} {
		got, ok := profiles.ParseInval(payload)
		if got != want && ok || ok != (want > 0) {
			t.Errorf("ParseInval(%q) = %d, %v; want %d", payload, got, ok, want)
		}
	}
}

// BenchmarkCacheGet: the Redis copies of a page's 20 authors, read once
// per page built that the in-process tier does not cover.
func BenchmarkCacheGet(b *testing.B) {
	rdb := stacktest.Redis(b)
	ctx := context.Background()
	u := users(20)
	c := profiles.NewCache(rdb)
	ps := map[int64]profiles.Profile{}
	for _, id := range u {
		ps[id] = profiles.Profile{UserID: id, DisplayName: "Author of some length", AvatarURL: "https://img.example/a.png"}
	}
	if err := c.Fill(ctx, ps); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got, err := c.Get(ctx, u)
		if err != nil || len(got) != len(u) {
			b.Fatalf("%d of %d, %v", len(got), len(u), err)
		}
	}
}
