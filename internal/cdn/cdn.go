// Package cdn is the shared-cache tier in front of readsvc: the tags
// readsvc puts on its responses, the purges cdc sends when a row changes,
// and a private Varnish (Debian's varnish with the xkey vmod of
// varnish-modules) for tests, the bench and the demo.
//
// # Tags
//
// readsvc answers every response with a Surrogate-Key header: a video's
// comment pages (either sort, any cursor) carry VideoTag(video); a single
// comment carries CommentTag(id); a reply list carries CommentTag(parent).
// The VCL copies Surrogate-Key to xkey's header and strips both before a
// response leaves Varnish.
//
// # Purges
//
// cdc purges ChangeTags(change) after the change is in Redis — never
// before, or Varnish could refetch the old page from readsvc and keep it.
// A page of the video is purged whatever changed in it: a new comment, a
// removal, an edit, a like that reorders the hot page or a pin all change
// page one or shift the pages after it, and tags of finer grain would need
// the page's comment ids in readsvc's cached value. Purges are coalesced
// (one PURGE per burst of changes, however many rows) and sent three
// times: at once; again after a short settle (cdc's 150 ms), because a
// fetch already under way when the first purge landed read its page
// before the change and stores it after the purge; and again after
// readsvc's own epoch (its max-age), because readsvc may still serve a
// page built before the change from its in-process tier for up to one
// epoch. Varnish marks its fetches (FetchHeader) and readsvc answers them
// at the video's version and with the authors' profiles as Redis holds
// them, so the first purge's refetch sees the change; the later purges
// bound whatever race is left. A purge that cannot be delivered is
// retried; what is still lost is bounded by s-maxage, the
// shared caches' TTL readsvc announces.
package cdn

import (
	"strconv"

	"github.com/vidcomments/vidcomments/internal/pagecache"
)

// VideoTag tags every comment page of video.
func VideoTag(video int64) string { return "v" + strconv.FormatInt(video, 10) }

// CommentTag tags the response of comment id and the reply list of it.
func CommentTag(id int64) string { return "c" + strconv.FormatInt(id, 10) }

// UserTag tags every page that shows the author's profile.
func UserTag(user int64) string { return "u" + strconv.FormatInt(user, 10) }

// ChangeTags are the tags to purge when a comment row changes: its video's
// pages, the comment itself and its parent's reply list.
func ChangeTags(ch pagecache.Change) []string {
	tags := []string{VideoTag(ch.VideoID), CommentTag(ch.ID)}
	if ch.ParentID != 0 {
		tags = append(tags, CommentTag(ch.ParentID))
	}
	return tags
}

// Headers of the protocol between readsvc, Varnish and cdc.
const (
	// KeyHeader carries a response's tags, space-separated.
	KeyHeader = "Surrogate-Key"
	// PurgeHeader carries the tags of a PURGE request, space-separated.
	PurgeHeader = "xkey-purge"
	// FetchHeader marks Varnish's fetches of a copy it will share:
	// readsvc then confirms the video's version with Redis first.
	FetchHeader = "X-Vidcomments-Shared"
)
