package catalogue_test

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/htmlsource"
)

// FuzzHTMLSource reads any page as the research centre's listing and as one
// of its report pages. The reader never panics; it finds items or says the
// page does not match; every item has an absolute http(s) link or a
// reason; its text is plain, on one line and bounded; and what the
// catalogue takes of it obeys the catalogue's rules.
func FuzzHTMLSource(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "site", "*", "*.html"))
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob(filepath.Join("testdata", "site", "*", "*", "*.html"))
	for _, name := range append(seeds, more...) {
		page, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(page)
	}
	f.Add([]byte(`<ul class="report-list"><li><h3><a href="../r?a=1#x">A &amp;amp; B</a></h3><span class="date-display-single">2020年3月5日</span>` +
		`<p class="keywords">Key words: a；b，c</p></li></ul>`))
	listingSpec := centre
	listingSpec.Detail = false
	listing, err := htmlsource.Compile(listingSpec, zone)
	if err != nil {
		f.Fatal(err)
	}
	detail, err := htmlsource.Compile(centre, zone)
	if err != nil {
		f.Fatal(err)
	}
	page, _ := url.Parse("https://www.cres.example/reports/")
	f.Fuzz(func(t *testing.T, data []byte) {
		items, next, err := listing.Listing(bytes.NewReader(data), page)
		if err == nil && (len(items) == 0 || len(items) > htmlsource.MaxPageItems) {
			t.Fatalf("%d items and no error", len(items))
		}
		if next != nil {
			t.Fatalf("a next page %s without a next selector", next)
		}
		for i := range items {
			checkItem(t, items[i])
		}
		var it htmlsource.Item
		if err := detail.ReadDetail(bytes.NewReader(data), &it); err == nil {
			checkItem(t, it)
		}
	})
}

func checkItem(t *testing.T, it htmlsource.Item) {
	t.Helper()
	if it.Link != "" {
		u, err := url.Parse(it.Link)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			t.Fatalf("link %q: not an absolute http(s) URL without fragment (%v)", it.Link, err)
		}
	}
	for _, s := range append([]string{it.Title, it.Series, it.Number, it.Abstract}, slices.Concat(it.Authors, it.Keywords)...) {
		if !utf8.ValidString(s) || s != alertd.OneLine(s) || len(s) > htmlsource.MaxText || strings.ContainsFunc(s, isControl) {
			t.Fatalf("text %q is not plain, on one line and at most %d bytes", s, htmlsource.MaxText)
		}
	}
	if it.Problem != nil || it.Link == "" {
		return
	}
	rep, err := catalogue.Input{
		GUID: it.Link, URL: it.Link, Title: it.Title, PublishedAt: it.PublishedAt, Series: it.Series,
		Number: it.Number, Authors: it.Authors, Abstract: it.Abstract, Keywords: it.Keywords,
	}.Report(now)
	if err == nil {
		checkAccepted(t, rep)
	}
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }
