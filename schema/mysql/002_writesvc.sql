-- What writesvc needs beyond the comment tables of 001: node-number leases
-- for comment ids, stored responses for Idempotency-Key replays, and an
-- audit trail of moderation changes. Portable to MySQL 8 (no MariaDB-only
-- syntax), every statement safe to re-run.

-- One row per node number in use. An instance claims a free or expired row
-- at start and renews it; it stops minting ids as soon as it cannot prove it
-- still holds the lease, so two instances never mint with the same node bits.
CREATE TABLE IF NOT EXISTS node_leases (
  node        SMALLINT     NOT NULL,                    -- 0..1023 (comment.MaxNode): the node bits of comment ids
  owner       CHAR(32)     NOT NULL,                    -- random per claim; renew and release match on it, so a lease taken over cannot be renewed by its old owner
  holder      VARCHAR(255) NOT NULL,                    -- host/pid, for people reading the table
  claimed_at  DATETIME(6)  NOT NULL,
  expires_at  DATETIME(6)  NOT NULL,                    -- database clock: every instance compares it with the same NOW(6)
  PRIMARY KEY (node),
  KEY node_leases_expiry (expires_at)                    -- the claim scan for live leases
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The first response to a POST carrying an Idempotency-Key, written in the
-- same transaction as the comment. A retry with the same key and the same
-- request gets these exact bytes back; another request under the key is a
-- 409. Rows are never deleted: the key stays bound to its comment.
CREATE TABLE IF NOT EXISTS idempotency_responses (
  user_id         BIGINT         NOT NULL,
  idempotency_key VARCHAR(128)   NOT NULL,              -- printable ASCII only (checked by writesvc)
  request_hash    BINARY(32)     NOT NULL,              -- SHA-256 of (video, parent, normalised content)
  comment_id      BIGINT         NOT NULL,
  status_code     SMALLINT       NOT NULL,
  body            VARBINARY(1024) NOT NULL,             -- the response body, byte for byte
  created_at      DATETIME(6)    NOT NULL,
  PRIMARY KEY (user_id, idempotency_key)                -- keys are per user, like comments_idempotency in 001
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;  -- _bin: keys compare byte for byte, case-sensitive

-- Who changed a comment's status, when, from what to what, and why. Written
-- in the transaction of the change; the comment row only keeps the latest
-- reason.
CREATE TABLE IF NOT EXISTS moderation_log (
  id          BIGINT       NOT NULL AUTO_INCREMENT,
  comment_id  BIGINT       NOT NULL,
  actor_id    BIGINT       NOT NULL,                    -- the token's sub: a moderator, or the author deleting their own comment
  actor_role  VARCHAR(16)  NOT NULL,
  action      VARCHAR(16)  NOT NULL,                    -- approve | reject | delete
  from_status VARCHAR(16)  NOT NULL,
  to_status   VARCHAR(16)  NOT NULL,
  reason      VARCHAR(512) NULL,
  version     BIGINT       NOT NULL,                    -- the comment's version after the change
  created_at  DATETIME(6)  NOT NULL,
  PRIMARY KEY (id),
  KEY moderation_log_comment (comment_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
