-- The system of record for comment state. Every change is one transaction
-- that bumps `version`; the trigger below enforces that even for plain SQL
-- run by hand, so cdc and the syncer can always order changes by version.

CREATE TABLE IF NOT EXISTS comments (
  id              BIGINT       NOT NULL,                 -- Snowflake-style: time-ordered, unique across writesvc nodes
  video_id        BIGINT       NOT NULL,
  user_id         BIGINT       NOT NULL,
  parent_id       BIGINT       NOT NULL DEFAULT 0,       -- 0 = root comment
  content         TEXT         NOT NULL,                 -- NFC-normalised UTF-8, stored exactly as returned
  status          VARCHAR(16)  NOT NULL,                 -- text, not ENUM: binlog row images and hand-written SQL stay readable
  reason          VARCHAR(512) NULL,                     -- moderator's reason for a rejection
  like_count      BIGINT       NOT NULL DEFAULT 0,
  reply_count     INT          NOT NULL DEFAULT 0,
  idempotency_key VARCHAR(128) NULL,                     -- client's Idempotency-Key; NULL keys never collide
  request_hash    BINARY(32)   NULL,                     -- SHA-256 of the request, so a reused key with another body is a 409
  created_at      DATETIME(6)  NOT NULL,
  updated_at      DATETIME(6)  NOT NULL,
  version         BIGINT       NOT NULL,                 -- microsecond clock, max(prev+1, now): strictly increasing per row
  PRIMARY KEY (id),
  KEY comments_by_video_status (video_id, status, id),   -- moderation queue per video, approved pages for the inspector
  KEY comments_by_status (status, id),                   -- the global moderation queue, oldest first
  KEY comments_by_parent (parent_id, status, id),        -- replies
  UNIQUE KEY comments_idempotency (user_id, idempotency_key),
  CONSTRAINT comments_status_valid CHECK (status IN ('pending', 'approved', 'rejected', 'deleted'))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;  -- _bin: content compares byte for byte

-- Any UPDATE moves version forward, whoever runs it.
CREATE TRIGGER IF NOT EXISTS comments_version_bump BEFORE UPDATE ON comments FOR EACH ROW
  SET NEW.version = GREATEST(OLD.version + 1, NEW.version, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED));

-- Transactional outbox: written in the same transaction as the comment
-- change; the relay publishes unsent rows to Kafka in id order per video.
CREATE TABLE IF NOT EXISTS outbox (
  id          BIGINT      NOT NULL AUTO_INCREMENT,       -- publish order
  video_id    BIGINT      NOT NULL,                      -- the Kafka key
  comment_id  BIGINT      NOT NULL,
  version     BIGINT      NOT NULL,
  event_type  VARCHAR(32) NOT NULL,
  payload     BLOB        NOT NULL,                      -- the encoded event, exactly as published
  created_at  DATETIME(6) NOT NULL,
  sent_at     DATETIME(6) NULL,                          -- NULL until Kafka acknowledged it
  PRIMARY KEY (id),
  KEY outbox_unsent (sent_at, id)                        -- the relay's scan: WHERE sent_at IS NULL ORDER BY id
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS comment_likes (
  comment_id BIGINT      NOT NULL,
  user_id    BIGINT      NOT NULL,
  video_id   BIGINT      NOT NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (comment_id, user_id)                      -- one like per user, idempotent by construction
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS user_bans (
  user_id    BIGINT       NOT NULL,
  reason     VARCHAR(512) NOT NULL DEFAULT '',
  banned_by  BIGINT       NOT NULL,
  created_at DATETIME(6)  NOT NULL,
  expires_at DATETIME(6)  NULL,                          -- NULL = permanent
  PRIMARY KEY (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Where cdc has applied the binlog up to. Saved only after the cache edits
-- for everything before it are done.
CREATE TABLE IF NOT EXISTS cdc_position (
  name        VARCHAR(64)     NOT NULL,                  -- one row per cdc pipeline
  binlog_file VARCHAR(255)    NOT NULL,
  binlog_pos  BIGINT UNSIGNED NOT NULL,
  gtid_set    TEXT            NULL,
  updated_at  DATETIME(6)     NOT NULL,
  PRIMARY KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
