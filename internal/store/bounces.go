package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/alertd/alertd"
)

const bounceColumns = `id, at, kind, source, message_id, subscriber_id, digest_id, email, status,
	diagnostic, evidence, key`

func scanBounce(row rowScanner) (alertd.Bounce, error) {
	var (
		b  alertd.Bounce
		at int64
	)
	err := row.Scan(&b.ID, &at, &b.Kind, &b.Source, &b.MessageID, &b.SubscriberID, &b.DigestID, &b.Email,
		&b.Status, &b.Diagnostic, &b.Evidence, &b.Key)
	b.At = time.UnixMilli(at).UTC()
	return b, err
}

// InsertBounce keeps a bounce, unless one with its key is kept already;
// inserted says which, and id is the new row's.
func (t *Tx) InsertBounce(b alertd.Bounce) (id int64, inserted bool, err error) {
	err = t.queryRow(`INSERT INTO bounces (at, kind, source, message_id, subscriber_id, digest_id, email,
		status, diagnostic, evidence, key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING RETURNING id`,
		millis(b.At), b.Kind, b.Source, b.MessageID, b.SubscriberID, b.DigestID, b.Email,
		b.Status, b.Diagnostic, b.Evidence, b.Key).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return id, err == nil, err
}

// CountBounces returns how many messages to the subscriber bounced with
// the kind since the time, that time included: several reports about one
// message (a daily delay warning, the same bounce by mail and by webhook)
// count as one, and a report matched to no message as one of its own.
func (t *Tx) CountBounces(subscriberID int64, kind alertd.BounceKind, since time.Time) (int, error) {
	var n int
	err := t.queryRow(countBounces, subscriberID, kind, millis(since)).Scan(&n)
	return n, err
}

// countBounces is CountBounces' query. The index of a subscriber's bounces
// leaves out those matched to nobody, so a query says subscriber_id <> 0
// to be allowed to use it: SQLite cannot tell that a bound id is never 0,
// and without it would read every bounce kept, in the write transaction of
// each soft bounce.
const countBounces = `SELECT count(DISTINCT CASE WHEN message_id <> 0 THEN message_id ELSE -id END)
	FROM bounces WHERE subscriber_id = ? AND subscriber_id <> 0 AND kind = ? AND at >= ?`

// MessageRecipient returns the subscriber and digest (0 when none) of an
// outbox message; ErrNotFound when the row is gone (retention deletes
// finished messages) or never was.
func (t *Tx) MessageRecipient(messageID int64) (subscriberID, digestID int64, err error) {
	err = t.queryRow("SELECT subscriber_id, coalesce(digest_id, 0) FROM outbox WHERE id = ?", messageID).
		Scan(&subscriberID, &digestID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, ErrNotFound
	}
	return subscriberID, digestID, err
}

// MarkBounced makes a pending or confirmed subscriber bounced; it reports
// whether the status changed.
func (t *Tx) MarkBounced(subscriberID int64, at time.Time) (bool, error) {
	res, err := t.exec(`UPDATE subscribers SET status = 'bounced', bounced_at = ?
		WHERE id = ? AND status IN ('pending', 'confirmed')`, millis(at), subscriberID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// Suppress puts an address hash on the suppression list for the reason,
// so that no import brings the address back; only a fresh confirmed
// sign-up takes it off.
func (t *Tx) Suppress(emailHash, reason string, at time.Time) error {
	_, err := t.exec(`INSERT INTO suppressions (email_hash, reason, created_at) VALUES (?, ?, ?)
		ON CONFLICT (email_hash) DO NOTHING`, emailHash, reason, millis(at))
	return err
}

// Bounces returns up to limit kept bounces with an id above since, in id
// order: a reader pages on by passing the last id it saw.
func (s *Store) Bounces(ctx context.Context, since int64, limit int) ([]alertd.Bounce, error) {
	return s.bounces(ctx, "SELECT "+bounceColumns+" FROM bounces WHERE id > ? ORDER BY id LIMIT ?", since, limit)
}

// SubscriberBounces returns the bounces kept against a subscriber, oldest
// first.
func (s *Store) SubscriberBounces(ctx context.Context, subscriberID int64) ([]alertd.Bounce, error) {
	return s.bounces(ctx, "SELECT "+bounceColumns+" FROM bounces WHERE subscriber_id = ? AND subscriber_id <> 0 ORDER BY at, id",
		subscriberID)
}

func (s *Store) bounces(ctx context.Context, query string, args ...any) ([]alertd.Bounce, error) {
	rows, err := s.readRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []alertd.Bounce{} // an empty list, not null, in JSON
	for rows.Next() {
		b, err := scanBounce(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// BounceDays returns how many bounces of each kind were kept against a
// subscriber from the UTC day of from to that of to, both included; one
// matched to nobody is not counted. It reads the counts kept as bounces
// are, not the bounces.
func (s *Store) BounceDays(ctx context.Context, from, to time.Time) (map[alertd.BounceKind]int, error) {
	rows, err := s.readRows(ctx, `SELECT kind, sum(n) FROM bounce_days WHERE day BETWEEN ? AND ? GROUP BY kind`,
		dayOf(from), dayOf(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[alertd.BounceKind]int{}
	for rows.Next() {
		var (
			kind alertd.BounceKind
			n    int
		)
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, err
		}
		counts[kind] = n
	}
	return counts, rows.Err()
}
