package htmlsource_test

import (
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/htmlsource"
)

var page, _ = url.Parse("https://www.cres.example/reports/index.html?page=2")

// listOne reads a listing of one item, <li>item</li>, as spec says.
func listOne(t *testing.T, spec htmlsource.Spec, item string) htmlsource.Item {
	t.Helper()
	spec.Item = "li"
	if spec.Title == "" {
		spec.Title = "a"
	}
	r, err := htmlsource.Compile(spec, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	items, _, err := r.Listing(strings.NewReader("<ul><li>"+item+"</li></ul>"), page)
	if err != nil || len(items) != 1 {
		t.Fatalf("%v %v, want one item", items, err)
	}
	return items[0]
}

// The text a page gives is the text a reader sees: tags dropped, entities
// decoded once, white space collapsed, what is not text left out.
func TestTextIsPlain(t *testing.T) {
	tests := []struct{ name, title, want string }{
		{"an entity decoded once", `<a href="/r">Research &amp; Development</a>`, "Research & Development"},
		{"an escaped entity stays an entity", `<a href="/r">Research &amp;amp; Development</a>`, "Research &amp; Development"},
		{"escaped markup stays text", `<a href="/r">&lt;b&gt;Bold&lt;/b&gt; claims</a>`, "<b>Bold</b> claims"},
		{"inline tags join their words", `<a href="/r"><b>Re</b>port on <em>Trade</em></a>`, "Report on Trade"},
		{"blocks and breaks part them", `<a href="/r">Part one<br>part two</a>`, "Part one part two"},
		{"white space collapsed", "<a href=\"/r\">\n  Housing\tand\n\n  Migration  </a>", "Housing and Migration"},
		{"scripts and styles left out", `<a href="/r">Title<script>alert(1)</script><style>a{}</style></a>`, "Title"},
		{"control characters dropped", `<a href="/r">Ti&#27;[31mtle</a>`, "Ti[31mtle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := listOne(t, htmlsource.Spec{}, tt.title).Title; got != tt.want {
				t.Errorf("title %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLinkIsResolvedAgainstThePage(t *testing.T) {
	tests := []struct{ href, want string }{
		{"2020/26.html", "https://www.cres.example/reports/2020/26.html"},
		{"/reports/2020/26.html#top", "https://www.cres.example/reports/2020/26.html"},
		{"../cn/26.html?lang=zh", "https://www.cres.example/cn/26.html?lang=zh"},
		{"//cdn.cres.example/26.html", "https://cdn.cres.example/26.html"},
		{"HTTPS://WWW.Cres.Example/reports/26.html", "https://www.cres.example/reports/26.html"},
		{" \n  2020/26.html\n ", "https://www.cres.example/reports/2020/26.html"},
		{"/reports/2020/\n\t26.html", "https://www.cres.example/reports/2020/26.html"},
		{"https://Bücher.example/r", "https://xn--bcher-kva.example/r"},
		{"https://bücher.example:8443/r", "https://xn--bcher-kva.example:8443/r"},
		{"https://exa\u202emple.org/r", ""},
		{"https://a_b.cres.example/r", "https://a_b.cres.example/r"},
		{"https://www.cres.example:443/reports/26.html", "https://www.cres.example/reports/26.html"},
		{"http://www.cres.example:80/reports/26.html", "http://www.cres.example/reports/26.html"},
		{"http://www.cres.example:443/reports/26.html", "http://www.cres.example:443/reports/26.html"},
		{"javascript:void(0)", ""},
		{" java\tscript:void(0)", ""},
		{"mailto:office@cres.example", ""},
		{"", ""},
	}
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "li", Title: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		// Beside an item with a link: a page where none has one is an error.
		items, _, err := r.Listing(strings.NewReader(`<ul><li><a href="`+tt.href+`">Report</a></li><li><a href="/ok">OK</a></li></ul>`), page)
		if err != nil || len(items) != 2 {
			t.Fatalf("href %q: %v %v, want two items", tt.href, items, err)
		}
		if it := items[0]; it.Link != tt.want || (tt.want == "") != (it.Problem != nil) {
			t.Errorf("href %q: link %q, problem %v; want %q", tt.href, it.Link, it.Problem, tt.want)
		}
	}
}

func TestDatesInCommonForms(t *testing.T) {
	want := time.Date(2020, 3, 5, 0, 0, 0, 0, time.UTC)
	for _, date := range []string{"2020-03-05", "2020-3-5", "Thu, 05 Mar 2020 00:00:00 UTC", "March 5, 2020", "2020年3月5日", " 2020年3月5日 ", "2020/03/05", "2020/3/5", "5 March 2020", "Mar 5, 2020", "05 Mar 2020"} {
		it := listOne(t, htmlsource.Spec{Date: "i"}, `<a href="/r">R</a><i>`+date+`</i>`)
		if it.Problem != nil || it.PublishedAt == nil || !it.PublishedAt.Equal(want) {
			t.Errorf("date %q: %v %v, want 5 March 2020", date, it.PublishedAt, it.Problem)
		}
	}
	it := listOne(t, htmlsource.Spec{Date: "i", DateFormat: "02.01.2006"}, `<a href="/r">R</a><i>05.03.2020</i>`)
	if it.Problem != nil || !it.PublishedAt.Equal(want) {
		t.Errorf("date_format: %v %v, want 5 March 2020", it.PublishedAt, it.Problem)
	}
	it = listOne(t, htmlsource.Spec{Date: "i", DatePattern: `Published:\s*(\S+)`}, `<a href="/r">R</a><i>Published: 2020-03-05 by the Centre</i>`)
	if it.Problem != nil || !it.PublishedAt.Equal(want) {
		t.Errorf("date_pattern: %v %v, want 5 March 2020", it.PublishedAt, it.Problem)
	}
	it = listOne(t, htmlsource.Spec{Date: "i"}, `<a href="/r">R</a><i>05.03.2020</i>`)
	if it.Problem == nil || !strings.Contains(it.Problem.Error(), `"05.03.2020" does not match any common form; set date_format`) {
		t.Errorf("an unknown form: %v, want a problem naming date_format", it.Problem)
	}
}

func TestListsAreSplit(t *testing.T) {
	tests := []struct {
		name     string
		spec     htmlsource.Spec
		item     string
		authors  []string
		keywords []string
	}{
		{"one element, split", htmlsource.Spec{Authors: "p", AuthorsPattern: `^By\s+(.+)`, Keywords: "q", KeywordsPattern: `Key words:\s*(.+)`},
			`<a href="/r">R</a><p>By Jane Doe, John Roe and Ann Poe</p><q>Key words: trade; tariffs, R&amp;D</q>`,
			[]string{"Jane Doe", "John Roe", "Ann Poe"}, []string{"trade", "tariffs", "R&D"}},
		{"Chinese separators", htmlsource.Spec{Authors: "p", Keywords: "q"},
			`<a href="/r">R</a><p>张伟、李娜</p><q>贸易；关税，研发</q>`,
			[]string{"张伟", "李娜"}, []string{"贸易", "关税", "研发"}},
		{"an element each", htmlsource.Spec{Authors: "span.author"},
			`<a href="/r">R</a><span class="author">Doe, Jane</span><span class="author">Roe, John</span>`,
			[]string{"Doe, Jane", "Roe, John"}, nil},
		{"a name holding 'and' is one name", htmlsource.Spec{Authors: "p"},
			`<a href="/r">R</a><p>Anderson Sandoval</p>`, []string{"Anderson Sandoval"}, nil},
	}
	for _, tt := range tests {
		it := listOne(t, tt.spec, tt.item)
		if !slices.Equal(it.Authors, tt.authors) || !slices.Equal(it.Keywords, tt.keywords) {
			t.Errorf("%s: authors %q, keywords %q; want %q, %q", tt.name, it.Authors, it.Keywords, tt.authors, tt.keywords)
		}
	}
}

func TestNextPage(t *testing.T) {
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "li", Title: "a", Next: "a.next", MaxPages: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, next, err := r.Listing(strings.NewReader(`<ul><li><a href="/r">R</a></li></ul><a class="next" href="?page=3">Next</a>`), page)
	if err != nil || next == nil || next.String() != "https://www.cres.example/reports/index.html?page=3" || r.MaxPages() != 3 {
		t.Errorf("next %v, %v; want page 3", next, err)
	}
}

// A next link leads to the listing's next page on the same site, never
// elsewhere: a link planted on the page must not send the poller off to
// read other sites.
func TestNextPageStaysOnTheSite(t *testing.T) {
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "li", Title: "a", Next: "a.next", MaxPages: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for href, want := range map[string]string{
		"https://WWW.cres.example/reports/?page=3": "https://www.cres.example/reports/?page=3",
		"https://elsewhere.example/reports/":       "",
		"https://www.cres.example:8443/reports/":   "",
		"http://www.cres.example/reports/":         "",
		"javascript:next()":                        "",
	} {
		_, next, err := r.Listing(strings.NewReader(`<ul><li><a href="/r">R</a></li></ul><a class="next" href="`+href+`">Next</a>`), page)
		got := ""
		if next != nil {
			got = next.String()
		}
		if err != nil || got != want {
			t.Errorf("next link %q: %v %v, want %q", href, next, err, want)
		}
	}
	// The site's address as configured may spell its name otherwise.
	configured, _ := url.Parse("https://WWW.cres.example:443/reports/")
	_, next, err := r.Listing(strings.NewReader(`<ul><li><a href="/r">R</a></li></ul><a class="next" href="?page=2">Next</a>`), configured)
	if err != nil || next == nil || next.String() != "https://www.cres.example/reports/?page=2" {
		t.Errorf("next link from %s: %v %v, want page 2", configured, next, err)
	}
}

func TestAPageWithoutItemsIsAnError(t *testing.T) {
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "ul.reports li", Title: "a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, _, err := r.Listing(strings.NewReader(`<div class="cards"><article><a href="/r">R</a></article></div>`), page)
	if err != htmlsource.ErrNoItems || items != nil {
		t.Errorf("%v, %v; want ErrNoItems", items, err)
	}
}

func TestTextIsBounded(t *testing.T) {
	long := strings.Repeat("word ", htmlsource.MaxText)
	it := listOne(t, htmlsource.Spec{Abstract: "p"}, `<a href="/r">R</a><p>`+long+`</p>`)
	if len(it.Abstract) > htmlsource.MaxText || !strings.HasPrefix(it.Abstract, "word word") || strings.HasSuffix(it.Abstract, " ") {
		t.Errorf("a %d-byte text read as %d bytes, want at most %d", len(long), len(it.Abstract), htmlsource.MaxText)
	}
}

// A field whose selector finds many elements is bounded as one element's
// text is, and reading it costs what the bound allows, not what the page
// holds: nested matches each hold the whole text below them.
func TestTextOfManyElementsIsBounded(t *testing.T) {
	para := "<p>" + strings.Repeat("word ", htmlsource.MaxText/8) + "</p>"
	it := listOne(t, htmlsource.Spec{Abstract: "p"}, `<a href="/r">R</a>`+strings.Repeat(para, 4))
	if len(it.Abstract) > htmlsource.MaxText || !strings.HasPrefix(it.Abstract, "word word") {
		t.Errorf("four paragraphs read as %d bytes, want at most %d", len(it.Abstract), htmlsource.MaxText)
	}

	nested := strings.Repeat(`<div class="t">`, 200) + strings.Repeat("x", 1<<20) + strings.Repeat("</div>", 200)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	it = listOne(t, htmlsource.Spec{Title: "div.t"}, `<a href="/r">R</a>`+nested)
	runtime.ReadMemStats(&after)
	if len(it.Title) > htmlsource.MaxText {
		t.Errorf("nested elements read as %d bytes, want at most %d", len(it.Title), htmlsource.MaxText)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("reading 200 nested elements over 1 MiB of text allocated %d MiB", n>>20)
	}

	one := `<p>` + strings.Repeat("y ", 4<<20) + `</p>`
	runtime.ReadMemStats(&before)
	listOne(t, htmlsource.Spec{Abstract: "p"}, `<a href="/r">R</a>`+one)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 128<<20 { // parsing the page takes about 80
		t.Errorf("reading one element of 8 MiB of text allocated %d MiB", n>>20)
	}
}

// A date naming its zone by an abbreviation is read in that zone, whatever
// the digest's, or refused when the abbreviation says nothing certain:
// Go would read an unknown one as UTC.
func TestDatesWithZoneNames(t *testing.T) {
	read := func(date string) htmlsource.Item {
		t.Helper()
		spec := htmlsource.Spec{Item: "li", Title: "a", Date: "i"}
		r, err := htmlsource.Compile(spec, time.FixedZone("UTC+8", 8*3600))
		if err != nil {
			t.Fatal(err)
		}
		items, _, err := r.Listing(strings.NewReader(`<ul><li><a href="/r">R</a><i>`+date+`</i></li></ul>`), page)
		if err != nil {
			t.Fatal(err)
		}
		return items[0]
	}
	for date, want := range map[string]time.Time{
		"Thu, 05 Mar 2020 23:00:00 EST":   time.Date(2020, 3, 6, 4, 0, 0, 0, time.UTC),
		"Thu, 05 Mar 2020 23:00:00 PDT":   time.Date(2020, 3, 6, 6, 0, 0, 0, time.UTC),
		"Thu, 05 Mar 2020 23:00:00 GMT":   time.Date(2020, 3, 5, 23, 0, 0, 0, time.UTC),
		"Thu, 05 Mar 2020 23:00:00 UTC":   time.Date(2020, 3, 5, 23, 0, 0, 0, time.UTC),
		"Thu, 05 Mar 2020 23:00:00 -0500": time.Date(2020, 3, 6, 4, 0, 0, 0, time.UTC),
		"2020-03-05":                      time.Date(2020, 3, 4, 16, 0, 0, 0, time.UTC),
	} {
		if it := read(date); it.Problem != nil || it.PublishedAt == nil || !it.PublishedAt.Equal(want) {
			t.Errorf("date %q: %v %v, want %v", date, it.PublishedAt, it.Problem, want)
		}
	}
	if it := read("Thu, 05 Mar 2020 23:00:00 IST"); it.Problem == nil || !strings.Contains(it.Problem.Error(), `the zone "IST"`) {
		t.Errorf("an ambiguous zone name: %v %v, want a problem naming it", it.PublishedAt, it.Problem)
	}
}

// An abstract is kept as markup, as a feed's is, and made plain where it
// is shown: what a reader sees there is what the page showed, its
// entities decoded once, not twice.
func TestAbstractShowsAsThePageShowedIt(t *testing.T) {
	it := listOne(t, htmlsource.Spec{Abstract: "p"}, `<a href="/r">R</a><p>Growth &amp;lt;b&amp;gt; in R&amp;amp;D: 3 &lt;b&gt; 4 <b>bold</b></p>`)
	want := "Growth &lt;b&gt; in R&amp;D: 3 <b> 4 bold"
	if got := alertd.PlainText(it.Abstract, 0); got != want {
		t.Errorf("abstract %q shows as %q, want %q", it.Abstract, got, want)
	}
}

// An item inside another item is part of it, not a report of its own: a
// loose selector ("li") meets the lists inside a report, and a hostile
// page nests items so that reading each costs the whole page.
func TestItemsInsideItemsArePartOfThem(t *testing.T) {
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "li", Title: "h3", Authors: "ul.authors li"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	items, _, err := r.Listing(strings.NewReader(`<ul>
<li><h3><a href="/a">A</a></h3><ul class="authors"><li>Jane Doe</li><li>John Roe</li></ul></li>
<li><h3><a href="/b">B</a></h3></li></ul>`), page)
	if err != nil || len(items) != 2 || items[0].Title != "A" || !slices.Equal(items[0].Authors, []string{"Jane Doe", "John Roe"}) || items[1].Title != "B" {
		t.Errorf("%+v %v, want reports A (with its authors) and B", items, err)
	}

	depth := 240
	nested := strings.Repeat(`<ul class="r"><li><h3><a href="/x">T</a></h3>`, depth) + strings.Repeat("<i>x</i>", 100000) + strings.Repeat("</li></ul>", depth)
	r, err = htmlsource.Compile(htmlsource.Spec{Item: "ul.r > li", Title: "h3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if items, _, err = r.Listing(strings.NewReader(nested), page); err != nil || len(items) != 1 {
		t.Errorf("%d items nested read as %d, %v; want the outermost", depth, len(items), err)
	}
}

// A redesign that keeps the items but moves their titles or links is a
// page that no longer matches too, not a page of items each rejected.
func TestAPageWhoseItemsAllLackTitleOrLinkIsAnError(t *testing.T) {
	r, err := htmlsource.Compile(htmlsource.Spec{Item: "li", Title: "h3", Link: "h3 a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for page0, want := range map[string]string{
		`<ul><li><h2><a href="/a">A</a></h2></li><li><h2><a href="/b">B</a></h2></li></ul>`: "the title selector finds no text in any of the 2 items",
		`<ul><li><h3>A</h3><a href="/a">more</a></li><li><h3>B</h3></li></ul>`:              "the link selector finds no http(s) link in any of the 2 items",
	} {
		items, _, err := r.Listing(strings.NewReader(page0), page)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "has the site changed?") {
			t.Errorf("%s: %d items, %v; want an error containing %q", page0, len(items), err, want)
		}
	}
	items, _, err := r.Listing(strings.NewReader(`<ul><li><h3><a href="/a">A</a></h3></li><li><h2>B</h2></li></ul>`), page)
	if err != nil || len(items) != 2 {
		t.Errorf("one good item of two: %d items, %v; want both, the other to be rejected", len(items), err)
	}
}
