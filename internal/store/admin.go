package store

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"time"

	"github.com/alertd/alertd"
)

// AdminLinksSince counts the sign-in links made for email since the time,
// and returns when the latest was made (zero when none).
func (t *Tx) AdminLinksSince(email string, since time.Time) (n int, latest time.Time, err error) {
	var last sql.NullInt64
	err = t.queryRow("SELECT count(*), max(created_at) FROM admin_links WHERE email = ? AND created_at >= ?",
		email, millis(since)).Scan(&n, &last)
	if last.Valid {
		latest = time.UnixMilli(last.Int64).UTC()
	}
	return n, latest, err
}

// InsertAdminLink stores a sign-in link by the hash of its secret, and
// forgets the links made before forgetBefore.
func (t *Tx) InsertAdminLink(hash, email string, now, expires, forgetBefore time.Time) error {
	if _, err := t.exec("DELETE FROM admin_links WHERE created_at < ?", millis(forgetBefore)); err != nil {
		return err
	}
	_, err := t.exec("INSERT INTO admin_links (hash, email, created_at, expires_at) VALUES (?, ?, ?, ?)",
		hash, email, millis(now), millis(expires))
	return err
}

// AdminLink returns the address of the unused, unexpired sign-in link with
// the hash, or ErrNotFound.
func (s *Store) AdminLink(ctx context.Context, hash string, now time.Time) (string, error) {
	var email string
	err := s.readRow(ctx, "SELECT email FROM admin_links WHERE hash = ? AND used_at IS NULL AND expires_at > ?",
		hash, millis(now)).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return email, err
}

// UseAdminLink spends the unused, unexpired sign-in link with the hash and
// returns its address, or ErrNotFound.
func (t *Tx) UseAdminLink(hash string, now time.Time) (string, error) {
	var email string
	err := t.queryRow(`UPDATE admin_links SET used_at = ?1 WHERE hash = ?2 AND used_at IS NULL AND expires_at > ?1
		RETURNING email`, millis(now), hash).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return email, err
}

// InsertAdminSession stores a session by the hash of its cookie's value,
// and deletes the sessions expired by its start.
func (t *Tx) InsertAdminSession(hash string, s alertd.Session) error {
	if _, err := t.exec("DELETE FROM admin_sessions WHERE expires_at <= ?", millis(s.CreatedAt)); err != nil {
		return err
	}
	_, err := t.exec("INSERT INTO admin_sessions (hash, email, created_at, expires_at) VALUES (?, ?, ?, ?)",
		hash, s.Email, millis(s.CreatedAt), millis(s.ExpiresAt))
	return err
}

// AdminSession returns the unexpired session with the hash, or ErrNotFound.
func (s *Store) AdminSession(ctx context.Context, hash string, now time.Time) (alertd.Session, error) {
	var sess alertd.Session
	var created, expires int64
	err := s.readRow(ctx, "SELECT email, created_at, expires_at FROM admin_sessions WHERE hash = ? AND expires_at > ?",
		hash, millis(now)).Scan(&sess.Email, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return sess, ErrNotFound
	}
	sess.CreatedAt, sess.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	return sess, err
}

// DeleteAdminSession deletes the session with the hash and returns its
// address, or ErrNotFound when there is none.
func (t *Tx) DeleteAdminSession(hash string) (string, error) {
	var email string
	err := t.queryRow("DELETE FROM admin_sessions WHERE hash = ? RETURNING email", hash).Scan(&email)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return email, err
}

// Audit appends an entry to the audit log.
func (t *Tx) Audit(e alertd.AuditEntry) error {
	_, err := t.exec("INSERT INTO audit_log (at, who, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
		millis(e.At), e.Who, e.Action, e.Subject, e.Detail)
	return err
}

// auditPage is a page of the audit log, newest first, below an id: found
// through the primary key, so a page deep in a long log costs what the
// first one does. (A condition that may be true for every row, like
// "?1 <= 0 OR id < ?1", makes SQLite walk the log from its newest entry.)
const auditPage = `SELECT id, at, who, action, subject, detail FROM audit_log
	WHERE id < ?1 ORDER BY id DESC LIMIT ?2`

// AuditLog returns up to limit entries, newest first, those with an id
// below before when it is positive.
func (s *Store) AuditLog(ctx context.Context, limit int, before int64) ([]alertd.AuditEntry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.readRows(ctx, auditPage, before, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var entries []alertd.AuditEntry
	for rows.Next() {
		var e alertd.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Who, &e.Action, &e.Subject, &e.Detail); err != nil {
			return nil, err
		}
		e.At = time.UnixMilli(at).UTC()
		entries = append(entries, e)
	}
	return entries, rows.Err()
}
