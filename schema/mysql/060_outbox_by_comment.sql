-- The outbox by comment: an operator's "which events did comment X make,
-- and were they sent?" without a full scan, and bench seed's retiring
-- DELETE (bench/seed.go), which removes the "created" events of the rows
-- its own transaction just inserted. Through outbox_unsent that DELETE
-- walks every unsent row, the other seeding transactions' fresh rows too,
-- and InnoDB answers four of them at once with deadlocks; through this
-- index each transaction touches only its own rows.
CREATE INDEX IF NOT EXISTS outbox_comment ON outbox (comment_id);
