package pages

import (
	"math"
	"time"

	"github.com/vidcomments/vidcomments/internal/profiles"
)

// Bounds of the in-process author profiles (profileTable).
const (
	// DefaultProfileEntries covers the authors of a Zipf read over 100,000
	// videos: with 16,384 the table was cleared every few hundred pages
	// built, and the Redis copies cost readsvc more than the pages did.
	DefaultProfileEntries = 1 << 17
	// DefaultProfileBytes bounds the names and avatars: some 50,000
	// authors with a name and an avatar URL of typical lengths.
	DefaultProfileBytes = 4 << 20
	// ProfileTableBytes is what a full table holds, its index included
	// (some 40 bytes an entry): about 9 MiB; 100,000 authors without
	// names (the bench's seed) take about 5 MiB. readsvc's memory limit
	// leaves room for it.
	ProfileTableBytes = DefaultProfileEntries*40 + DefaultProfileBytes
)

// profileTable is the in-process copy of author profiles: an index of
// plain values into one byte arena that holds the names and avatar URLs.
// Neither holds a pointer, so the collector never marks its entries:
// 100,000 profiles as a map of strings added an eleventh to what every
// cycle marked, measured when the page values were still in groupcache's
// LRU (they are in freecache now, store.go, for the same reason). Full (by
// entries or by bytes), it is cleared and fills again; a removed entry
// leaves its bytes in the arena until then. Not safe for concurrent use
// (authors holds its lock).
type profileTable struct {
	index      map[int64]profileRef
	arena      []byte
	maxEntries int
	maxBytes   int
}

type profileRef struct {
	off          uint32
	name, avatar uint16 // lengths in the arena, name first
	bannedUntil  int64
	at           int64 // when it was read, Unix nanoseconds
}

func newProfileTable(maxEntries, maxBytes int) *profileTable {
	return &profileTable{index: make(map[int64]profileRef), maxEntries: maxEntries, maxBytes: maxBytes}
}

// get returns user's profile and when it was read.
func (t *profileTable) get(user int64) (profiles.Profile, time.Time, bool) {
	r, ok := t.index[user]
	if !ok {
		return profiles.Profile{}, time.Time{}, false
	}
	name := t.arena[r.off : r.off+uint32(r.name)]
	avatar := t.arena[r.off+uint32(r.name) : r.off+uint32(r.name)+uint32(r.avatar)]
	return profiles.Profile{UserID: user, DisplayName: string(name), AvatarURL: string(avatar), BannedUntil: r.bannedUntil}, time.Unix(0, r.at), true
}

// put keeps p as read at at, clearing the table first when it is full. A
// profile too long for the table (beyond what writesvc accepts) is not
// kept.
func (t *profileTable) put(p profiles.Profile, at time.Time) {
	n := len(p.DisplayName) + len(p.AvatarURL)
	if len(p.DisplayName) > math.MaxUint16 || len(p.AvatarURL) > math.MaxUint16 || n > t.maxBytes {
		delete(t.index, p.UserID)
		return
	}
	if _, ok := t.index[p.UserID]; !ok && len(t.index) >= t.maxEntries || len(t.arena)+n > t.maxBytes {
		t.reset()
	}
	off := len(t.arena)
	t.arena = append(append(t.arena, p.DisplayName...), p.AvatarURL...)
	t.index[p.UserID] = profileRef{off: uint32(off), name: uint16(len(p.DisplayName)), avatar: uint16(len(p.AvatarURL)), bannedUntil: p.BannedUntil, at: at.UnixNano()}
}

func (t *profileTable) del(user int64) { delete(t.index, user) }

// reset drops every entry, keeping the index's and the arena's room.
func (t *profileTable) reset() {
	clear(t.index)
	t.arena = t.arena[:0]
}
