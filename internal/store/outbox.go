package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/alertd/alertd"
)

// Enqueue adds a message to the outbox, due at once.
func (t *Tx) Enqueue(kind alertd.MessageKind, subscriberID int64, payload string, now time.Time) (int64, error) {
	res, err := t.exec(`INSERT INTO outbox (kind, subscriber_id, payload, next_attempt_at, created_at)
		VALUES (?, ?, ?, ?, ?)`, string(kind), subscriberID, payload, millis(now), millis(now))
	if err == nil {
		err = t.moveCounts(counts{alertd.MessageQueued: 1})
	}
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return res.LastInsertId()
}

// dueCondition matches the partial index outbox_due: transactional mail,
// and digest deliveries once first claimed.
//
// The outbox statuses (alertd.MessageStatus) are written out in the SQL
// of this package rather than bound: SQLite uses a partial index only for
// a query whose WHERE it can prove implies the index's, which it cannot
// with a bound parameter in place of a value; and the schema's CHECK
// names the same text.
const dueCondition = `status IN ('queued', 'sending') AND (digest_id IS NULL OR attempts > 0)`

// ClaimMessages leases up to limit due messages to claimant until
// leaseUntil and returns them: first those due by time (new transactional
// mail, retries, and deliveries whose worker's lease ran out), then fresh
// digest deliveries in id order. The claimant is the holder of the
// claiming process's sent log (SentLog.Holder), whose death hands the
// claims back; "" leaves them to the lease alone.
func (s *Store) ClaimMessages(ctx context.Context, claimant string, now, leaseUntil time.Time, limit int) ([]alertd.Message, error) {
	var claimed []alertd.Message
	// Lazily synced: were a claim lost with the machine, its messages would
	// only be due again.
	err := s.WriteLazy(ctx, func(tx *Tx) error {
		claimed = claimed[:0]
		ids, leased, err := tx.dueMessages(now, limit)
		if err != nil {
			return err
		}
		if len(ids) < limit {
			fresh, err := tx.freshDigestDeliveries(limit - len(ids))
			if err != nil {
				return err
			}
			ids = append(ids, fresh...)
		}
		if len(ids) == 0 {
			return nil
		}
		rows, err := tx.query(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, next_attempt_at = ?, claimant = ?
			WHERE id IN (SELECT value FROM json_each(?))
			RETURNING id, kind, subscriber_id, coalesce(digest_id, 0), coalesce(payload, ''), attempts`,
			millis(leaseUntil), claimant, jsonIDs(ids))
		if err != nil {
			return err
		}
		for rows.Next() {
			var m alertd.Message
			var kind string // a named string type would be scanned by reflection
			if err := rows.Scan(&m.ID, &kind, &m.SubscriberID, &m.DigestID, &m.Payload, &m.Attempts); err != nil {
				rows.Close()
				return err
			}
			m.Kind = alertd.MessageKind(kind)
			claimed = append(claimed, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if err := tx.moveCounts(counts{alertd.MessageQueued: -(len(claimed) - leased), alertd.MessageSending: len(claimed) - leased}); err != nil {
			return err
		}
		return tx.addRecipients(claimed)
	})
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	return claimed, nil
}

// dueMessages returns up to limit messages due by now, and how many of
// them are claimed already (their lease ran out).
func (tx *Tx) dueMessages(now time.Time, limit int) (ids []int64, leased int, err error) {
	rows, err := tx.query(`SELECT id, status = 'sending' FROM outbox WHERE `+dueCondition+` AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT ?`, millis(now), limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var sending bool
		if err := rows.Scan(&id, &sending); err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
		if sending {
			leased++
		}
	}
	return ids, leased, rows.Err()
}

// addRecipients reads who the messages go to: the subscribers' id,
// address, status, topics and language, all that sending needs.
func (tx *Tx) addRecipients(ms []alertd.Message) error {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.SubscriberID
	}
	rows, err := tx.query("SELECT id, email, status, topics, lang FROM subscribers WHERE id IN (SELECT value FROM json_each(?))", jsonIDs(ids))
	if err != nil {
		return err
	}
	defer rows.Close()
	found := make(map[int64]*alertd.Subscriber, len(ms))
	for rows.Next() {
		var sub alertd.Subscriber
		var topics string
		if err := rows.Scan(&sub.ID, &sub.Email, &sub.Status, &topics, &sub.Lang); err != nil {
			return err
		}
		if sub.Topics, err = decodeTopics(sub.ID, topics); err != nil {
			return err
		}
		found[sub.ID] = &sub
	}
	for i := range ms {
		ms[i].Recipient = found[ms[i].SubscriberID]
	}
	return rows.Err()
}

// freshDigestDeliveries takes up to limit never-attempted digest deliveries,
// oldest digest first, and moves the digests' claim_from past them.
func (tx *Tx) freshDigestDeliveries(limit int) ([]int64, error) {
	type span struct{ digest, from, to int64 }
	rows, err := tx.query("SELECT id, claim_from, claim_to FROM digests WHERE claim_from <= claim_to ORDER BY id")
	if err != nil {
		return nil, err
	}
	var spans []span
	for rows.Next() {
		var sp span
		if err := rows.Scan(&sp.digest, &sp.from, &sp.to); err != nil {
			rows.Close()
			return nil, err
		}
		spans = append(spans, sp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var ids []int64
	for _, sp := range spans {
		if len(ids) == limit {
			break
		}
		found, err := tx.ids(`SELECT id FROM outbox WHERE id BETWEEN ? AND ? AND digest_id = ?
			AND status = 'queued' AND attempts = 0 ORDER BY id LIMIT ?`, sp.from, sp.to, sp.digest, limit-len(ids))
		if err != nil {
			return nil, err
		}
		next := sp.to + 1
		if len(found) == limit-len(ids) {
			next = found[len(found)-1] + 1
		}
		if _, err := tx.exec("UPDATE digests SET claim_from = ? WHERE id = ?", next, sp.digest); err != nil {
			return nil, err
		}
		ids = append(ids, found...)
	}
	return ids, nil
}

func (tx *Tx) ids(query string, args ...any) ([]int64, error) {
	rows, err := tx.query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// jsonIDs is ids as a JSON array, for json_each: one statement, prepared
// once, for any number of ids.
func jsonIDs(ids []int64) string {
	b, _ := json.Marshal(ids) // a []int64 always marshals
	return string(b)
}

// RecordOutcome stores the result of sending one claimed message. A final
// outcome moves its digest's counts in the same transaction, exactly once.
func (tx *Tx) RecordOutcome(now time.Time, o alertd.Outcome) error {
	if o.Status == alertd.MessageQueued {
		res, err := tx.exec(`UPDATE outbox SET status = 'queued', next_attempt_at = ?, last_error = ?
			WHERE id = ? AND status = 'sending'`, millis(o.RetryAt), o.Error, o.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err // n = 0: recorded already, or erased meanwhile
		}
		return tx.moveCounts(counts{alertd.MessageSending: -1, alertd.MessageQueued: 1})
	}
	// The digest's column that counts the outcome is named after it.
	var counter string
	switch o.Status {
	case alertd.MessageSent, alertd.MessageFailed, alertd.MessageCancelled:
		counter = string(o.Status)
	default:
		return fmt.Errorf("unknown outcome status %q", o.Status)
	}
	res, err := tx.exec(`UPDATE outbox SET status = ?, payload = NULL, finished_at = ?, last_error = ?
		WHERE id = ? AND status = 'sending'`, counter, millis(now), o.Error, o.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err // n = 0: already recorded, or erased meanwhile
	}
	if err := tx.moveCounts(counts{alertd.MessageSending: -1, o.Status: 1}); err != nil {
		return err
	}
	switch o.Status {
	case alertd.MessageSent:
		err = tx.countFinished(now, 1, 0)
	case alertd.MessageFailed:
		err = tx.countFinished(now, 0, 1)
	}
	if err != nil {
		return err
	}
	if o.DigestID != 0 {
		if _, err := tx.exec("UPDATE digests SET "+counter+" = "+counter+" + 1 WHERE id = ?", o.DigestID); err != nil {
			return err
		}
	}
	if o.Bounced {
		_, err = tx.MarkBounced(o.SubscriberID, now)
	}
	return err
}

// ReleaseMessages hands claimed but unsent messages back to the queue,
// undoing their attempt, so a graceful stop neither loses nor delays them. A
// digest delivery back at no attempts goes back under its digest's
// claim_from, where fresh deliveries are claimed.
func (s *Store) ReleaseMessages(ctx context.Context, now time.Time, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return s.Write(ctx, func(tx *Tx) error {
		rows, err := tx.query(`UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = ?, claimant = ''
			WHERE status = 'sending' AND id IN (SELECT value FROM json_each(?))
			RETURNING id, coalesce(digest_id, 0), attempts`, millis(now), jsonIDs(ids))
		if err != nil {
			return err
		}
		type fresh struct{ id, digest int64 }
		var back []fresh
		released := 0
		for rows.Next() {
			var f fresh
			var attempts int
			if err := rows.Scan(&f.id, &f.digest, &attempts); err != nil {
				rows.Close()
				return err
			}
			released++
			if f.digest != 0 && attempts == 0 {
				back = append(back, f)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, f := range back {
			if _, err := tx.exec("UPDATE digests SET claim_from = min(claim_from, ?) WHERE id = ?", f.id, f.digest); err != nil {
				return err
			}
		}
		return tx.moveCounts(counts{alertd.MessageSending: -released, alertd.MessageQueued: released})
	})
}

// releaseClaimsOf hands back, due at once, the messages claimant had
// claimed and not finished: the claimant's process is dead. Their attempt
// stands, as it would had their lease run out: one of them may have been
// on the wire at the death. It returns how many went back.
func (tx *Tx) releaseClaimsOf(claimant string, now time.Time) (int, error) {
	if claimant == "" {
		return 0, nil // claims made without a sent log: only their lease ends them
	}
	// Every claimed message is in the due index (claiming counts an
	// attempt), which holds only the queue, not the whole outbox.
	res, err := tx.exec(`UPDATE outbox INDEXED BY outbox_due SET status = 'queued', next_attempt_at = ?, claimant = ''
		WHERE `+dueCondition+` AND status = 'sending' AND claimant = ?`, millis(now), claimant)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return int(n), tx.moveCounts(counts{alertd.MessageSending: -int(n), alertd.MessageQueued: int(n)})
}

// NextDue returns when the earliest queued message falls due (now, when a
// digest has fresh deliveries), or false when the queue is empty.
func (s *Store) NextDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	var fresh int
	if err := s.readRow(ctx, "SELECT count(*) FROM digests WHERE claim_from <= claim_to").Scan(&fresh); err != nil {
		return time.Time{}, false, err
	}
	if fresh > 0 {
		return now, true, nil
	}
	var next sql.NullInt64
	err := s.readRow(ctx, `SELECT min(next_attempt_at) FROM outbox WHERE `+dueCondition).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, false, err
	}
	return time.UnixMilli(next.Int64), true, nil
}

// MessageCounts returns the number of outbox messages in each status. It
// reads the counts kept as messages move, not the outbox.
func (s *Store) MessageCounts(ctx context.Context) (map[alertd.MessageStatus]int, error) {
	rows, err := s.readRows(ctx, "SELECT status, n FROM outbox_counts")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	counts := map[alertd.MessageStatus]int{}
	for rows.Next() {
		var status string // a named string type would be scanned by reflection
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			return nil, err
		}
		counts[alertd.MessageStatus(status)] = n
	}
	return counts, rows.Err()
}

// QueueDepth returns how many messages wait to be sent, due now or later:
// those queued and those claimed. It reads the kept counts.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	var n int
	err := s.readRow(ctx, "SELECT coalesce(sum(n), 0) FROM outbox_counts WHERE status IN ('queued', 'sending')").Scan(&n)
	return n, err
}

// counts are moves of the outbox's counts, by status.
type counts map[alertd.MessageStatus]int

// moveCounts moves the kept outbox counts, in the transaction that moved
// the messages: one statement, however many messages moved.
func (t *Tx) moveCounts(c counts) error {
	for status, n := range c {
		if n == 0 {
			delete(c, status)
		}
	}
	if len(c) == 0 {
		return nil
	}
	b, _ := json.Marshal(c) // a map of ints always marshals
	_, err := t.exec(`UPDATE outbox_counts SET n = n + d.value
		FROM json_each(?) AS d WHERE outbox_counts.status = d.key`, string(b))
	return err
}

// deleteMessages runs a DELETE of outbox messages that returns each
// deleted message's status, and moves the counts by what it deleted.
//
// An id once given must never name another message: it is signed into the
// envelope sender that the message's bounces come back to, and SQLite gives
// a new row the highest id plus one. So when the newest message goes, an
// empty cancelled row of no one keeps its id taken until newer messages
// come (retention then deletes it like any finished message), and a late
// bounce for the deleted message counts against nobody.
func (t *Tx) deleteMessages(query string, args ...any) error {
	var highest int64
	if err := t.queryRow("SELECT coalesce(max(id), 0) FROM outbox").Scan(&highest); err != nil {
		return err
	}
	rows, err := t.query(query, args...)
	if err != nil {
		return err
	}
	deleted := counts{}
	for rows.Next() {
		var status string
		if err := rows.Scan(&status); err != nil {
			rows.Close()
			return err
		}
		deleted[alertd.MessageStatus(status)]--
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	res, err := t.exec(`INSERT INTO outbox (id, kind, subscriber_id, status, next_attempt_at, created_at, finished_at)
		SELECT ?1, 'deleted', 0, 'cancelled', 0, 0, 0 WHERE ?1 > (SELECT coalesce(max(id), 0) FROM outbox)`, highest)
	if err != nil {
		return err
	}
	kept, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if kept > 0 {
		deleted[alertd.MessageCancelled]++
	}
	return t.moveCounts(deleted)
}
