package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/alertd/alertd"
)

const reportColumns = `id, guid, url, title, published_at, series, number, authors, abstract, keywords, topics, created_at, retracted_at`

func scanReport(row rowScanner) (alertd.Report, error) {
	var (
		r                         alertd.Report
		published, created        int64
		authors, keywords, topics string
		retracted                 sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.GUID, &r.URL, &r.Title, &published, &r.Series, &r.Number, &authors, &r.Abstract,
		&keywords, &topics, &created, &retracted)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.PublishedAt = time.UnixMilli(published).UTC()
	r.CreatedAt = time.UnixMilli(created).UTC()
	r.RetractedAt = fromMillis(retracted)
	for _, f := range []struct {
		text string
		into *[]string
	}{{authors, &r.Authors}, {keywords, &r.Keywords}, {topics, &r.Topics}} {
		if err := json.Unmarshal([]byte(f.text), f.into); err != nil {
			return r, fmt.Errorf("report %d: %w", r.ID, err)
		}
	}
	return r, nil
}

func scanReports(rows *sql.Rows, err error) ([]alertd.Report, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var reports []alertd.Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		reports = append(reports, r)
	}
	return reports, rows.Err()
}

// AddReport stores a report unless one with its guid exists; it returns the
// stored report, and created = false with the existing one, unchanged, when
// the guid was known: a retracted report stays retracted. A backfilled
// report is never announced in a digest.
func (t *Tx) AddReport(r alertd.Report, backfilled bool) (stored alertd.Report, created bool, err error) {
	err = t.queryRow(`INSERT INTO reports
		(guid, url, title, published_at, series, number, authors, abstract, keywords, topics, created_at, backfilled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (guid) DO NOTHING RETURNING id`,
		r.GUID, r.URL, r.Title, millis(r.PublishedAt), r.Series, r.Number, topicsJSON(r.Authors), r.Abstract,
		topicsJSON(r.Keywords), topicsJSON(r.Topics), millis(r.CreatedAt), backfilled).Scan(&r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		stored, err = scanReport(t.queryRow("SELECT "+reportColumns+" FROM reports WHERE guid = ?", r.GUID))
		return stored, false, err
	}
	if err != nil {
		return r, false, fmt.Errorf("add report: %w", err)
	}
	return r, true, nil
}

// Reports lists the reports not retracted, newest first (by publication,
// then id), at most limit, after the report with id before when before > 0.
func (s *Store) Reports(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	if before > 0 {
		return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
			WHERE retracted_at IS NULL AND (published_at, id) < (SELECT published_at, id FROM reports WHERE id = ?)
			ORDER BY published_at DESC, id DESC LIMIT ?`, before, limit))
	}
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports WHERE retracted_at IS NULL
		ORDER BY published_at DESC, id DESC LIMIT ?`, limit))
}

// PublishedReports lists the reports published by now and not retracted,
// newest first.
func (s *Store) PublishedReports(ctx context.Context, now time.Time, limit int, before int64) ([]alertd.Report, error) {
	if before > 0 {
		return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
			WHERE retracted_at IS NULL AND published_at <= ?
			AND (published_at, id) < (SELECT published_at, id FROM reports WHERE id = ?)
			ORDER BY published_at DESC, id DESC LIMIT ?`, millis(now), before, limit))
	}
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports WHERE retracted_at IS NULL AND published_at <= ?
		ORDER BY published_at DESC, id DESC LIMIT ?`, millis(now), limit))
}

// ReportByGUID returns the report with the guid, retracted or not, or
// ErrNotFound.
func (s *Store) ReportByGUID(ctx context.Context, guid string) (alertd.Report, error) {
	return scanReport(s.readRow(ctx, "SELECT "+reportColumns+" FROM reports WHERE guid = ?", guid))
}

// RetractReport takes the report with the id out of the pages, the feeds
// and every digest not yet compiled, and returns it; ErrNotFound when there
// is none. Retracting it again keeps the first time. Nothing else of the
// report changes, so clearing retracted_at restores it as it was.
func (s *Store) RetractReport(ctx context.Context, id int64, at time.Time) (rep alertd.Report, err error) {
	err = s.Write(ctx, func(t *Tx) error {
		rep, err = scanReport(t.queryRow("UPDATE reports SET retracted_at = coalesce(retracted_at, ?) WHERE id = ? RETURNING "+
			reportColumns, millis(at), id))
		return err
	})
	return rep, err
}
