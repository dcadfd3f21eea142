package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// AcquireLease makes holder the owner of the named lease until now+ttl, if
// the lease is free, expired, or already the holder's. It reports whether
// holder owns it now.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	var owner string
	err := s.Write(ctx, func(t *Tx) error {
		return t.queryRow(`INSERT INTO leases (name, holder, expires_at) VALUES (?1, ?2, ?3)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.expires_at <= ?4 OR leases.holder = excluded.holder
			RETURNING holder`, name, holder, millis(now.Add(ttl)), millis(now)).Scan(&owner)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil && owner == holder, err
}

// ReleaseLease gives up holder's lease, if it still holds it.
func (s *Store) ReleaseLease(ctx context.Context, name, holder string) error {
	return s.Write(ctx, func(t *Tx) error {
		_, err := t.exec("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)
		return err
	})
}

// Setting returns a stored value, or ErrNotFound.
func (s *Store) Setting(ctx context.Context, key string) (string, error) {
	var value string
	err := s.readRow(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return value, err
}

// SetSetting stores a value under key.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	return s.Write(ctx, func(t *Tx) error {
		_, err := t.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}
