// Package pagecache is the Redis side of vidcomments' read model, shared by
// the three services that touch it: readsvc reads pages and fills them after
// a miss, cdc edits them the moment a row changes, and the syncer settles the
// overlay once Cassandra holds a change. Every key of one video carries the
// hash tag {video_id}, so a video's keys share one Redis Cluster slot and
// every script below is single-slot.
//
// Per video:
//
//	vc:{V}:meta     HASH   total, complete — exists iff the video's pages are cached
//	vc:{V}:time     ZSET   the hot window: newest N visible ids, all scores 0,
//	                       members zero-padded to 19 digits so BYLEX order is id order
//	vc:{V}:body     HASH   id → the comment's public JSON, exactly as served
//	vc:{V}:ver      STRING cache version: bumped on every change, never reset
//	vc:{V}:ov       HASH   overlay: id → "version|visible|body" of changes cdc has
//	                       seen: pending ones (Cassandra may not hold them yet) and
//	                       settled ones kept for the overlay horizon
//	vc:{V}:ovt      ZSET   settled overlay entries: id scored by settle time (µs)
//	vc:{V}:fence    STRING the version of the last bump whose change is NOT in the
//	                       overlay (Invalidate, a settle the cache never saw); lives
//	                       twice the overlay horizon
//	vc:{V}:s:ID     STRING settled marker: the syncer made version X durable
//	vc:{V}:lease    STRING fill lease across readsvc processes
//	vc:{V}:lk       HASH   id → "offset|count": the newest like count ApplyLikes was
//	                       given (offset = the Kafka offset it includes); guards
//	                       ApplyLikes and gives Record and fills their like counts
//	vc:{V}:hot      ZSET   the hot window: the top HotWindow visible roots by likes,
//	                       score = likes, members zero-padded ids, so ZRANGE … REV
//	                       is likes desc, id desc
//	vc:{V}:hmeta    HASH   total, complete, gen (the fill's time) — exists iff the hot
//	                       window is cached
//	vc:{V}:hbody    HASH   member → body of the hot window (like_count spliced in)
//	vc:{V}:hs:E     ZSET   a copy of the hot window taken at most once per snapshot
//	                       epoch E: the frozen order later hot pages read
//	vc:{V}:hsc:E    STRING "complete|gen": whether the snapshot E holds every visible
//	                       root, and the gen of the window it was taken from
//	vc:{V}:r:P      ZSET   cached replies of root P (newest first), as vc:{V}:time
//	vc:{V}:rm:P     HASH   total, complete, gen — the reply list's meta; a list whose
//	                       gen is not vc:{V}:rgen is not cached
//	vc:{V}:rb:P     HASH   member → reply body
//	vc:{V}:rgen     STRING generation of the reply lists: Invalidate moves it
//	vc:{V}:u:U      HASH   id → body of user U's pending comments (their own view)
//	vc:{V}:pin      STRING "version|id" of the pinned comment (id 0: none)
//
// Global (on a Redis Cluster, one per master: vc:{eN}:epoch):
//
//	vc:epoch        STRING "ok" | "r": the epoch — Redis kept its memory since cdc
//	                       last recovered; see "Redis data loss" below
//
// Channel vc:inval carries "V VERSION" after every bump.
//
// # Operations, and who calls them
//
// No other package builds these keys (internal/buildtest guards it); the
// services call named operations, each one script or one MULTI/EXEC:
//
//	cdc, per row change        Record (overlay entry, list edits, private view, bump,
//	                           publish), SetPin; on a Redis data loss Epoch, SetEpoch,
//	                           Invalidate, SetPending; reset-position ScanVideos
//	syncer, once Cassandra     SettleMany / Settle (the overlay entry of exactly that
//	holds a version            version, or drop the pages when cdc never saw it),
//	                           ApplyLikes (vc:{V}:lk, scores and bodies)
//	readsvc, to serve          Read, ReadHot, ReadReplies, Pin, Pending, Version
//	readsvc, to fill           TryLeaseOf, BeginFill, Overlay, then FillSince, FillHot,
//	                           FillReplies (one Lua merge: fillLua), FillPin, ReleaseLeaseOf
//	the inspector              Snapshot, SnapshotHot, SnapshotReplies, Pending, Pin;
//	                           its repairs Invalidate, SetPin, DropPending
//
// The order that makes a change reach every tier: the row commits; cdc's
// Record writes the overlay entry and edits the cached lists in the same
// script that bumps the version; the syncer writes Cassandra and then
// settles that entry. A fill takes its token (BeginFill) before it reads the
// overlay, and the overlay before Cassandra, so whatever it misses is in the
// overlay its fill script merges (next section).
//
// # Fills of busy videos
//
// A backfill takes a FillToken (the cache version and the time) before it
// reads the overlay and then Cassandra, and hands the window it built to
// FillSince with the version each entry was built from (the Cassandra row's
// or the overlay entry's). On a video that changes every few milliseconds
// the version has always moved by then, so FillSince does not require it to
// be unchanged. Instead the fill script merges the video's CURRENT overlay
// into the window, atomically, with exactly the rules of Merge: an overlay
// entry newer than the fill's entry for that id (or whose id the fill lacks)
// wins — a visible one is added if it falls inside the window's range (newer
// than the oldest filled id, or the fill is complete), an invisible one is
// removed — then the window is trimmed to Window and the total adjusted by
// what the merge added and removed. Every change recorded since the token is
// in the overlay (Record writes it there in the same script that bumps the
// version), so the merged window is what a fresh fill would build.
//
// What could still be missing is a change that was recorded AND whose
// overlay entry was dropped while the fill ran. So Settle no longer drops an
// entry it clears: it keeps it (it still says what Cassandra holds) and
// notes its settle time in vc:{V}:ovt; each Settle purges up to purgeBatch
// entries settled more than OverlayHorizon ago. An entry settled before the
// fill's token was taken is in Cassandra before the fill reads Cassandra;
// one settled later cannot be purged before the fill script runs, as long as
// the fill is younger than the horizon. FillSince therefore rejects a fill
// whose version moved only if it is OverlayHorizon old or older (the age is
// measured with the filler's own clock, Options.Now, from the token to the
// script call; the purge cutoff with the syncer's: the horizon must exceed
// the clock skew between syncer hosts by far, which at 60 s it does), or if
// the fence is above its token: a bump whose change is not in the overlay
// (Invalidate, or a settle of a version cdc never recorded) still voids
// every fill in flight, as before.
//
// The overlay stays bounded: it holds the pending changes plus the changes
// settled within the last OverlayHorizon (plus a backlog that each Settle
// shrinks by up to purgeBatch) — on a video taking 100 changes a second and
// a 60 s horizon, about 6,000 entries, each one comment body. A fill script
// reads it whole (HGETALL), so the horizon trades fill cost on a busy video
// against how slow a fill may be. Overlay hides the settled entries, so its
// callers see the changes Cassandra may not hold yet, as before.
//
// # Redis data loss
//
// The overlay and the settled markers are Redis' memory of which changes a
// cached window already holds: they make Record's edits of a window exact
// and a replayed binlog range harmless. A Redis that loses its data (a
// restart without persistence, FLUSHALL, a failover to an empty replica)
// loses that memory while Cassandra, and so every window refilled from it,
// keeps the changes. Replaying edits onto such a window counts them twice.
//
// So the loss must be seen, and it is seen by what an empty Redis lacks:
// the epoch key vc:epoch (on a Redis Cluster one key per master, vc:{eN}:epoch
// with a tag that hashes into that master's slots, since each master can
// lose its data alone). cdc, the only writer of window edits, owns it:
//
//	"ok"  Redis has kept its memory since cdc last recovered
//	"r"   cdc is recovering (it died mid-way if nobody is)
//	none  Redis lost its data, or cdc never ran against it
//
// cdc checks the epoch before it applies changes (at most every
// EpochCheckEvery) and when it finds it missing or "r" it recovers: it marks
// "r", drops every cached video (Invalidate), rebuilds the private pending
// views from MySQL, and records every change up to the binlog's end as of
// the detection with Change.Recovering: the overlay entry is written, but
// as already settled, and the video's windows are dropped instead of
// edited. Once past that end it marks "ok" and edits windows again. A
// change committed after the detection cannot have been settled before the
// loss, so from there the ordinary protocol (settled markers, the fence)
// holds again. Windows refilled between the loss and its detection may have
// taken edits they already held: the Invalidate of every video at the start
// of the recovery drops them.
package pagecache

import (
	"fmt"
	"strconv"
	"strings"
)

// InvalChannel is the pub/sub channel of cache-version bumps.
const InvalChannel = "vc:inval"

func tag(video int64) string { return "vc:{" + strconv.FormatInt(video, 10) + "}:" }

// KeyName is the name of one of video's keys, name as the package doc
// lists it after "vc:{V}:" ("time", "hot", "r:P", "u:U" …): for messages
// that say where something sits. Only this package builds keys.
func KeyName(video int64, name string) string { return tag(video) + name }

// Keys of one video.
func metaKey(v int64) string              { return tag(v) + "meta" }
func timeKey(v int64) string              { return tag(v) + "time" }
func bodyKey(v int64) string              { return tag(v) + "body" }
func verKey(v int64) string               { return tag(v) + "ver" }
func overlayKey(v int64) string           { return tag(v) + "ov" }
func settledKey(v int64, id int64) string { return tag(v) + "s:" + strconv.FormatInt(id, 10) }
func leaseKey(v int64) string             { return tag(v) + "lease" }
func settledAtKey(v int64) string         { return tag(v) + "ovt" }
func fenceKey(v int64) string             { return tag(v) + "fence" }
func likesKey(v int64) string             { return tag(v) + "lk" }
func hotKey(v int64) string               { return tag(v) + "hot" }
func hotMetaKey(v int64) string           { return tag(v) + "hmeta" }
func hotBodyKey(v int64) string           { return tag(v) + "hbody" }
func snapKey(v, epoch int64) string       { return tag(v) + "hs:" + strconv.FormatInt(epoch, 10) }
func snapDoneKey(v, epoch int64) string   { return tag(v) + "hsc:" + strconv.FormatInt(epoch, 10) }
func replyKey(v, parent int64) string     { return tag(v) + "r:" + strconv.FormatInt(parent, 10) }
func replyMetaKey(v, parent int64) string { return tag(v) + "rm:" + strconv.FormatInt(parent, 10) }
func replyBodyKey(v, parent int64) string { return tag(v) + "rb:" + strconv.FormatInt(parent, 10) }
func replyGenKey(v int64) string          { return tag(v) + "rgen" }
func userKey(v, user int64) string        { return tag(v) + "u:" + strconv.FormatInt(user, 10) }
func pinKey(v int64) string               { return tag(v) + "pin" }

// ProfileKey is the key of a user's profile copy (internal/profiles):
// outside any video's hash tag, so profiles spread over a Redis Cluster.
func ProfileKey(user int64) string { return "vc:user:" + strconv.FormatInt(user, 10) }

// member renders an id as a ZSET member whose byte order is numeric order.
func member(id int64) string { return fmt.Sprintf("%019d", id) }

// parseMember is the inverse of member.
func parseMember(s string) (int64, error) { return strconv.ParseInt(strings.TrimLeft(s, "0"), 10, 64) }

// ParseInval parses a message of InvalChannel.
func ParseInval(payload string) (video, version int64, err error) {
	v, ver, ok := strings.Cut(payload, " ")
	if !ok {
		return 0, 0, fmt.Errorf("inval message %q: want \"VIDEO VERSION\"", payload)
	}
	if video, err = strconv.ParseInt(v, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("inval message %q: %w", payload, err)
	}
	if version, err = strconv.ParseInt(ver, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("inval message %q: %w", payload, err)
	}
	return video, version, nil
}
