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

const reportColumns = `id, guid, url, title, published_at, series, number, authors, abstract, keywords, topics, created_at, retracted_at, held_at`

func scanReport(row rowScanner) (alertd.Report, error) {
	var (
		r                         alertd.Report
		published, created        int64
		authors, keywords, topics string
		retracted, held           sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.GUID, &r.URL, &r.Title, &published, &r.Series, &r.Number, &authors, &r.Abstract,
		&keywords, &topics, &created, &retracted, &held)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.PublishedAt = time.UnixMilli(published).UTC()
	r.CreatedAt = time.UnixMilli(created).UTC()
	r.RetractedAt = fromMillis(retracted)
	r.HeldAt = fromMillis(held)
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
// the guid was known: a retracted report stays retracted, a held one held.
// A backfilled report is never announced in a digest; one with HeldAt set
// is held until approved.
func (t *Tx) AddReport(r alertd.Report, backfilled bool) (stored alertd.Report, created bool, err error) {
	err = t.queryRow(`INSERT INTO reports
		(guid, url, title, published_at, series, number, authors, abstract, keywords, topics, created_at, backfilled, held_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (guid) DO NOTHING RETURNING id`,
		r.GUID, r.URL, r.Title, millis(r.PublishedAt), r.Series, r.Number, topicsJSON(r.Authors), r.Abstract,
		topicsJSON(r.Keywords), topicsJSON(r.Topics), millis(r.CreatedAt), backfilled, nullMillis(r.HeldAt)).Scan(&r.ID)
	if errors.Is(err, sql.ErrNoRows) {
		stored, err = scanReport(t.queryRow("SELECT "+reportColumns+" FROM reports WHERE guid = ?", r.GUID))
		return stored, false, err
	}
	if err != nil {
		return r, false, fmt.Errorf("add report: %w", err)
	}
	return r, true, nil
}

// Reports lists the reports neither retracted nor held, newest first (by
// publication, then id), at most limit, after the report with id before
// when before > 0.
func (s *Store) Reports(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	if before > 0 {
		return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
			WHERE retracted_at IS NULL AND held_at IS NULL AND (published_at, id) < (SELECT published_at, id FROM reports WHERE id = ?)
			ORDER BY published_at DESC, id DESC LIMIT ?`, before, limit))
	}
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports WHERE retracted_at IS NULL AND held_at IS NULL
		ORDER BY published_at DESC, id DESC LIMIT ?`, limit))
}

// PublishedReports lists the reports published by now, neither retracted
// nor held, newest first.
func (s *Store) PublishedReports(ctx context.Context, now time.Time, limit int, before int64) ([]alertd.Report, error) {
	if before > 0 {
		return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
			WHERE retracted_at IS NULL AND held_at IS NULL AND published_at <= ?
			AND (published_at, id) < (SELECT published_at, id FROM reports WHERE id = ?)
			ORDER BY published_at DESC, id DESC LIMIT ?`, millis(now), before, limit))
	}
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports WHERE retracted_at IS NULL AND held_at IS NULL AND published_at <= ?
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

// HeldReports lists the reports held for approval and not retracted,
// newest first (by arrival), at most limit, after the report with id before
// when before > 0.
func (s *Store) HeldReports(ctx context.Context, limit int, before int64) ([]alertd.Report, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
		WHERE held_at IS NOT NULL AND retracted_at IS NULL AND id < ?
		ORDER BY id DESC LIMIT ?`, before, limit))
}

// ApproveReport releases the held report with the id to the pages, the
// feeds and the next digest, and returns it; ErrNotFound when there is
// none. A report not held is returned unchanged, and a retracted one stays
// retracted.
func (s *Store) ApproveReport(ctx context.Context, id int64) (rep alertd.Report, err error) {
	err = s.Write(ctx, func(t *Tx) error {
		rep, err = scanReport(t.queryRow("UPDATE reports SET held_at = NULL WHERE id = ? RETURNING "+reportColumns, id))
		return err
	})
	return rep, err
}
