-- Issue #18: content safety at write time (writesvc/safety). Each comment
-- keeps the verdict it was staged with, for the moderation queue and the
-- console. MariaDB syntax (ADD COLUMN IF NOT EXISTS), safe to re-run.
--
-- The defaults are what a comment nothing objected to gets, so rows from
-- before this file, hand-written INSERTs and the bench's seeding need not
-- name the columns. The change-log triggers of 050 build their event JSON
-- from named columns only: these are not in any event (readers never see
-- them) and an UPDATE never changes them.

-- allow | hold (a refused comment is never stored). A held comment is
-- stored pending. Text, not ENUM, like status: binlog row images stay
-- readable.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS safety_verdict VARCHAR(8) NOT NULL DEFAULT 'allow';
ALTER TABLE comments ADD CONSTRAINT IF NOT EXISTS comments_safety_verdict_valid CHECK (safety_verdict IN ('allow', 'hold'));

-- The rule that decided (safety.Reason… codes: blocked_word, duplicate,
-- classifier_unavailable, …); '' when none did.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS safety_reason VARCHAR(32) NOT NULL DEFAULT '';

-- For the moderator: what matched, or the classifier's own words.
ALTER TABLE comments ADD COLUMN IF NOT EXISTS safety_detail VARCHAR(255) NOT NULL DEFAULT '';
