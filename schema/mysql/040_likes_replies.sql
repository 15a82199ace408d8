-- Issue #10 (docs/likes-hot-replies.md): pins and edits. Likes use
-- comment_likes of 001; reply_count of 001 is kept by writesvc. MariaDB
-- syntax (ADD COLUMN IF NOT EXISTS), every statement safe to re-run.

-- When the author last edited the content; NULL = never. Shown to readers
-- as "edited_at". Not part of any index: it is only displayed.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS edited_at DATETIME(6) NULL AFTER created_at;

-- One pinned comment per video. Unpinning keeps the row with comment_id 0,
-- so the row's version keeps increasing across pin, unpin and pin again
-- (cdc and the syncer order pin changes by it).
CREATE TABLE IF NOT EXISTS video_pins (
  video_id    BIGINT      NOT NULL,
  comment_id  BIGINT      NOT NULL DEFAULT 0,              -- 0 = nothing pinned
  pinned_by   BIGINT      NOT NULL,                        -- the moderator's user id
  updated_at  DATETIME(6) NOT NULL,
  version     BIGINT      NOT NULL,                        -- comment.NextVersion per change, like comments.version
  PRIMARY KEY (video_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- An author's own pending comments of a video (readsvc's private view and
-- the moderation console): (video_id, user_id, status) instead of scanning
-- the video's pending queue.
CREATE INDEX IF NOT EXISTS comments_by_video_user ON comments (video_id, user_id, status, id);
