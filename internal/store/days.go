package store

import (
	"context"
	"time"
)

// dayMillis is the length of the days the daily counts are kept by: UTC
// days, so a day is its Unix milliseconds divided by this.
const dayMillis = 24 * 60 * 60 * 1000

// dayOf is the number of the UTC day t falls in, as the schema keeps it.
func dayOf(t time.Time) int64 { return millis(t) / dayMillis }

// SubscriberDay is what happened to the list on one UTC day.
type SubscriberDay struct {
	Day                                  time.Time // midnight UTC
	Signups, Confirmations, Unsubscribes int
}

// SubscriberDays returns the days from the UTC day of from to that of to,
// both included, on which anyone signed up, confirmed or unsubscribed,
// oldest first; days when nothing happened are left out. It reads the
// counts kept as subscribers change, not the subscribers.
func (s *Store) SubscriberDays(ctx context.Context, from, to time.Time) ([]SubscriberDay, error) {
	rows, err := s.readRows(ctx, `SELECT day, signups, confirmations, unsubscribes FROM subscriber_days
		WHERE day BETWEEN ? AND ? ORDER BY day`, dayOf(from), dayOf(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var days []SubscriberDay
	for rows.Next() {
		var d SubscriberDay
		var day int64
		if err := rows.Scan(&day, &d.Signups, &d.Confirmations, &d.Unsubscribes); err != nil {
			return nil, err
		}
		d.Day = time.UnixMilli(day * dayMillis).UTC()
		days = append(days, d)
	}
	return days, rows.Err()
}

// Finished returns how many messages were sent and how many failed for
// good from the UTC day of from to that of to, both included. It reads the
// counts kept as outcomes are recorded, not the outbox.
func (s *Store) Finished(ctx context.Context, from, to time.Time) (sent, failed int, err error) {
	err = s.readRow(ctx, `SELECT coalesce(sum(sent), 0), coalesce(sum(failed), 0) FROM outbox_days
		WHERE day BETWEEN ? AND ?`, dayOf(from), dayOf(to)).Scan(&sent, &failed)
	return sent, failed, err
}

// countFinished adds messages sent and failed at now to the day's counts,
// in the transaction that recorded them.
func (t *Tx) countFinished(now time.Time, sent, failed int) error {
	if sent == 0 && failed == 0 {
		return nil
	}
	_, err := t.exec(`INSERT INTO outbox_days (day, sent, failed) VALUES (?, ?, ?)
		ON CONFLICT (day) DO UPDATE SET sent = sent + excluded.sent, failed = failed + excluded.failed`,
		dayOf(now), sent, failed)
	return err
}
