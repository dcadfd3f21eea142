package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/alertd/alertd"
)

// RecordPoll records a poll of the source with the url at the time: added
// reports stored, or, when failed is not nil, its reason. A failure keeps
// the time of the last success; a success keeps the last failure's reason
// and time.
func (s *Store) RecordPoll(ctx context.Context, url string, at time.Time, added int, failed error) error {
	outcome, success, failure, reason := alertd.PollOK, &at, (*time.Time)(nil), ""
	if failed != nil {
		outcome, success, failure, reason = alertd.PollError, nil, &at, failed.Error()
	}
	return s.Write(ctx, func(t *Tx) error {
		_, err := t.exec(`INSERT INTO sources
			(url, last_poll_at, last_outcome, last_added, total_added, last_success_at, last_error, last_error_at)
			VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7)
			ON CONFLICT (url) DO UPDATE SET
				last_poll_at = excluded.last_poll_at, last_outcome = excluded.last_outcome,
				last_added = excluded.last_added, total_added = total_added + excluded.last_added,
				last_success_at = coalesce(excluded.last_success_at, last_success_at),
				last_error = CASE WHEN excluded.last_error_at IS NULL THEN last_error ELSE excluded.last_error END,
				last_error_at = coalesce(excluded.last_error_at, last_error_at)`,
			url, millis(at), string(outcome), added, nullMillis(success), reason, nullMillis(failure))
		return err
	})
}

// PollRecords returns what the polls of each source ever polled have done,
// by url.
func (s *Store) PollRecords(ctx context.Context) (map[string]alertd.SourceStatus, error) {
	rows, err := s.readRows(ctx, `SELECT url, last_poll_at, last_outcome, last_added, total_added,
		last_success_at, last_error, last_error_at FROM sources`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	records := map[string]alertd.SourceStatus{}
	for rows.Next() {
		var (
			st               alertd.SourceStatus
			polled           int64
			success, failure sql.NullInt64
		)
		if err := rows.Scan(&st.URL, &polled, &st.Outcome, &st.LastAdded, &st.TotalAdded, &success,
			&st.LastError, &failure); err != nil {
			return nil, err
		}
		st.LastPollAt = fromMillis(sql.NullInt64{Int64: polled, Valid: true})
		st.LastSuccessAt, st.LastErrorAt = fromMillis(success), fromMillis(failure)
		records[st.URL] = st
	}
	return records, rows.Err()
}
