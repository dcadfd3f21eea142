package catalogue

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Search says which reports Search lists.
type Search struct {
	// Status keeps the reports with that status; "" keeps all.
	Status alertd.ReportStatus
	// Text holds the words to look for, each of which must be in the
	// title, series, number, authors or keywords.
	Text   string
	Limit  int
	Before int64
}

// Limits on a search's text.
const (
	MaxSearchText  = 200
	MaxSearchTerms = 10
)

// searchBudget is how many reports one page of a search reads, by default,
// to match words the trigram index does not serve (one shorter than three
// characters, or one in thousands of reports): enough to fill a page of a
// word in one report of two hundred, and a tenth of a hundred thousand
// reports, so that a word nothing matches answers in a tenth of the time
// reading them all takes: 30 to 70 ms where that took 470, measured on a
// busy two-core machine, which leaves the rest of a page's 100 ms to
// spare. A page that stops there offers to go on.
const searchBudget = 10_000

// SearchPage is one page of a Search.
type SearchPage = store.ReportPage

// Search returns one page of the reports the search selects, whatever
// their status when it names none, newest first (by publication, then
// id): at most Limit, after the report with the id Before (the Next of the
// page before).
func (s *Service) Search(ctx context.Context, q Search) (SearchPage, error) {
	switch q.Status {
	case "", alertd.ReportPublished, alertd.ReportHeld, alertd.ReportRetracted:
	default:
		return SearchPage{}, invalid("status", "must be published, held or retracted, or absent for all")
	}
	if n := utf8.RuneCountInString(q.Text); n > MaxSearchText {
		return SearchPage{}, invalid("q", "must be at most %d characters (has %d)", MaxSearchText, n)
	}
	terms := strings.Fields(q.Text)
	if len(terms) > MaxSearchTerms {
		return SearchPage{}, invalid("q", "must have at most %d words (has %d)", MaxSearchTerms, len(terms))
	}
	return s.store.SearchReports(ctx, store.ReportSearch{
		Status: q.Status, Terms: terms, Limit: q.Limit, Before: q.Before, Budget: s.rules.SearchBudget,
	})
}

// Report returns the report with the id, whatever its status; an error of
// code NotFound when there is none.
func (s *Service) Report(ctx context.Context, id int64) (alertd.Report, error) {
	rep, err := s.store.ReportByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rep, errNoReport
	}
	return rep, err
}

// Edit validates the input as Add does and puts it in place of the report
// with the id, keeping its guid (by which its source knows it) and its
// status; without a publication time the stored one stays. It returns the
// report before and after.
//
// version is the report's Version when the edit began: if the report has
// changed since, the edit is refused with ErrEditedMeanwhile rather than
// overwrite a change its author has not seen. A url another report has is
// refused with a *URLTakenError naming it.
//
// An edit changes the pages and the feed at once. Mail cannot be taken
// back: readers who were sent the report keep what it said, and a report a
// digest has announced is not announced again, edited or not. One not yet
// announced goes into the next digest as edited, a new publication time
// deciding, as for any report, whether and when.
func (s *Service) Edit(ctx context.Context, id int64, version string, in Input) (before, after alertd.Report, err error) {
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if before, err = tx.ReportByID(id); err != nil {
			return err
		}
		if Version(before) != version {
			return ErrEditedMeanwhile
		}
		if in.PublishedAt == nil {
			in.PublishedAt = &before.PublishedAt
		}
		in.GUID = before.GUID
		rep, err := s.validate(in)
		if err != nil {
			return err
		}
		rep.ID = id
		if other, err := tx.OtherReportWithURL(rep.URL, id); err != nil {
			return err
		} else if other != 0 {
			return &URLTakenError{Other: other}
		}
		after, err = tx.UpdateReport(rep)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return before, after, errNoReport
	}
	return before, after, err
}

// ErrEditedMeanwhile refuses an edit of a report that changed after the
// edit began.
var ErrEditedMeanwhile = alertd.Errorf(alertd.Conflict, "the report was changed by someone else after this form was opened")

// URLTakenError refuses an edit that would give a report the url of
// another.
type URLTakenError struct{ Other int64 }

func (e *URLTakenError) Error() string {
	return fmt.Sprintf("report %d already has this url; two reports cannot share one", e.Other)
}

func (e *URLTakenError) Unwrap() error { return errURLTaken }

var errURLTaken = alertd.Errorf(alertd.Conflict, "another report has this url")

// Version names the state of a report's editable fields, so that an edit
// can tell whether the report changed after it began.
func Version(rep alertd.Report) string {
	sum := sha256.New()
	json.NewEncoder(sum).Encode([]any{rep.Title, rep.URL, rep.PublishedAt.UnixMilli(), rep.Series, rep.Number,
		rep.Authors, rep.Abstract, rep.Keywords, rep.Topics})
	return hex.EncodeToString(sum.Sum(nil)[:16])
}

// Changed names the fields, by their JSON names, whose values differ
// between two versions of a report.
func Changed(before, after alertd.Report) []string {
	var changed []string
	for _, f := range []struct {
		name string
		same bool
	}{
		{"title", before.Title == after.Title},
		{"url", before.URL == after.URL},
		{"published_at", before.PublishedAt.Equal(after.PublishedAt)},
		{"series", before.Series == after.Series},
		{"number", before.Number == after.Number},
		{"authors", slices.Equal(before.Authors, after.Authors)},
		{"abstract", before.Abstract == after.Abstract},
		{"keywords", slices.Equal(before.Keywords, after.Keywords)},
		{"topics", slices.Equal(before.Topics, after.Topics)},
	} {
		if !f.same {
			changed = append(changed, f.name)
		}
	}
	return changed
}

// Restore undoes Retract and returns the report: it is back where it stood,
// held if it was held. A digest that announced it before the retraction
// still counts, so no reader is sent it twice; one never announced goes
// into the next digest as if it had not been retracted. Restoring a report
// not retracted is harmless and changes nothing, which changed says; an
// error of code NotFound when there is none.
func (s *Service) Restore(ctx context.Context, id int64) (rep alertd.Report, changed bool, err error) {
	rep, changed, err = s.store.RestoreReport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return rep, false, errNoReport
	}
	return rep, changed, err
}
