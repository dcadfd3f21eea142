package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/alertd/alertd"
)

// DigestSelection says which of the reports not announced yet (in no
// digest, not backfilled, not retracted, not held) a digest takes: those published
// from Since (the zero time: from any time) up to Until, the time of the
// compile. Which window applies is the catalogue's rule; this is its query.
type DigestSelection struct {
	Since, Until time.Time
	// ArchiveOlder backfills, in the compile's transaction, the unannounced
	// reports published before Since, retracted and held ones too, so that
	// no later digest announces them.
	ArchiveOlder bool
}

// where is the WHERE clause of the reports sel takes, and its arguments.
func (sel DigestSelection) where() (string, []any) {
	where := "digest_id IS NULL AND backfilled = 0 AND retracted_at IS NULL AND held_at IS NULL AND published_at <= ?"
	args := []any{millis(sel.Until)}
	if !sel.Since.IsZero() {
		where += " AND published_at >= ?"
		args = append(args, millis(sel.Since))
	}
	return where, args
}

// AnyDigest reports whether a digest has ever been compiled.
func (t *Tx) AnyDigest() (bool, error) {
	var found bool
	err := t.queryRow("SELECT EXISTS (SELECT 1 FROM digests)").Scan(&found)
	return found, err
}

// DigestCandidates lists, newest first, the reports a digest compiled with
// sel would announce, without recording anything.
func (t *Tx) DigestCandidates(sel DigestSelection) ([]alertd.Report, error) {
	where, args := sel.where()
	return scanReports(t.query("SELECT "+reportColumns+" FROM reports WHERE "+where+
		" ORDER BY published_at DESC, id DESC", args...))
}

// CompileDigest records the next digest, created at sel.Until, the reports
// sel takes and one delivery per confirmed subscriber whose topics match
// them. It returns created = false when sel takes no report, and then
// records nothing.
//
// Who receives a copy is the rule of alertd.ReportsFor, stated here as a
// set so that a million deliveries are one INSERT … SELECT: a subscriber
// who chose no topics, or one sharing a topic with an announced report.
func (t *Tx) CompileDigest(sel DigestSelection) (d alertd.Digest, created bool, err error) {
	where, args := sel.where()
	var count int
	if err := t.queryRow("SELECT count(*) FROM reports WHERE "+where, args...).Scan(&count); err != nil {
		return d, false, err
	}
	if count == 0 {
		return d, false, nil
	}
	if sel.ArchiveOlder {
		// That takes retracted and held reports in too, outside the index of
		// unannounced ones, with a scan that runs once in the life of
		// the database.
		if _, err := t.exec(`UPDATE reports SET backfilled = 1
			WHERE digest_id IS NULL AND backfilled = 0 AND published_at < ?`,
			millis(sel.Since)); err != nil {
			return d, false, err
		}
	}
	if err := t.queryRow("INSERT INTO digests (created_at, reports, recipients) VALUES (?, ?, 0) RETURNING id",
		millis(sel.Until), count).Scan(&d.ID); err != nil {
		return d, false, err
	}
	if _, err := t.exec("UPDATE reports SET digest_id = ? WHERE "+where, append([]any{d.ID}, args...)...); err != nil {
		return d, false, err
	}
	var firstID int64
	if err := t.queryRow("SELECT coalesce(max(id), 0) + 1 FROM outbox").Scan(&firstID); err != nil {
		return d, false, err
	}
	// The deliveries take consecutive ids in subscriber id order, in this
	// one statement: SubscriberMessages finds a subscriber's copy by a
	// binary search of the digest's id range that relies on it.
	res, err := t.exec(`INSERT INTO outbox (kind, subscriber_id, digest_id, next_attempt_at, created_at)
		SELECT ?3, s.id, ?1, ?2, ?2 FROM subscribers s
		WHERE s.status = 'confirmed' AND (s.topics = '[]' OR EXISTS (
			SELECT 1 FROM json_each(s.topics) chosen
			JOIN reports r ON r.digest_id = ?1
			JOIN json_each(r.topics) offered ON offered.value = chosen.value))
		ORDER BY s.id`, d.ID, millis(sel.Until), string(alertd.KindDigest))
	if err != nil {
		return d, false, fmt.Errorf("record deliveries: %w", err)
	}
	recipients, err := res.RowsAffected()
	if err != nil {
		return d, false, err
	}
	if err := t.moveCounts(counts{alertd.MessageQueued: int(recipients)}); err != nil {
		return d, false, err
	}
	if _, err := t.exec("UPDATE digests SET recipients = ?, claim_from = ?, claim_to = ? WHERE id = ?",
		recipients, firstID, firstID+recipients-1, d.ID); err != nil {
		return d, false, err
	}
	d.CreatedAt, d.Reports, d.Recipients, d.Pending = sel.Until.UTC(), count, int(recipients), int(recipients)
	d.Status = alertd.DigestSending
	if recipients == 0 {
		d.Status = alertd.DigestDone
	}
	return d, true, nil
}

const digestColumns = "id, created_at, reports, recipients, sent, failed, cancelled"

func scanDigest(row rowScanner) (alertd.Digest, error) {
	var (
		d       alertd.Digest
		created int64
	)
	err := row.Scan(&d.ID, &created, &d.Reports, &d.Recipients, &d.Sent, &d.Failed, &d.Cancelled)
	if errors.Is(err, sql.ErrNoRows) {
		return d, ErrNotFound
	}
	d.CreatedAt = time.UnixMilli(created).UTC()
	d.Pending = d.Recipients - d.Sent - d.Failed - d.Cancelled
	d.Status = alertd.DigestDone
	if d.Pending > 0 {
		d.Status = alertd.DigestSending
	}
	return d, err
}

// Digest returns one digest with its delivery counts.
func (s *Store) Digest(ctx context.Context, id int64) (alertd.Digest, error) {
	return scanDigest(s.readRow(ctx, "SELECT "+digestColumns+" FROM digests WHERE id = ?", id))
}

// Digests lists digests newest first, with their counts: at most limit,
// those older than the digest with id before when it is positive.
func (s *Store) Digests(ctx context.Context, limit int, before int64) ([]alertd.Digest, error) {
	query := "SELECT " + digestColumns + " FROM digests ORDER BY id DESC LIMIT ?"
	args := []any{limit}
	if before > 0 {
		query = "SELECT " + digestColumns + " FROM digests WHERE id < ? ORDER BY id DESC LIMIT ?"
		args = []any{before, limit}
	}
	rows, err := s.readRows(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var digests []alertd.Digest
	for rows.Next() {
		d, err := scanDigest(rows)
		if err != nil {
			return nil, err
		}
		digests = append(digests, d)
	}
	return digests, rows.Err()
}

// DigestReports lists the reports a digest announced, newest first.
func (s *Store) DigestReports(ctx context.Context, id int64) ([]alertd.Report, error) {
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports WHERE digest_id = ?
		ORDER BY published_at DESC, id DESC`, id))
}

// LastDigest returns the most recent digest, or ErrNotFound.
func (s *Store) LastDigest(ctx context.Context) (alertd.Digest, error) {
	return scanDigest(s.readRow(ctx, "SELECT "+digestColumns+" FROM digests ORDER BY id DESC LIMIT 1"))
}

// DigestFailures lists the failed deliveries of a digest in id order: at
// most limit, those after the message with id after.
func (s *Store) DigestFailures(ctx context.Context, digestID int64, limit int, after int64) ([]alertd.DeliveryFailure, error) {
	rows, err := s.readRows(ctx, `SELECT o.id, coalesce(s.email, ''), o.last_error, coalesce(o.finished_at, 0)
		FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id
		WHERE o.digest_id = ? AND o.status = 'failed' AND o.id > ?
		ORDER BY o.id LIMIT ?`, digestID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var failures []alertd.DeliveryFailure
	for rows.Next() {
		var (
			f  alertd.DeliveryFailure
			at int64
		)
		if err := rows.Scan(&f.MessageID, &f.Email, &f.Error, &at); err != nil {
			return nil, err
		}
		f.At = time.UnixMilli(at).UTC()
		failures = append(failures, f)
	}
	return failures, rows.Err()
}

// LastDigestID returns the id of the most recent digest, 0 when there is
// none.
func (t *Tx) LastDigestID() (int64, error) {
	var id int64
	err := t.queryRow("SELECT coalesce(max(id), 0) FROM digests").Scan(&id)
	return id, err
}

// ConfirmedTopicChoices counts the confirmed subscribers by their choice of
// topics, from the counts kept for it.
func (t *Tx) ConfirmedTopicChoices() ([]alertd.TopicChoice, error) {
	rows, err := t.query("SELECT topics, n FROM confirmed_topic_choices WHERE n > 0")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var choices []alertd.TopicChoice
	for rows.Next() {
		var (
			c      alertd.TopicChoice
			topics string
		)
		if err := rows.Scan(&topics, &c.Subscribers); err != nil {
			return nil, err
		}
		if c.Topics, err = decodeTopics(0, topics); err != nil {
			return nil, err
		}
		choices = append(choices, c)
	}
	return choices, rows.Err()
}
