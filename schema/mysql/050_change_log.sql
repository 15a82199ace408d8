-- One truth (docs/one-truth.md): MySQL writes its own change log. Every
-- committed change of a comment, a like or a pin — made by writesvc, by a
-- hand-written INSERT/UPDATE/DELETE, a multi-row statement or a migration —
-- puts its event into the outbox IN THE SAME TRANSACTION, through the
-- triggers below. The relay publishes the outbox to Kafka and the syncer
-- applies it to Cassandra, so the read model hears of every change there
-- is, in commit order per row, exactly as the rows say. writesvc no longer
-- writes comment, like or pin events itself: there is one path, not two.
--
-- The payloads are comment.Event JSON (schema 1), decoded by
-- comment.DecodeEvent like any other; TestTriggerEventsDecode pins the
-- shape. Every statement is safe to re-run.

-- A hand-written INSERT may leave out version: the row then starts at the
-- clock in microseconds, as comment.NextVersion(0, now) would.
ALTER TABLE comments ALTER COLUMN version SET DEFAULT 0;

CREATE TRIGGER IF NOT EXISTS comments_version_start BEFORE INSERT ON comments FOR EACH ROW
  SET NEW.version = IF(NEW.version > 0, NEW.version, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED));

CREATE TRIGGER IF NOT EXISTS comments_change_log_insert AFTER INSERT ON comments FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (NEW.video_id, NEW.id, NEW.version, 'created', JSON_OBJECT(
    'schema', 1, 'type', 'created', 'version', NEW.version,
    'comment', JSON_OBJECT(
      'id', NEW.id, 'video_id', NEW.video_id, 'user_id', NEW.user_id, 'parent_id', NEW.parent_id,
      'content', NEW.content, 'status', NEW.status,
      'created_at', DATE_FORMAT(NEW.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),     -- DATETIME(6) holds UTC
      'edited_at', DATE_FORMAT(NEW.edited_at, '%Y-%m-%dT%H:%i:%s.%fZ'),       -- NULL → null: never edited
      'like_count', NEW.like_count, 'reply_count', NEW.reply_count, 'version', NEW.version)),
    NOW(6));

-- Every UPDATE is an event, also one that changes nothing readers see (a
-- reason, updated_at): comments_version_bump has moved the version, cdc
-- records it, and the syncer settles exactly that version. The type only
-- names the change; consumers apply every comment event as state.
CREATE TRIGGER IF NOT EXISTS comments_change_log_update AFTER UPDATE ON comments FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (NEW.video_id, NEW.id, NEW.version,
    IF(NEW.status <> OLD.status AND NEW.status IN ('approved', 'rejected', 'deleted'), NEW.status, 'edited'),
    JSON_OBJECT(
      'schema', 1,
      'type', IF(NEW.status <> OLD.status AND NEW.status IN ('approved', 'rejected', 'deleted'), NEW.status, 'edited'),
      'version', NEW.version,
      'comment', JSON_OBJECT(
        'id', NEW.id, 'video_id', NEW.video_id, 'user_id', NEW.user_id, 'parent_id', NEW.parent_id,
        'content', NEW.content, 'status', NEW.status,
        'created_at', DATE_FORMAT(NEW.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'edited_at', DATE_FORMAT(NEW.edited_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
        'like_count', NEW.like_count, 'reply_count', NEW.reply_count, 'version', NEW.version)),
    NOW(6));

-- A hard DELETE (an erasure by hand) is the row going away: a "deleted"
-- event at version + 1, the version cdc records the removal at
-- (cdc/rowmap), so the syncer settles what cdc recorded.
CREATE TRIGGER IF NOT EXISTS comments_change_log_delete AFTER DELETE ON comments FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (OLD.video_id, OLD.id, OLD.version + 1, 'deleted', JSON_OBJECT(
    'schema', 1, 'type', 'deleted', 'version', OLD.version + 1,
    'comment', JSON_OBJECT(
      'id', OLD.id, 'video_id', OLD.video_id, 'user_id', OLD.user_id, 'parent_id', OLD.parent_id,
      'content', '', 'status', 'deleted',                                    -- an erased row keeps no content
      'created_at', DATE_FORMAT(OLD.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
      'edited_at', DATE_FORMAT(OLD.edited_at, '%Y-%m-%dT%H:%i:%s.%fZ'),
      'like_count', 0, 'reply_count', OLD.reply_count, 'version', OLD.version + 1)),
    NOW(6));

-- A like row that appears or goes is a +1 or −1 (an INSERT IGNORE that
-- inserted nothing fires nothing). The syncer orders likes by Kafka offset.
CREATE TRIGGER IF NOT EXISTS comment_likes_change_log_insert AFTER INSERT ON comment_likes FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (NEW.video_id, NEW.comment_id, 0, 'like', JSON_OBJECT(
    'schema', 1, 'type', 'like', 'version', 0,
    'like', JSON_OBJECT('comment_id', NEW.comment_id, 'video_id', NEW.video_id, 'user_id', NEW.user_id, 'delta', 1)),
    NOW(6));

CREATE TRIGGER IF NOT EXISTS comment_likes_change_log_delete AFTER DELETE ON comment_likes FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (OLD.video_id, OLD.comment_id, 0, 'like', JSON_OBJECT(
    'schema', 1, 'type', 'like', 'version', 0,
    'like', JSON_OBJECT('comment_id', OLD.comment_id, 'video_id', OLD.video_id, 'user_id', OLD.user_id, 'delta', -1)),
    NOW(6));

-- Any UPDATE of a pin moves its version forward, whoever runs it (as
-- comments_version_bump does for comments).
CREATE TRIGGER IF NOT EXISTS video_pins_version_bump BEFORE UPDATE ON video_pins FOR EACH ROW
  SET NEW.version = GREATEST(OLD.version + 1, NEW.version, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED));

-- A pin row's state at its version; a hand-made DELETE of the row is
-- "nothing pinned" at version + 1, as cdc reads it (rowmap.Pins).
CREATE TRIGGER IF NOT EXISTS video_pins_change_log_insert AFTER INSERT ON video_pins FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (NEW.video_id, NEW.comment_id, NEW.version, 'pinned', JSON_OBJECT(
    'schema', 1, 'type', 'pinned', 'version', NEW.version,
    'pin', JSON_OBJECT('video_id', NEW.video_id, 'comment_id', NEW.comment_id, 'version', NEW.version)),
    NOW(6));

CREATE TRIGGER IF NOT EXISTS video_pins_change_log_update AFTER UPDATE ON video_pins FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (NEW.video_id, NEW.comment_id, NEW.version, 'pinned', JSON_OBJECT(
    'schema', 1, 'type', 'pinned', 'version', NEW.version,
    'pin', JSON_OBJECT('video_id', NEW.video_id, 'comment_id', NEW.comment_id, 'version', NEW.version)),
    NOW(6));

CREATE TRIGGER IF NOT EXISTS video_pins_change_log_delete AFTER DELETE ON video_pins FOR EACH ROW
  INSERT INTO outbox (video_id, comment_id, version, event_type, payload, created_at)
  VALUES (OLD.video_id, 0, OLD.version + 1, 'pinned', JSON_OBJECT(
    'schema', 1, 'type', 'pinned', 'version', OLD.version + 1,
    'pin', JSON_OBJECT('video_id', OLD.video_id, 'comment_id', 0, 'version', OLD.version + 1)),
    NOW(6));
