package web

import (
	"context"
	"encoding/xml"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
)

// reportsPerPage is the length of a catalogue page.
const reportsPerPage = 20

// publishedReports lists what the public may see: reports whose publication
// time has come, newest first.
type publishedReports func(ctx context.Context, limit int, before int64) ([]alertd.Report, error)

// reportView is a report as the pages show it.
type reportView struct {
	URL, Title, Series, Number, Authors, Abstract string
	PublishedAt                                   time.Time
}

func reportViews(reports []alertd.Report) []reportView {
	views := make([]reportView, len(reports))
	for i, r := range reports {
		views[i] = reportView{
			URL: r.URL, Title: r.Title, PublishedAt: r.PublishedAt,
			Series: r.Series, Number: r.Number, Authors: strings.Join(r.Authors, ", "),
			Abstract: alertd.PlainText(r.Abstract, 280),
		}
	}
	return views
}

func handleReports(p *pages, published publishedReports) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			p.message(w, r, http.StatusBadRequest, "error_bad_page_title", "error_bad_page")
			return
		}
		reports, err := published(r.Context(), reportsPerPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		reports, older := page(reports, reportsPerPage, func(r alertd.Report) int64 { return r.ID })
		p.render(w, r, http.StatusOK, "reports", struct {
			Reports []reportView
			Newer   bool
			Older   int64
		}{reportViews(reports), before > 0, older})
	}
}

// parseCursor reads a page's cursor, the id of the last row of the page
// before (?before=, ?after=): 0 when absent, an error when it is not a
// positive whole number.
func parseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, strconv.ErrSyntax
	}
	return id, nil
}

// page trims rows fetched as n+1 to the n a page shows, and returns them
// with the next page's cursor, the key of the last row shown; 0 when there
// is no next page.
func page[T any](rows []T, n int, key func(T) int64) ([]T, int64) {
	if len(rows) <= n {
		return rows, 0
	}
	rows = rows[:n]
	return rows, key(rows[n-1])
}

// pathID reads the path's {id}; ok is false when it is not a positive whole
// number, which names nothing.
func pathID(r *http.Request) (id int64, ok bool) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	return id, err == nil && id > 0
}

// The Atom 1.0 (RFC 4287) elements the feed uses.
type atomFeed struct {
	XMLName xml.Name    `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string      `xml:"title"`
	ID      string      `xml:"id"`
	Updated string      `xml:"updated"`
	Author  atomPerson  `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

type atomLink struct {
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
	Href string `xml:"href,attr"`
}

type atomEntry struct {
	Title      string         `xml:"title"`
	ID         string         `xml:"id"`
	Link       atomLink       `xml:"link"`
	Published  string         `xml:"published"`
	Updated    string         `xml:"updated"`
	Authors    []atomPerson   `xml:"author"`
	Summary    *atomText      `xml:"summary,omitempty"`
	Content    *atomText      `xml:"content,omitempty"`
	Categories []atomCategory `xml:"category"`
}

type atomPerson struct {
	Name string `xml:"name"`
}

type atomText struct {
	Type string `xml:"type,attr"`
	Body string `xml:",chardata"`
}

type atomCategory struct {
	Term string `xml:"term,attr"`
}

// feedLength is how many reports the Atom feed carries.
const feedLength = 50

func handleFeed(p *pages, service, baseURL string, published publishedReports, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		title, err := p.printer(r).T("feed_title", "Service", service)
		var reports []alertd.Report
		if err == nil {
			reports, err = published(r.Context(), feedLength, 0)
		}
		if err != nil {
			logFailure(log, r, err)
			http.Error(w, "The feed is unavailable; try again later.", http.StatusInternalServerError)
			return
		}
		feed := atomFeed{
			Title: title,
			ID:    baseURL + "/reports",
			// RFC 4287: entries without authors take the feed's.
			Author: atomPerson{Name: service},
			Links: []atomLink{
				{Rel: "self", Type: "application/atom+xml", Href: baseURL + "/reports/feed.atom"},
				{Rel: "alternate", Type: "text/html", Href: baseURL + "/reports"},
			},
			Updated: time.Unix(0, 0).UTC().Format(time.RFC3339),
		}
		for i, rep := range reports {
			updated := rep.PublishedAt.UTC().Format(time.RFC3339)
			if i == 0 {
				feed.Updated = updated
			}
			entry := atomEntry{
				Title: rep.Title, ID: entryID(rep), Link: atomLink{Rel: "alternate", Href: rep.URL},
				Published: updated, Updated: updated,
			}
			for _, a := range rep.Authors {
				entry.Authors = append(entry.Authors, atomPerson{Name: a})
			}
			if rep.Abstract != "" {
				entry.Summary = &atomText{Type: "text", Body: alertd.PlainText(rep.Abstract, 1000)}
			}
			for _, k := range rep.Keywords {
				entry.Categories = append(entry.Categories, atomCategory{Term: k})
			}
			feed.Entries = append(feed.Entries, entry)
		}
		writeAtom(w, feed)
	}
}

// writeAtom answers with the feed as an Atom document.
func writeAtom(w http.ResponseWriter, feed atomFeed) {
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	enc.Encode(feed)
}

// entryID is a stable IRI for a report: its guid when that is an http(s),
// urn: or tag: IRI, else a URN built from it. Feed readers link an entry by
// its id, so a guid of any other scheme (javascript:, data:) never becomes
// one.
func entryID(r alertd.Report) string {
	if safeIRI(r.GUID) {
		return r.GUID
	}
	return "urn:alertd:report:" + url.PathEscape(r.GUID)
}

// safeIRI reports whether s is an http(s) URL without a user name, or a urn:
// or tag: URI, holding only characters an IRI may (RFC 3987).
func safeIRI(s string) bool {
	u, err := url.Parse(s)
	if err != nil || strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || strings.ContainsRune("<>\"{}|\\^`", r) || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
	}) {
		return false
	}
	switch u.Scheme {
	case "http", "https":
		return u.Host != "" && u.User == nil
	case "urn", "tag":
		return u.Opaque != ""
	}
	return false
}
