package store

import (
	"context"
	"fmt"
	"time"

	"github.com/alertd/alertd"
)

// retentionBatch is how many outbox rows one transaction of
// DeleteFinishedMessages looks at: small enough that the writer is never
// held for long, so sign-ups and deliveries go on meanwhile.
const retentionBatch = 1000

// DeleteFinishedMessages deletes the finished (sent, failed, cancelled)
// outbox messages that finished before cutoff, a batch per transaction,
// and returns how many went. Each subscriber keeps a summary of them in
// message_history, and the digests' counts are kept apart already.
//
// It walks the outbox in id order, which is the order messages were
// created in, and stops at the first message created at or after cutoff:
// none from there on can have finished before it. So a run reads the old
// rows only, never the whole outbox.
func (s *Store) DeleteFinishedMessages(ctx context.Context, cutoff time.Time) (int64, error) {
	var deleted, after int64
	for {
		var n int
		var last int64
		var done bool
		err := s.Write(ctx, func(tx *Tx) error {
			var err error
			n, last, done, err = tx.deleteFinished(millis(cutoff), after)
			return err
		})
		if err != nil {
			return deleted, fmt.Errorf("delete finished messages: %w", err)
		}
		deleted += int64(n)
		if done {
			return deleted, nil
		}
		after = last
	}
}

// deleteFinished deletes the finished messages among the retentionBatch
// rows after id after, moving them into message_history; it returns how
// many it deleted, the last id it looked at, and whether the walk is over.
func (tx *Tx) deleteFinished(cutoff, after int64) (deleted int, last int64, done bool, err error) {
	// The newest message always stays: the outbox's ids come from its
	// highest row, and an id must never come back once a message had it
	// (a later reference to a deleted message must not name a new one).
	rows, err := tx.query(`SELECT id, created_at >= ?1,
			status IN ('sent', 'failed', 'cancelled') AND finished_at < ?1
				AND id < (SELECT max(id) FROM outbox)
		FROM outbox WHERE id > ?2 ORDER BY id LIMIT ?3`, cutoff, after, retentionBatch)
	if err != nil {
		return 0, 0, false, err
	}
	var ids []int64
	seen := 0
	last = after
	for rows.Next() {
		var id int64
		var young, old bool
		if err := rows.Scan(&id, &young, &old); err != nil {
			rows.Close()
			return 0, 0, false, err
		}
		seen++
		if young {
			done = true
			break
		}
		last = id
		if old {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, false, err
	}
	done = done || seen < retentionBatch
	if len(ids) == 0 {
		return 0, last, done, nil
	}
	batch := jsonIDs(ids)
	// Only subscribers keep a history: a dashboard sign-in mail goes to an
	// operator, under no subscriber (id 0).
	if _, err := tx.exec(`INSERT INTO message_history (subscriber_id, kind, status, n, first_at, last_at)
		SELECT subscriber_id, kind, status, count(*), min(finished_at), max(finished_at)
		FROM outbox WHERE id IN (SELECT value FROM json_each(?)) AND subscriber_id != 0
		GROUP BY subscriber_id, kind, status
		ON CONFLICT (subscriber_id, kind, status) DO UPDATE SET n = n + excluded.n,
			first_at = min(first_at, excluded.first_at), last_at = max(last_at, excluded.last_at)`, batch); err != nil {
		return 0, 0, false, err
	}
	if err := tx.deleteMessages("DELETE FROM outbox WHERE id IN (SELECT value FROM json_each(?)) RETURNING status", batch); err != nil {
		return 0, 0, false, err
	}
	return len(ids), last, done, nil
}

// MessageSummary is what remains of a subscriber's finished messages of
// one kind and outcome once they are deleted: how many, and when the first
// and the last finished.
type MessageSummary struct {
	Kind    alertd.MessageKind   `json:"kind"`
	Status  alertd.MessageStatus `json:"status"`
	Count   int                  `json:"count"`
	FirstAt time.Time            `json:"first_at"`
	LastAt  time.Time            `json:"last_at"`
}

// SubscriberMessageHistory returns the summaries of a subscriber's deleted
// messages.
func (s *Store) SubscriberMessageHistory(ctx context.Context, subscriberID int64) ([]MessageSummary, error) {
	rows, err := s.readRows(ctx, `SELECT kind, status, n, first_at, last_at FROM message_history
		WHERE subscriber_id = ? ORDER BY kind, status`, subscriberID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	summaries := []MessageSummary{}
	for rows.Next() {
		var m MessageSummary
		var first, last int64
		if err := rows.Scan(&m.Kind, &m.Status, &m.Count, &first, &last); err != nil {
			return nil, err
		}
		m.FirstAt, m.LastAt = time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC()
		summaries = append(summaries, m)
	}
	return summaries, rows.Err()
}
