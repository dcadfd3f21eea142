package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/alertd/alertd"
)

// DigestRules decide which reports the next digest announces: those
// published by Now, in no digest yet and not backfilled, and, for the first
// digest ever, published within FirstWindow of Now.
type DigestRules struct {
	Now time.Time
	// FirstWindow limits the first digest ever to reports this recent.
	FirstWindow time.Duration
}

// digestSelection is the WHERE clause of the reports the next digest
// announces, and its arguments.
func (t *Tx) digestSelection(rules DigestRules) (where string, args []any, first bool, err error) {
	var digests int
	if err := t.queryRow("SELECT count(*) FROM digests").Scan(&digests); err != nil {
		return "", nil, false, err
	}
	where = "digest_id IS NULL AND backfilled = 0 AND retracted_at IS NULL AND published_at <= ?"
	args = []any{millis(rules.Now)}
	if digests == 0 {
		where += " AND published_at >= ?"
		args = append(args, millis(rules.Now.Add(-rules.FirstWindow)))
	}
	return where, args, digests == 0, nil
}

// NextDigestReports lists, newest first, the reports the next digest would
// announce, without recording anything.
func (s *Store) NextDigestReports(ctx context.Context, rules DigestRules) ([]alertd.Report, error) {
	var reports []alertd.Report
	err := s.Read(ctx, func(t *Tx) error {
		where, args, _, err := t.digestSelection(rules)
		if err != nil {
			return err
		}
		reports, err = scanReports(t.query("SELECT "+reportColumns+" FROM reports WHERE "+where+
			" ORDER BY published_at DESC, id DESC", args...))
		return err
	})
	return reports, err
}

// CompileDigest records, in one transaction, the next digest, the reports it
// announces and one delivery per confirmed subscriber whose topics match
// (all of them when they chose none). It returns created = false when no
// report is due, and then records nothing.
func (s *Store) CompileDigest(ctx context.Context, rules DigestRules) (d alertd.Digest, created bool, err error) {
	err = s.Write(ctx, func(t *Tx) error {
		created = false
		where, args, first, err := t.digestSelection(rules)
		if err != nil {
			return err
		}
		var count int
		if err := t.queryRow("SELECT count(*) FROM reports WHERE "+where, args...).Scan(&count); err != nil {
			return err
		}
		if count == 0 {
			return nil
		}
		if first {
			// The archive before the first window is never announced: the
			// second digest must not bring it after all, nor a restore of a
			// report retracted now. That takes retracted reports in too,
			// outside the index of unannounced ones, with a scan that runs
			// once in the life of the database.
			if _, err := t.exec(`UPDATE reports SET backfilled = 1
				WHERE digest_id IS NULL AND backfilled = 0 AND published_at < ?`,
				millis(rules.Now.Add(-rules.FirstWindow))); err != nil {
				return err
			}
		}
		if err := t.queryRow("INSERT INTO digests (created_at, reports, recipients) VALUES (?, ?, 0) RETURNING id",
			millis(rules.Now), count).Scan(&d.ID); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE reports SET digest_id = ? WHERE "+where, append([]any{d.ID}, args...)...); err != nil {
			return err
		}
		var firstID int64
		if err := t.queryRow("SELECT coalesce(max(id), 0) + 1 FROM outbox").Scan(&firstID); err != nil {
			return err
		}
		res, err := t.exec(`INSERT INTO outbox (kind, subscriber_id, digest_id, next_attempt_at, created_at)
			SELECT ?3, s.id, ?1, ?2, ?2 FROM subscribers s
			WHERE s.status = 'confirmed' AND (s.topics = '[]' OR EXISTS (
				SELECT 1 FROM json_each(s.topics) chosen
				JOIN reports r ON r.digest_id = ?1
				JOIN json_each(r.topics) offered ON offered.value = chosen.value))
			ORDER BY s.id`, d.ID, millis(rules.Now), string(alertd.KindDigest))
		if err != nil {
			return fmt.Errorf("record deliveries: %w", err)
		}
		recipients, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if err := t.moveCounts(counts{alertd.MessageQueued: int(recipients)}); err != nil {
			return err
		}
		if _, err := t.exec("UPDATE digests SET recipients = ?, claim_from = ?, claim_to = ? WHERE id = ?",
			recipients, firstID, firstID+recipients-1, d.ID); err != nil {
			return err
		}
		d.CreatedAt, d.Reports, d.Recipients, d.Pending, d.Status = rules.Now.UTC(), count, int(recipients), int(recipients), alertd.DigestSending
		created = true
		return nil
	})
	if err != nil {
		return alertd.Digest{}, false, fmt.Errorf("compile digest: %w", err)
	}
	if created && d.Recipients == 0 {
		d.Status = alertd.DigestDone
	}
	return d, created, nil
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

// Digests lists the most recent digests, newest first, with their counts.
func (s *Store) Digests(ctx context.Context, limit int) ([]alertd.Digest, error) {
	rows, err := s.readRows(ctx, "SELECT "+digestColumns+" FROM digests ORDER BY id DESC LIMIT ?", limit)
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
