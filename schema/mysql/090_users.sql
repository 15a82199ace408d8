-- Author profiles: what a comment page shows of each author. The table
-- stands for a user service's; writesvc's PUT /v1/me/profile writes it,
-- cdc follows it (and user_bans) to keep readsvc's copies current.
CREATE TABLE IF NOT EXISTS users (
  id           BIGINT       NOT NULL,                   -- the JWT sub
  display_name VARCHAR(64)  NOT NULL,                   -- NFC, 1..64 characters, no control characters
  avatar_url   VARCHAR(512) NOT NULL DEFAULT '',        -- https URL or empty
  updated_at   DATETIME(6)  NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
