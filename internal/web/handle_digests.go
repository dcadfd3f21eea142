package web

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/lang"
)

// The public archive of sent digests: a page per digest, an index and a
// feed. They show what every reader of a digest got, so they carry nothing
// of any one reader: no address, no link token, no unsubscribe link.
const (
	// digestsPerPage is the length of a page of the archive's index.
	digestsPerPage = 20
	// digestFeedLength is how many digests the archive's feed carries.
	digestFeedLength = 20
	// feedReportsPerDigest bounds a feed entry: a digest of more reports
	// lists this many and links to its page for the rest.
	feedReportsPerDigest = 50
)

// digestListView is a digest's reports as its page and its feed entry list
// them, in the order of its mail.
type digestListView struct {
	// Printer writes the list's dates and words in the page's language.
	*lang.Printer
	Reports []reportView
	// More counts the reports a feed entry leaves out; PageURL, absolute,
	// is the page that shows them.
	More    int
	PageURL string
}

// digestEntryView is one digest in the archive's index.
type digestEntryView struct {
	ID      int64
	SentAt  time.Time
	Reports int
	// Series names the digest's frequency; "" when there is only one.
	Series string
}

// archiveSeries is the name the archive gives the series with the id:
// with several frequencies, digests sent the same day are told apart by
// it; with one, there is nothing to tell apart and it is "".
func archiveSeries(cat *catalogue.Service, id string) string {
	if len(cat.Frequencies()) < 2 {
		return ""
	}
	return frequencyName(cat, id)
}

func handleArchivedDigest(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := pathID(r)
		if !ok {
			noSuchDigest(w, r, p)
			return
		}
		d, err := cat.ArchivedDigest(r.Context(), id)
		if alertd.ErrorCode(err) == alertd.NotFound {
			noSuchDigest(w, r, p)
			return
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "digest", struct {
			SentAt time.Time
			Series string
			List   digestListView
		}{d.SentAt, archiveSeries(cat, d.Frequency), digestListView{Printer: p.printer(r), Reports: reportViews(d.Reports)}})
	}
}

func noSuchDigest(w http.ResponseWriter, r *http.Request, p *pages) {
	p.message(w, r, http.StatusNotFound, "archive_missing_title", "archive_missing_text")
}

func handleArchivedDigests(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			p.message(w, r, http.StatusBadRequest, "archive_bad_cursor_title", "archive_bad_cursor_text")
			return
		}
		digests, err := cat.ArchivedDigests(r.Context(), digestsPerPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		digests, older := page(digests, digestsPerPage, func(d alertd.Digest) int64 { return d.ID })
		entries := make([]digestEntryView, len(digests))
		for i, d := range digests {
			entries[i] = digestEntryView{ID: d.ID, SentAt: d.CreatedAt, Reports: d.Reports, Series: archiveSeries(cat, d.Frequency)}
		}
		p.render(w, r, http.StatusOK, "digests", struct {
			Digests []digestEntryView
			Newer   bool
			Older   int64
		}{entries, before > 0, older})
	}
}

func handleDigestFeed(p *pages, service, baseURL string, cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		feed, err := digestFeed(r, p, service, baseURL, cat)
		if err != nil {
			logFailure(log, r, err)
			http.Error(w, "The feed is unavailable; try again later.", http.StatusInternalServerError)
			return
		}
		writeAtom(w, feed)
	}
}

// digestFeed is the Atom feed of the latest sent digests, each entry
// holding the digest's list of reports as its page shows it.
func digestFeed(r *http.Request, p *pages, service, baseURL string, cat *catalogue.Service) (atomFeed, error) {
	pr := p.printer(r)
	title, err := pr.T("archive_feed_title", "Service", service)
	if err != nil {
		return atomFeed{}, err
	}
	feed := atomFeed{
		Title:  title,
		ID:     baseURL + "/digests",
		Author: atomPerson{Name: service},
		Links: []atomLink{
			{Rel: "self", Type: "application/atom+xml", Href: baseURL + "/digests/feed.atom"},
			{Rel: "alternate", Type: "text/html", Href: baseURL + "/digests"},
		},
		Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
	}
	digests, err := cat.ArchivedDigests(r.Context(), digestFeedLength, 0)
	if err != nil {
		return feed, err
	}
	var updated time.Time
	for _, listed := range digests {
		d, err := cat.ArchivedDigest(r.Context(), listed.ID)
		if alertd.ErrorCode(err) == alertd.NotFound {
			continue // its last copy failed since it was listed
		}
		if err != nil {
			return feed, err
		}
		pageURL := fmt.Sprintf("%s/digests/%d", baseURL, d.ID)
		list := digestListView{Printer: pr, Reports: reportViews(d.Reports), PageURL: pageURL}
		if len(list.Reports) > feedReportsPerDigest {
			list.Reports, list.More = list.Reports[:feedReportsPerDigest], len(list.Reports)-feedReportsPerDigest
		}
		var content bytes.Buffer
		if err := p.byName["digest"].ExecuteTemplate(&content, "digest_reports", list); err != nil {
			return feed, fmt.Errorf("render digest %d for the feed: %w", d.ID, err)
		}
		entryTitle, err := pr.T("archive_digest_of", "Date", pr.Date(d.SentAt))
		if err != nil {
			return feed, err
		}
		if series := archiveSeries(cat, d.Frequency); series != "" {
			entryTitle += " · " + series
		}
		feed.Entries = append(feed.Entries, atomEntry{
			Title: entryTitle, ID: pageURL,
			Link:      atomLink{Rel: "alternate", Type: "text/html", Href: pageURL},
			Published: d.SentAt.UTC().Format(time.RFC3339), Updated: d.Updated.UTC().Format(time.RFC3339),
			Content: &atomText{Type: "html", Body: content.String()},
		})
		if d.Updated.After(updated) {
			updated = d.Updated
		}
	}
	if !updated.IsZero() {
		feed.Updated = updated.UTC().Format(time.RFC3339)
	}
	return feed, nil
}
