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
//	                       seen that Cassandra may not hold yet
//	vc:{V}:s:ID     STRING settled marker: the syncer made version X durable
//	vc:{V}:lease    STRING fill lease across readsvc processes
//
// Channel vc:inval carries "V VERSION" after every bump.
package pagecache

import (
	"fmt"
	"strconv"
	"strings"
)

// InvalChannel is the pub/sub channel of cache-version bumps.
const InvalChannel = "vc:inval"

func tag(video int64) string { return "vc:{" + strconv.FormatInt(video, 10) + "}:" }

// Keys of one video.
func metaKey(v int64) string              { return tag(v) + "meta" }
func timeKey(v int64) string              { return tag(v) + "time" }
func bodyKey(v int64) string              { return tag(v) + "body" }
func verKey(v int64) string               { return tag(v) + "ver" }
func overlayKey(v int64) string           { return tag(v) + "ov" }
func settledKey(v int64, id int64) string { return tag(v) + "s:" + strconv.FormatInt(id, 10) }
func leaseKey(v int64) string             { return tag(v) + "lease" }

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
