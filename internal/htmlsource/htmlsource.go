// Package htmlsource reads a publisher's catalogue from its HTML pages, for
// sites without a feed: CSS selectors, set by the operator, pick the reports
// off a listing page and their fields off the listing or each report's own
// page. It parses; it neither fetches nor stores.
package htmlsource

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/PuerkitoBio/goquery"
	"github.com/andybalholm/cascadia"
	"golang.org/x/net/html"
	"golang.org/x/net/idna"

	"github.com/alertd/alertd"
)

// What one page may cost, each bound far above what a real listing needs.
// The HTML parser itself refuses elements nested over 512 deep.
const (
	// MaxPageSize: a listing page with hundreds of entries stays under 1 MiB.
	MaxPageSize = 10 << 20
	// MaxPageItems: a listing shows recent reports; thousands are an archive.
	MaxPageItems = 1000
	// MaxPages bounds max_pages: a poll reads what is new, not the archive.
	MaxPages = 50
	// MaxText bounds the text of one field, before its pattern is applied.
	MaxText = 64 << 10
)

// Spec is the operator's description of a site: the keys of an html
// [[sources]] entry. Selectors are CSS; patterns are regular expressions
// with one group, which picks the field's value out of its text.
type Spec struct {
	Item            string `toml:"item"`
	Title           string `toml:"title"`
	Link            string `toml:"link"`
	Date            string `toml:"date"`
	DateFormat      string `toml:"date_format"`
	Authors         string `toml:"authors"`
	Series          string `toml:"series"`
	Number          string `toml:"number"`
	Abstract        string `toml:"abstract"`
	Keywords        string `toml:"keywords"`
	TitlePattern    string `toml:"title_pattern"`
	DatePattern     string `toml:"date_pattern"`
	AuthorsPattern  string `toml:"authors_pattern"`
	SeriesPattern   string `toml:"series_pattern"`
	NumberPattern   string `toml:"number_pattern"`
	AbstractPattern string `toml:"abstract_pattern"`
	KeywordsPattern string `toml:"keywords_pattern"`
	// Detail reads the optional fields from each new report's own page.
	Detail bool `toml:"detail"`
	// Next selects the link to the listing's next page.
	Next string `toml:"next"`
	// MaxPages is how many listing pages a poll reads; 0 means 1.
	MaxPages int `toml:"max_pages"`
}

// KeyError is a mistake in a Spec, naming its key ("item",
// "abstract_pattern").
type KeyError struct {
	Key string
	Msg string
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Msg }

// field is one value read from a page: where it is and how to cut it out.
type field struct {
	sel     cascadia.Selector // nil: not read
	pattern *regexp.Regexp
}

// Reader reads pages as a Spec describes them.
type Reader struct {
	item, link, next cascadia.Selector
	title, date      field
	// optional are read from the listing, or with detail from a report's page.
	authors, series, number, abstract, keywords field
	dateFormats                                 []string
	detail                                      bool
	maxPages                                    int
	loc                                         *time.Location
}

// defaultDateFormats are tried, in order, when date_format is not set:
// forms that read one way only (no "03/05/2020", which is March in one
// country and May in another).
var defaultDateFormats = []string{"2006-01-02", "2006-1-2", "2006/1/2", time.RFC1123, time.RFC1123Z,
	"January 2, 2006", "Jan 2, 2006", "2 January 2006", "2 Jan 2006", "2006年1月2日"}

// Compile checks spec and returns its Reader, or a *KeyError naming the
// key at fault. A date without a zone is read
// in loc (nil: UTC), so that a report is listed on the day the site gives.
func Compile(spec Spec, loc *time.Location) (*Reader, error) {
	if loc == nil {
		loc = time.UTC
	}
	r := &Reader{detail: spec.Detail, maxPages: spec.MaxPages, loc: loc, dateFormats: defaultDateFormats}
	if spec.DateFormat != "" {
		r.dateFormats = []string{spec.DateFormat}
	}
	var err error
	selector := func(key, s string, required bool) cascadia.Selector {
		if err != nil {
			return nil
		}
		if strings.TrimSpace(s) == "" {
			if required {
				err = &KeyError{key, `is required for format = "html": a CSS selector such as "ul.reports > li"`}
			}
			return nil
		}
		sel, perr := cascadia.Compile(s)
		if perr != nil {
			err = &KeyError{key, fmt.Sprintf("not a CSS selector (%v): %q", perr, s)}
			return nil
		}
		return sel
	}
	pattern := func(key, s string) *regexp.Regexp {
		if err != nil || s == "" {
			return nil
		}
		re, perr := regexp.Compile(s)
		if perr != nil {
			err = &KeyError{key, fmt.Sprintf("not a regular expression (%v)", perr)}
			return nil
		}
		if re.NumSubexp() != 1 {
			err = &KeyError{key, fmt.Sprintf("must have exactly one group, (…), around the value; %q has %d", s, re.NumSubexp())}
			return nil
		}
		return re
	}
	r.item = selector("item", spec.Item, true)
	r.title = field{selector("title", spec.Title, true), pattern("title_pattern", spec.TitlePattern)}
	r.link = selector("link", spec.Link, false)
	r.date = field{selector("date", spec.Date, false), pattern("date_pattern", spec.DatePattern)}
	r.authors = field{selector("authors", spec.Authors, false), pattern("authors_pattern", spec.AuthorsPattern)}
	r.series = field{selector("series", spec.Series, false), pattern("series_pattern", spec.SeriesPattern)}
	r.number = field{selector("number", spec.Number, false), pattern("number_pattern", spec.NumberPattern)}
	r.abstract = field{selector("abstract", spec.Abstract, false), pattern("abstract_pattern", spec.AbstractPattern)}
	r.keywords = field{selector("keywords", spec.Keywords, false), pattern("keywords_pattern", spec.KeywordsPattern)}
	r.next = selector("next", spec.Next, false)
	if err != nil {
		return nil, err
	}
	if r.link == nil {
		r.link = cascadia.MustCompile("a")
	}
	for _, f := range []struct {
		name string
		field
	}{{"date", r.date}, {"authors", r.authors}, {"series", r.series}, {"number", r.number}, {"abstract", r.abstract}, {"keywords", r.keywords}} {
		if f.pattern != nil && f.sel == nil {
			return nil, &KeyError{f.name + "_pattern", "has no selector to apply to: set " + f.name + " too"}
		}
	}
	if spec.DateFormat != "" {
		if r.date.sel == nil {
			return nil, &KeyError{"date_format", "has no selector to apply to: set date too"}
		}
		// Read back, the reference date must keep its year, month and day:
		// a layout without them reads every date as year 0, or as itself.
		ref := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
		if t, err := time.Parse(spec.DateFormat, ref.Format(spec.DateFormat)); err != nil || t.Year() != 2006 || t.YearDay() != 2 {
			return nil, &KeyError{"date_format", fmt.Sprintf("must be a Go layout giving the year, month and day of the reference date Mon Jan 2 15:04:05 MST 2006, such as \"2006-01-02\" or \"2 January 2006\" (got %q)", spec.DateFormat)}
		}
	}
	switch {
	case spec.MaxPages < 0 || spec.MaxPages > MaxPages:
		return nil, &KeyError{"max_pages", fmt.Sprintf("must be between 1 and %d (got %d)", MaxPages, spec.MaxPages)}
	case spec.MaxPages == 0:
		r.maxPages = 1
	}
	if spec.MaxPages > 1 && r.next == nil {
		return nil, &KeyError{"next", "is required when max_pages is over 1: the selector of the next page's link"}
	}
	if spec.Detail && r.authors.sel == nil && r.series.sel == nil && r.number.sel == nil && r.abstract.sel == nil && r.keywords.sel == nil {
		return nil, &KeyError{"detail", "reads authors, series, number, abstract and keywords from each report's page, and none of their selectors is set"}
	}
	return r, nil
}

// Detail says whether the optional fields come from each report's own page.
func (r *Reader) Detail() bool { return r.detail }

// MaxPages is how many listing pages one poll reads.
func (r *Reader) MaxPages() int { return r.maxPages }

// Item is one report as read from the pages, its text plain.
type Item struct {
	// Link is the report's page, absolute; it recognises the report.
	Link        string
	Title       string
	PublishedAt *time.Time // nil: the page gives no date
	Authors     []string
	Series      string
	Number      string
	Abstract    string
	Keywords    []string
	// Problem, when not nil, is why the item cannot be taken.
	Problem error
}

// ErrNoItems is a listing page on which the item selector finds nothing:
// most likely the site was redesigned, and the selectors must follow.
var ErrNoItems = errors.New("the item selector finds nothing on the page; has the site changed? Check the selectors with 'alertd sources test URL'")

// Listing reads a listing page found at page: its items, in the page's
// order, and the URL of the next page, nil when there is none.
func (r *Reader) Listing(body io.Reader, page *url.URL) ([]Item, *url.URL, error) {
	doc, err := parse(body)
	if err != nil {
		return nil, nil, err
	}
	found := outermost(doc.FindMatcher(r.item))
	switch n := found.Length(); {
	case n == 0:
		return nil, nil, ErrNoItems
	case n > MaxPageItems:
		return nil, nil, fmt.Errorf("the page is refused: the item selector finds %d items, more than the %d a page may have; make it narrower", n, MaxPageItems)
	}
	items := make([]Item, 0, found.Length())
	found.Each(func(_ int, s *goquery.Selection) {
		it := Item{Title: r.title.text(s), Link: resolve(page, s.FindMatcher(r.link).First().AttrOr("href", ""))}
		if it.Link == "" {
			it.Problem = errors.New("url: the item has no link (its link selector finds no element with an http(s) href)")
		}
		if r.date.sel != nil && it.Problem == nil {
			it.PublishedAt, it.Problem = r.parseDate(r.date.text(s))
		}
		if !r.detail {
			r.readOptional(s, &it)
		}
		items = append(items, it)
	})
	if !slices.ContainsFunc(items, func(it Item) bool { return it.Title != "" }) {
		return nil, nil, fmt.Errorf("the title selector finds no text in any of the %d items; has the site changed? Check the selectors with 'alertd sources test URL'", len(items))
	}
	if !slices.ContainsFunc(items, func(it Item) bool { return it.Link != "" }) {
		return nil, nil, fmt.Errorf("the link selector finds no http(s) link in any of the %d items; has the site changed? Check the selectors with 'alertd sources test URL'", len(items))
	}
	var next *url.URL
	if r.next != nil {
		if u, err := url.Parse(resolve(page, doc.FindMatcher(r.next).First().AttrOr("href", ""))); err == nil && u.IsAbs() && sameSite(page, u) {
			next = u
		}
	}
	return items, next, nil
}

// outermost is found without the elements inside another of found: an
// item inside an item is part of it (the list of a report's authors, to a
// loose "li"), and a page nesting items deep would otherwise have each
// read with everything below it, the whole page read hundreds of times.
func outermost(found *goquery.Selection) *goquery.Selection {
	isFound := make(map[*html.Node]bool, len(found.Nodes))
	for _, n := range found.Nodes {
		isFound[n] = true
	}
	return found.FilterFunction(func(_ int, s *goquery.Selection) bool {
		for p := s.Nodes[0].Parent; p != nil; p = p.Parent {
			if isFound[p] {
				return false
			}
		}
		return true
	})
}

// ReadDetail fills the optional fields of it from the report's own page.
func (r *Reader) ReadDetail(body io.Reader, it *Item) error {
	doc, err := parse(body)
	if err != nil {
		return err
	}
	r.readOptional(doc.Selection, it)
	return nil
}

func (r *Reader) readOptional(s *goquery.Selection, it *Item) {
	it.Authors = r.authors.list(s, splitAuthors)
	it.Series = r.series.text(s)
	it.Number = r.number.text(s)
	// A report's abstract is markup, made plain where it is shown, as a
	// feed's is: the page's text goes in escaped, or its entities would be
	// decoded twice and a "<b>" it shows dropped as a tag.
	it.Abstract = html.EscapeString(r.abstract.text(s))
	it.Keywords = r.keywords.list(s, splitKeywords)
}

// parse reads a whole page, at most MaxPageSize bytes.
func parse(body io.Reader) (*goquery.Document, error) {
	data, err := io.ReadAll(io.LimitReader(body, MaxPageSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxPageSize {
		return nil, fmt.Errorf("the page is refused: it is over the %d MiB a page may be", MaxPageSize>>20)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the page cannot be read: %w", err)
	}
	return doc, nil
}

// text is the field's plain text in s: the text of every element the
// selector finds, joined, then cut out by the pattern; "" when the selector
// or the pattern finds nothing.
func (f field) text(s *goquery.Selection) string {
	if f.sel == nil {
		return ""
	}
	var parts []string
	size := 0
	s.FindMatcher(f.sel).EachWithBreak(func(_ int, m *goquery.Selection) bool {
		if text := plain(m); text != "" {
			parts = append(parts, text)
			size += len(text) + 1
		}
		return size <= MaxText
	})
	return f.cut(bounded(strings.Join(parts, " ")))
}

// list is the field as a list: one entry per element the selector finds,
// or, when it finds one, that element's text split.
func (f field) list(s *goquery.Selection, split func(string) []string) []string {
	if f.sel == nil {
		return nil
	}
	found := s.FindMatcher(f.sel)
	if found.Length() == 1 {
		return split(f.cut(plain(found)))
	}
	var out []string
	found.Each(func(_ int, m *goquery.Selection) {
		if text := f.cut(plain(m)); text != "" {
			out = append(out, text)
		}
	})
	return out
}

func (f field) cut(s string) string {
	if f.pattern == nil {
		return s
	}
	m := f.pattern.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return alertd.OneLine(m[1])
}

// plain is an element's text as a reader sees it, at most MaxText bytes:
// the cleaning every report's text gets, tags dropped and entities decoded
// once (the element is written back as HTML for it, its text re-escaped).
func plain(s *goquery.Selection) string {
	if len(s.Nodes) == 0 {
		return ""
	}
	// The element's markup is written up to a bound: what lies past it
	// could not be read within MaxText anyway, and nested matches would
	// each write the whole page below them. PlainText reads a cut tag as
	// text's end.
	markup := &capped{left: maxMarkup}
	html.Render(markup, s.Nodes[0])
	return bounded(alertd.PlainText(markup.text.String(), 0))
}

// maxMarkup bounds the markup of one element read for its text: room for
// MaxText of text in a good deal of markup.
const maxMarkup = 4 * MaxText

// capped is a buffer that takes at most left bytes, and then refuses,
// which ends the rendering into it.
type capped struct {
	text strings.Builder
	left int
}

var errFull = errors.New("full")

func (c *capped) Write(p []byte) (int, error) {
	if len(p) > c.left {
		c.text.Write(p[:c.left])
		c.left = 0
		return 0, errFull
	}
	c.left -= len(p)
	return c.text.Write(p)
}

// bounded is text cut to at most MaxText bytes, at a character's end.
func bounded(text string) string {
	if len(text) > MaxText {
		text = strings.TrimSpace(strings.ToValidUTF8(text[:MaxText], ""))
	}
	return text
}

// resolve makes href absolute against the page, without its fragment (the
// same page, so the same report) and with its host spelt one way; "" when
// it is no http(s) link to a host (a "javascript:" or "mailto:" one, or
// none).
func resolve(page *url.URL, href string) string {
	// As a browser reads an href: templates wrap links over lines and
	// indent them, and the link is the same.
	href = strings.TrimFunc(href, func(r rune) bool { return r <= ' ' })
	href = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, href)
	if href == "" {
		return ""
	}
	ref, err := url.Parse(href)
	if err != nil {
		return ""
	}
	u := page.ResolveReference(ref)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	// Host names are case-insensitive, an internationalised one is its
	// ASCII form, and a scheme's own port goes without saying: one report,
	// however its links spell the site's address, is one link. A name IDNA
	// refuses (one holding a bidirectional override) leads nowhere a
	// reader should be sent.
	u.Host = strings.ToLower(u.Host)
	if strings.ContainsFunc(u.Host, func(r rune) bool { return r >= utf8.RuneSelf }) {
		name, err := idna.Lookup.ToASCII(u.Hostname())
		if err != nil {
			return ""
		}
		if port := u.Port(); port != "" {
			name += ":" + port
		}
		u.Host = name
	}
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		u.Host = strings.TrimSuffix(u.Host, ":"+port)
	}
	u.Fragment = ""
	return u.String()
}

// sameSite reports whether next is on page's site, a listing's next page:
// the same host and port, reached as securely. A next link elsewhere is a
// link planted on the page, or a site's move the operator must follow.
func sameSite(page, next *url.URL) bool {
	// The page's address as configured is spelt as its links are read.
	site, err := url.Parse(resolve(page, page.String()))
	return err == nil && site.Host == next.Host && (site.Scheme == next.Scheme || next.Scheme == "https")
}

// parseDate reads a date with the configured layout, or else each common
// one; a text that none fits is a problem, not "now", which would announce
// an old report as new.
func (r *Reader) parseDate(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("published_at: the item's date selector finds no date")
	}
	for _, layout := range r.dateFormats {
		if t, err := time.ParseInLocation(layout, s, r.loc); err == nil {
			return r.inNamedZone(t)
		}
	}
	want := "date_format " + r.dateFormats[0]
	if len(r.dateFormats) > 1 {
		want = "any common form; set date_format"
	}
	return nil, fmt.Errorf("published_at: the date %.40q does not match %s", s, want)
}

// zoneOffsets are the zone names RFC 822 gives dates, the ones a page's
// RFC 1123 date may hold, with their offsets in hours.
var zoneOffsets = map[string]int{"UT": 0, "GMT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7}

// inNamedZone is t read in the zone its date names. Go knows a zone name
// only when the reading location has it, and reads any other as UTC,
// which would move a report's time, and maybe its day, by hours; a name
// with no certain offset ("IST" is India's, Ireland's and Israel's) is a
// problem.
func (r *Reader) inNamedZone(t time.Time) (*time.Time, error) {
	name, _ := t.Zone()
	// A numeric offset makes a zone without a name, and is exact.
	if t.Location() == r.loc || t.Location() == time.UTC || name == "" {
		return &t, nil
	}
	hours, ok := zoneOffsets[name]
	if !ok {
		return nil, fmt.Errorf("published_at: the zone %.10q of the date has no certain offset; set date_format with a numeric zone (-0700)", name)
	}
	t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.FixedZone(name, hours*3600))
	return &t, nil
}

// authorSeparators split "A, B and C" into its names.
var authorSeparators = regexp.MustCompile(`\s*(?:[,;，；、&]|\band\b)\s*`)

// keywordSeparators split "trade; tariffs, China" into its words.
var keywordSeparators = regexp.MustCompile(`\s*[,;，；、]\s*`)

func splitAuthors(s string) []string  { return split(s, authorSeparators) }
func splitKeywords(s string) []string { return split(s, keywordSeparators) }

func split(s string, sep *regexp.Regexp) []string {
	var out []string
	for _, part := range sep.Split(s, -1) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
