package store

import (
	"context"
	"fmt"
	"time"
)

// Profile is an author's profile as writesvc stores it (the users table).
type Profile struct {
	UserID      int64
	DisplayName string // validated by the caller (validate.DisplayName)
	AvatarURL   string // validated by the caller (validate.AvatarURL)
	UpdatedAt   time.Time
}

const upsertProfile = `INSERT INTO users (id, display_name, avatar_url, updated_at) VALUES (?, ?, ?, ?)
	ON DUPLICATE KEY UPDATE display_name = VALUES(display_name), avatar_url = VALUES(avatar_url), updated_at = VALUES(updated_at)`

// PutProfile creates or replaces a user's profile. cdc sees the row change
// and refreshes the copies readsvc shows.
func (s *Store) PutProfile(ctx context.Context, p Profile) (Profile, error) {
	p.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
	if _, err := s.db.ExecContext(ctx, upsertProfile, p.UserID, p.DisplayName, p.AvatarURL, p.UpdatedAt); err != nil {
		return Profile{}, fmt.Errorf("put profile of user %d: %w", p.UserID, err)
	}
	return p, nil
}
