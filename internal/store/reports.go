package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

const reportColumns = `id, guid, url, title, published_at, series, number, authors, abstract, keywords, topics, created_at, retracted_at, held_at`

// reportColumnsOfR is reportColumns of a query that names the reports
// table r, beside others sharing column names.
const reportColumnsOfR = `r.id, r.guid, r.url, r.title, r.published_at, r.series, r.number, r.authors, r.abstract, r.keywords,
	r.topics, r.created_at, r.retracted_at, r.held_at`

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
// and every digest not yet compiled, and returns it and whether it changed;
// ErrNotFound when there is none. Retracting it again keeps the first time.
// Nothing else of the report changes, so clearing retracted_at restores it
// as it was.
func (s *Store) RetractReport(ctx context.Context, id int64, at time.Time) (rep alertd.Report, changed bool, err error) {
	return s.changeReport(ctx, id, "retracted_at = ?", "retracted_at IS NULL", millis(at))
}

// changeReport sets the report with the id by set where the condition
// holds, and returns the report and whether it changed; ErrNotFound when
// there is none.
func (s *Store) changeReport(ctx context.Context, id int64, set, where string, args ...any) (rep alertd.Report, changed bool, err error) {
	err = s.Write(ctx, func(t *Tx) error {
		rep, err = scanReport(t.queryRow("UPDATE reports SET "+set+" WHERE id = ? AND "+where+" RETURNING "+reportColumns,
			append(args, id)...))
		if !errors.Is(err, ErrNotFound) {
			changed = err == nil
			return err
		}
		rep, err = scanReport(t.queryRow("SELECT "+reportColumns+" FROM reports WHERE id = ?", id))
		return err
	})
	return rep, changed, err
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
// feeds and the next digest, and returns it and whether it changed;
// ErrNotFound when there is none. A report not held is returned unchanged,
// and a retracted one stays retracted.
func (s *Store) ApproveReport(ctx context.Context, id int64) (rep alertd.Report, changed bool, err error) {
	return s.changeReport(ctx, id, "held_at = NULL", "held_at IS NOT NULL")
}

// ReportsByID lists, newest first, the reports with the ids that are
// still out: retracted and held ones are left out.
func (s *Store) ReportsByID(ctx context.Context, ids []int64) ([]alertd.Report, error) {
	return scanReports(s.readRows(ctx, "SELECT "+reportColumns+` FROM reports
		WHERE id IN (SELECT value FROM json_each(?)) AND retracted_at IS NULL AND held_at IS NULL
		ORDER BY published_at DESC, id DESC`, jsonIDs(ids)))
}

// ReportByID returns the report with the id, whatever its status, or
// ErrNotFound.
func (s *Store) ReportByID(ctx context.Context, id int64) (alertd.Report, error) {
	return scanReport(s.readRow(ctx, "SELECT "+reportColumns+" FROM reports WHERE id = ?", id))
}

// ReportByID returns the report with the id, whatever its status, as the
// transaction sees it, or ErrNotFound.
func (t *Tx) ReportByID(id int64) (alertd.Report, error) {
	return scanReport(t.queryRow("SELECT "+reportColumns+" FROM reports WHERE id = ?", id))
}

// OtherReportWithURL returns the id of a report other than the one with id
// except whose url is url, or whose guid is (a report added without a
// guid is known by its url); 0 when there is none.
func (t *Tx) OtherReportWithURL(url string, except int64) (int64, error) {
	var id int64
	err := t.queryRow(`SELECT id FROM reports WHERE url = ? AND id != ?
		UNION ALL SELECT id FROM reports WHERE guid = ? AND id != ? LIMIT 1`, url, except, url, except).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// UpdateReport replaces the text, url, publication time and topics of the
// report with r's id, and returns it; ErrNotFound when there is none. Its
// guid, status, arrival and place in a digest stay.
func (t *Tx) UpdateReport(r alertd.Report) (alertd.Report, error) {
	return scanReport(t.queryRow(`UPDATE reports SET url = ?, title = ?, published_at = ?, series = ?, number = ?,
		authors = ?, abstract = ?, keywords = ?, topics = ? WHERE id = ? RETURNING `+reportColumns,
		r.URL, r.Title, millis(r.PublishedAt), r.Series, r.Number, topicsJSON(r.Authors), r.Abstract,
		topicsJSON(r.Keywords), topicsJSON(r.Topics), r.ID))
}

// RestoreReport undoes RetractReport: the report with the id is back where
// it stood before, held if it was held, and a digest that announced it
// before still counts as its announcement. It returns the report and
// whether it changed; ErrNotFound when there is none.
func (s *Store) RestoreReport(ctx context.Context, id int64) (rep alertd.Report, changed bool, err error) {
	return s.changeReport(ctx, id, "retracted_at = NULL", "retracted_at IS NOT NULL")
}

// ReportSearch says which reports SearchReports lists.
type ReportSearch struct {
	// Status keeps the reports with that status; "" keeps all.
	Status alertd.ReportStatus
	// Terms must each be found, as given or in another case, in the
	// title, series, number, authors or keywords.
	Terms []string
	Limit int
	// Before, when > 0, starts the page after the report with this id:
	// the Next of the page before.
	Before int64
	// Budget caps how many reports a page reads to match terms the
	// trigram index does not serve, so that a short word nothing matches
	// answers as fast as one everything matches.
	Budget int
}

// ReportPage is one page of a search.
type ReportPage struct {
	Reports []alertd.Report
	// Next is the id of the report after which the next page starts; 0
	// when the search has reached the end.
	Next int64
	// Searched is true when the page stopped at the budget before it
	// was full: there may be more matches after Next.
	Searched bool
}

// searchCandidates bounds the matches a search takes from the trigram
// index. A rarer set of terms is found there and its matches sorted by
// date; a commoner one is found faster by reading the reports newest first
// until a page is full, which stops early because matches are frequent.
// A term shorter than a trigram is matched that way too, rare or not, and
// the page's budget bounds the reading.
const searchCandidates = 2000

// minTrigram is the shortest term the trigram index can find.
const minTrigram = 3

// SearchReports returns one page of the reports the search selects, newest
// first (by publication, then id). Every page is a range of the listing's
// index from the previous page's last report, so that the hundredth page
// costs what the first does.
func (s *Store) SearchReports(ctx context.Context, q ReportSearch) (ReportPage, error) {
	var page ReportPage
	err := s.Read(ctx, func(tx *Tx) error {
		var err error
		page, err = tx.searchReports(q)
		return err
	})
	return page, err
}

func (t *Tx) searchReports(q ReportSearch) (ReportPage, error) {
	var page ReportPage
	where := map[alertd.ReportStatus]string{
		"":                     "1",
		alertd.ReportPublished: "retracted_at IS NULL AND held_at IS NULL",
		alertd.ReportHeld:      "held_at IS NOT NULL AND retracted_at IS NULL",
		alertd.ReportRetracted: "retracted_at IS NOT NULL",
	}[q.Status]
	if where == "" {
		return page, fmt.Errorf("search reports: unknown status %q", q.Status)
	}
	args := []any{}
	if q.Before > 0 {
		where += " AND (published_at, id) < (SELECT published_at, id FROM reports WHERE id = ?)"
		args = append(args, q.Before)
	}
	var rest string // what is checked report by report
	var rargs []any
	if len(q.Terms) > 0 {
		rare, err := t.rareTerms(q.Terms)
		if err != nil {
			return page, err
		}
		if rare {
			where += " AND id IN (SELECT rowid FROM reports_search WHERE reports_search MATCH ?)"
			args = append(args, matchExpression(q.Terms))
		} else {
			// Every term is in one of the columns: no term is left that
			// none of them holds.
			rest = ` AND NOT EXISTS (SELECT 1 FROM json_each(?) term WHERE NOT (
				title LIKE term.value ESCAPE '\' OR series LIKE term.value ESCAPE '\' OR number LIKE term.value ESCAPE '\'
				OR authors LIKE term.value ESCAPE '\' OR keywords LIKE term.value ESCAPE '\'))`
			rargs = append(rargs, likePatterns(q.Terms))
		}
	}

	// With terms matched report by report, the page first finds how far
	// the budget reaches, the last report it may read, and reads no
	// further. That is a walk of the listing's index alone, reading no
	// report, and never longer than the budget.
	var bound int64
	if rest != "" && q.Budget > 0 {
		err := t.queryRow("SELECT id FROM reports WHERE "+where+" ORDER BY published_at DESC, id DESC LIMIT 1 OFFSET ?",
			append(args, q.Budget-1)...).Scan(&bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return page, err
		default:
			where += " AND (published_at, id) >= (SELECT published_at, id FROM reports WHERE id = ?)"
			args = append(args, bound)
		}
	}

	reports, err := scanReports(t.query("SELECT "+reportColumns+" FROM reports WHERE "+where+rest+
		" ORDER BY published_at DESC, id DESC LIMIT ?", append(append(args, rargs...), q.Limit+1)...))
	if err != nil {
		return page, err
	}
	page.Reports = reports
	switch {
	case len(reports) > q.Limit:
		page.Reports = reports[:q.Limit]
		page.Next = reports[q.Limit-1].ID
	case bound != 0:
		page.Searched, page.Next = true, bound
	}
	return page, nil
}

// rareTerms reports whether the trigram index finds fewer than
// searchCandidates reports holding every term. A term shorter than a
// trigram cannot be looked up, and is taken for a common one.
func (t *Tx) rareTerms(terms []string) (bool, error) {
	for _, term := range terms {
		if utf8.RuneCountInString(term) < minTrigram {
			return false, nil
		}
	}
	var n int
	err := t.queryRow(`SELECT count(*) FROM (SELECT 1 FROM reports_search WHERE reports_search MATCH ? LIMIT ?)`,
		matchExpression(terms), searchCandidates).Scan(&n)
	return n < searchCandidates, err
}

// matchExpression is the full-text query that finds every term as a string
// of characters: each a quoted phrase, so that no character in it is an
// operator.
func matchExpression(terms []string) string {
	quoted := make([]string, len(terms))
	for i, t := range terms {
		quoted[i] = `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	}
	return strings.Join(quoted, " AND ")
}

// likePatterns returns, as a JSON array, the LIKE pattern that finds each
// term anywhere in a text, its % and _ taken literally.
func likePatterns(terms []string) string {
	escape := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	patterns := make([]string, len(terms))
	for i, t := range terms {
		patterns[i] = "%" + escape.Replace(t) + "%"
	}
	b, _ := json.Marshal(patterns) // a list of strings always marshals
	return string(b)
}
