package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/alertd/alertd"
)

// DigestSelection says which reports a digest of one series takes: those
// its series has not announced or archived yet (and that are not
// backfilled, retracted or held), published from Since (the zero time:
// from any time) up to Until, the time of the compile. Which window applies
// is the catalogue's rule; this is its query.
type DigestSelection struct {
	// Frequency is the id of the series.
	Frequency string
	// Series are the ids of every configured series: once each of them has
	// announced or archived a report, the report leaves the index of
	// unannounced ones.
	Series []string
	// Adopt, for the first configured series, takes into it the readers of
	// series no longer configured, so that removing a frequency from the
	// configuration leaves nobody without digests.
	Adopt        bool
	Since, Until time.Time
	// ArchiveOlder archives for the series, in the compile's transaction,
	// the reports it has not announced that were published before Since,
	// retracted and held ones too, so that no later digest of the series
	// announces them.
	ArchiveOlder bool
}

// where is the WHERE clause, over reports r, of the reports sel takes, and
// its arguments. After a series' first digest only reports some series has
// still to announce (digest_id IS NULL, the partial index
// reports_unannounced) can be due; the first digest reads its window,
// bounded by Since, whatever other series did.
func (sel DigestSelection) where() (string, []any) {
	where := "r.backfilled = 0 AND r.retracted_at IS NULL AND r.held_at IS NULL AND r.published_at <= ?" +
		" AND NOT EXISTS (SELECT 1 FROM series_reports a WHERE a.frequency = ? AND a.report_id = r.id)"
	args := []any{millis(sel.Until), sel.Frequency}
	if sel.Since.IsZero() {
		where = "r.digest_id IS NULL AND " + where
	} else {
		where += " AND r.published_at >= ?"
		args = append(args, millis(sel.Since))
	}
	return where, args
}

// AnyDigest reports whether the series with the id has compiled a digest.
func (t *Tx) AnyDigest(frequency string) (bool, error) {
	var found bool
	err := t.queryRow("SELECT EXISTS (SELECT 1 FROM digests WHERE frequency = ?)", frequency).Scan(&found)
	return found, err
}

// DigestCandidates lists, newest first, the reports a digest compiled with
// sel would announce, without recording anything.
func (t *Tx) DigestCandidates(sel DigestSelection) ([]alertd.Report, error) {
	where, args := sel.where()
	return scanReports(t.query("SELECT "+reportColumnsOfR+" FROM reports r WHERE "+where+
		" ORDER BY r.published_at DESC, r.id DESC", args...))
}

// CompileDigest records the next digest of sel's series, created at
// sel.Until, the reports sel takes and one delivery per confirmed
// subscriber of the series whose topics match them. It returns created =
// false when sel takes no report, and then records nothing.
//
// Who receives a copy is the rule of alertd.ReportsFor, stated here as a
// set so that a million deliveries are one INSERT … SELECT: a subscriber
// who chose no topics, or one sharing a topic with an announced report.
func (t *Tx) CompileDigest(sel DigestSelection) (d alertd.Digest, created bool, err error) {
	where, args := sel.where()
	var count int
	if err := t.queryRow("SELECT count(*) FROM reports r WHERE "+where, args...).Scan(&count); err != nil {
		return d, false, err
	}
	if count == 0 {
		return d, false, nil
	}
	series, err := json.Marshal(sel.Series)
	if err != nil {
		return d, false, err
	}
	if sel.ArchiveOlder {
		// That takes retracted and held reports in too, with a scan that
		// runs once in the life of the series.
		if _, err := t.exec(`INSERT INTO series_reports (frequency, report_id)
			SELECT ?, r.id FROM reports r WHERE r.digest_id IS NULL AND r.backfilled = 0 AND r.published_at < ?
			ON CONFLICT DO NOTHING`, sel.Frequency, millis(sel.Since)); err != nil {
			return d, false, err
		}
		if err := t.completeReports(string(series),
			"SELECT report_id FROM series_reports WHERE frequency = ? AND digest_id IS NULL", sel.Frequency); err != nil {
			return d, false, err
		}
	}
	if sel.Adopt {
		if err := t.adoptReaders(sel.Frequency, string(series)); err != nil {
			return d, false, err
		}
	}
	if err := t.queryRow("INSERT INTO digests (created_at, reports, recipients, frequency) VALUES (?, ?, 0, ?) RETURNING id",
		millis(sel.Until), count, sel.Frequency).Scan(&d.ID); err != nil {
		return d, false, err
	}
	if _, err := t.exec("INSERT INTO series_reports (frequency, report_id, digest_id) SELECT ?, r.id, ? FROM reports r WHERE "+where,
		append([]any{sel.Frequency, d.ID}, args...)...); err != nil {
		return d, false, err
	}
	if err := t.completeReports(string(series), "SELECT report_id FROM series_reports WHERE digest_id = ?", d.ID); err != nil {
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
		WHERE s.status = 'confirmed' AND s.frequency = ?4 AND (s.topics = '[]' OR EXISTS (
			SELECT 1 FROM json_each(s.topics) chosen
			JOIN series_reports a ON a.digest_id = ?1
			JOIN reports r ON r.id = a.report_id
			JOIN json_each(r.topics) offered ON offered.value = chosen.value))
		ORDER BY s.id`, d.ID, millis(sel.Until), string(alertd.KindDigest), sel.Frequency)
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
	if err := t.leaveOutSeen(d.ID, firstID, firstID+recipients-1); err != nil {
		return d, false, err
	}
	d.CreatedAt, d.Reports, d.Recipients, d.Pending = sel.Until.UTC(), count, int(recipients), int(recipients)
	d.Frequency = sel.Frequency
	d.Status = alertd.DigestSending
	if recipients == 0 {
		d.Status = alertd.DigestDone
	}
	return d, true, nil
}

// completeReports takes out of the index of unannounced reports those of
// the reports the query lists that every configured series (series, a JSON
// array) has now announced or archived: digest_id becomes the last digest
// that announced one, or, when none did, the report counts as backfilled.
func (t *Tx) completeReports(series, reportIDs string, args ...any) error {
	_, err := t.exec(`UPDATE reports SET
			digest_id = done.last,
			backfilled = CASE WHEN done.last IS NULL THEN 1 ELSE 0 END
		FROM (SELECT a.report_id AS id, max(a.digest_id) AS last, count(*) AS n FROM series_reports a
		      WHERE a.report_id IN (`+reportIDs+`) AND a.frequency IN (SELECT value FROM json_each(?))
		      GROUP BY a.report_id) AS done
		WHERE reports.id = done.id AND reports.digest_id IS NULL AND reports.backfilled = 0
		  AND done.n = json_array_length(?)`, append(args, series, series)...)
	return err
}

// adoptReaders moves into the series frequency the subscribers of series
// no longer among the configured ones (series, a JSON array). The kept
// counts tell, without reading subscribers, whether there are any.
func (t *Tx) adoptReaders(frequency, series string) error {
	var orphaned bool
	if err := t.queryRow(`SELECT EXISTS (SELECT 1 FROM confirmed_topic_choices
		WHERE n > 0 AND frequency NOT IN (SELECT value FROM json_each(?)))`, series).Scan(&orphaned); err != nil || !orphaned {
		return err
	}
	_, err := t.exec(`UPDATE subscribers SET frequency = ? WHERE status IN ('pending', 'confirmed')
		AND frequency NOT IN (SELECT value FROM json_each(?))`, frequency, series)
	return err
}

const digestColumns = "id, created_at, reports, recipients, sent, failed, cancelled, frequency"

func scanDigest(row rowScanner) (alertd.Digest, error) {
	var (
		d       alertd.Digest
		created int64
	)
	err := row.Scan(&d.ID, &created, &d.Reports, &d.Recipients, &d.Sent, &d.Failed, &d.Cancelled, &d.Frequency)
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
	return s.digestsWhere(ctx, digestColumns, "true", limit, before)
}

// digestsWhere lists the digests that meet cond newest first, read as
// columns: at most limit, those older than the digest with id before when
// it is positive.
func (s *Store) digestsWhere(ctx context.Context, columns, cond string, limit int, before int64) ([]alertd.Digest, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	rows, err := s.readRows(ctx, "SELECT "+columns+" FROM digests WHERE "+cond+" AND id < ? ORDER BY id DESC LIMIT ?", before, limit)
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
	return scanReports(s.readRows(ctx, "SELECT "+reportColumnsOfR+` FROM series_reports a
		JOIN reports r ON r.id = a.report_id WHERE a.digest_id = ?
		ORDER BY r.published_at DESC, r.id DESC`, id))
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

// LastDigestID returns the id of the most recent digest of the series
// frequency, 0 when there is none.
func (t *Tx) LastDigestID(frequency string) (int64, error) {
	var id int64
	err := t.queryRow("SELECT coalesce(max(id), 0) FROM digests WHERE frequency = ?", frequency).Scan(&id)
	return id, err
}

// ConfirmedTopicChoices counts the confirmed subscribers of the series
// frequency by their choice of topics, from the counts kept for it.
func (t *Tx) ConfirmedTopicChoices(frequency string) ([]alertd.TopicChoice, error) {
	rows, err := t.query("SELECT topics, n FROM confirmed_topic_choices WHERE frequency = ? AND n > 0", frequency)
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

// leaveOutSeen marks, on the copies of a digest (the outbox ids
// first..last), the reports each reader who changed frequency had been
// sent by their old series, for the renderer to leave out; those reports
// are then done with for the reader.
func (t *Tx) leaveOutSeen(digest, first, last int64) error {
	rows, err := t.query(`SELECT s.subscriber_id, json_group_array(s.report_id) FROM switch_seen s
		JOIN series_reports a ON a.report_id = s.report_id AND a.digest_id = ?1
		JOIN subscribers u ON u.id = s.subscriber_id AND u.frequency = (SELECT frequency FROM digests WHERE id = ?1)
		GROUP BY s.subscriber_id ORDER BY s.subscriber_id`, digest)
	if err != nil {
		return err
	}
	type seen struct {
		subscriber int64
		reports    string
	}
	var readers []seen
	for rows.Next() {
		var r seen
		if err := rows.Scan(&r.subscriber, &r.reports); err != nil {
			rows.Close()
			return err
		}
		readers = append(readers, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range readers {
		if first <= last {
			c, found, err := t.digestCopy(digest, first, last, r.subscriber)
			if err != nil {
				return err
			}
			if found {
				if _, err := t.exec(`UPDATE outbox SET payload = json_object('leave_out', json(?)) WHERE id = ?`, r.reports, c.id); err != nil {
					return err
				}
			}
		}
		if _, err := t.exec(`DELETE FROM switch_seen WHERE subscriber_id = ?
			AND report_id IN (SELECT value FROM json_each(?))`, r.subscriber, r.reports); err != nil {
			return err
		}
	}
	return nil
}
