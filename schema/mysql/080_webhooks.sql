-- Webhooks (writesvc/webhook): endpoints operators register for comment
-- events, and one delivery row per endpoint and event. The deliveries are
-- written by a trigger on the outbox, so they commit in the transaction of
-- the change itself — writesvc's, or a hand-written statement's (one truth,
-- 050_change_log.sql) — and nothing is lost if writesvc dies; writesvc's
-- dispatcher then sends them, signed, with retries. Every statement is
-- safe to re-run.

CREATE TABLE IF NOT EXISTS webhooks (
  id          BIGINT        NOT NULL AUTO_INCREMENT,
  url         VARCHAR(2048) NOT NULL,                    -- http(s) URL the events are POSTed to
  secret      VARCHAR(128)  NOT NULL,                    -- the HMAC-SHA256 key of X-Vidcomments-Signature
  events      VARCHAR(255)  NOT NULL,                    -- comma-separated: comment.approved, comment.reply, comment.removed
  created_by  BIGINT        NOT NULL,                    -- the moderator's user id
  created_at  DATETIME(6)   NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  id              BIGINT       NOT NULL AUTO_INCREMENT,
  webhook_id      BIGINT       NOT NULL,
  outbox_id       BIGINT       NOT NULL,                 -- the change's outbox row: one delivery per endpoint, event and change
  event           VARCHAR(32)  NOT NULL,
  comment_id      BIGINT       NOT NULL,
  payload         BLOB         NOT NULL,                 -- the outbox's comment.Event JSON, as the change wrote it
  attempts        INT          NOT NULL DEFAULT 0,
  next_attempt_at DATETIME(6)  NOT NULL,                 -- due from then; a claim moves it a lease ahead
  last_status     SMALLINT     NULL,                     -- HTTP status of the last attempt; NULL: none, or no answer
  last_error      VARCHAR(512) NULL,
  delivered_at    DATETIME(6)  NULL,                     -- set once, by the attempt a 2xx answered
  failed_at       DATETIME(6)  NULL,                     -- set when attempts ran out
  created_at      DATETIME(6)  NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY webhook_deliveries_once (webhook_id, outbox_id, event),
  KEY webhook_deliveries_due (delivered_at, failed_at, next_attempt_at),
  KEY webhook_deliveries_by_hook (webhook_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What each outbox row means to a webhook: an approval; a removal (rejected
-- or deleted); a reply that readers now see (created visible, or approved)
-- — its receiver notifies the parent's author.
CREATE TRIGGER IF NOT EXISTS outbox_webhook_deliveries AFTER INSERT ON outbox FOR EACH ROW
  INSERT IGNORE INTO webhook_deliveries (webhook_id, outbox_id, event, comment_id, payload, next_attempt_at, created_at)
  SELECT w.id, NEW.id, e.event, NEW.comment_id, NEW.payload, NOW(6), NOW(6)
  FROM webhooks w
  JOIN (
    SELECT 'comment.approved' AS event FROM DUAL WHERE NEW.event_type = 'approved'
    UNION ALL
    SELECT 'comment.removed' FROM DUAL WHERE NEW.event_type IN ('rejected', 'deleted')
    UNION ALL
    SELECT 'comment.reply' FROM DUAL
      WHERE NEW.event_type IN ('created', 'approved')
        AND JSON_VALUE(CONVERT(NEW.payload USING utf8mb4), '$.comment.parent_id') <> 0
        AND JSON_VALUE(CONVERT(NEW.payload USING utf8mb4), '$.comment.status') = 'approved'
  ) e ON FIND_IN_SET(e.event, w.events) > 0;
