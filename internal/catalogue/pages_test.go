package catalogue_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/htmlsource"
)

// site serves the pages of testdata/site, as an institution's web server
// would, counts the requests for each path, and lets a test put another
// page in a path's place (a redesign).
type site struct {
	*httptest.Server
	mu      sync.Mutex
	hits    map[string]int
	swapped map[string]string
}

func serveSite(t *testing.T) *site {
	t.Helper()
	s := &site{hits: map[string]int{}, swapped: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		name, ok := s.swapped[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			name = r.URL.Path
			if strings.HasSuffix(name, "/") {
				name += "index.html"
			}
		}
		page, err := os.ReadFile(filepath.Join("testdata", "site", filepath.FromSlash(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	}))
	t.Cleanup(s.Close)
	return s
}

// swap serves the fixture file name at path from now on.
func (s *site) swap(path, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.swapped[path] = name
}

func (s *site) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// centre is how the research centre's "Reports" page and its report pages
// are read: titles and dates from the listing, the rest from each report's
// own page.
var centre = htmlsource.Spec{
	Item: "ul.report-list > li", Title: "h3", Link: "h3 a", Date: ".date-display-single",
	Detail:  true,
	Authors: ".field-name-field-authors", AuthorsPattern: `^By\s+(.+)`,
	Series: ".field-name-field-series", SeriesPattern: `^(.+?),\s*No\.`,
	Number: ".field-name-field-series", NumberPattern: `No\.\s*(\d+)`,
	Abstract: ".field-name-body p:first-child", AbstractPattern: `^Abstract:\s*(.+)`,
	Keywords: "p.keywords", KeywordsPattern: `^Key words:\s*(.+)`,
}

// zone is digest.timezone in these tests: east of UTC, so that a date
// read as midnight UTC would be shown a day late... or early, were it
// misread.
var zone = time.FixedZone("UTC+8", 8*3600)

// htmlService is a catalogue over a fresh store whose one source is the
// page at url, read as spec says.
func htmlService(t *testing.T, url string, spec htmlsource.Spec, review bool) *catalogue.Service {
	t.Helper()
	reader, err := htmlsource.Compile(spec, zone)
	if err != nil {
		t.Fatal(err)
	}
	return catalogue.NewService(seed(t, nil), catalogue.Rules{
		Sources: []catalogue.Source{{URL: url, Schedule: "@hourly", Review: review, HTML: reader}},
	}, func() time.Time { return day0 }, func() {})
}

// poll polls as the scheduler does; the site listens on loopback.
func poll(t *testing.T, cat *catalogue.Service, url string) (catalogue.ImportResult, error) {
	t.Helper()
	return cat.Poll(context.Background(), catalogue.NewClient(true), url)
}

func allReports(t *testing.T, cat *catalogue.Service) []alertd.Report {
	t.Helper()
	reports, err := cat.All(context.Background(), 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	return reports
}

func byURL(reports []alertd.Report, url string) (alertd.Report, bool) {
	i := slices.IndexFunc(reports, func(r alertd.Report) bool { return r.URL == url })
	if i < 0 {
		return alertd.Report{}, false
	}
	return reports[i], true
}

func TestPollReadsAListingAndEachNewReportsPageOnce(t *testing.T) {
	s := serveSite(t)
	url := s.URL + "/reports/"
	cat := htmlService(t, url, centre, false)

	res, err := poll(t, cat, url)
	if err != nil || res.Added != 3 || len(res.Rejected) != 0 {
		t.Fatalf("first poll: %+v %v, want 3 added", res, err)
	}
	reports := allReports(t, cat)
	if len(reports) != 3 {
		t.Fatalf("%d reports stored, want 3 (the spam line above the list is none)", len(reports))
	}
	for _, r := range reports {
		if strings.Contains(r.Title+r.URL, "replica") {
			t.Errorf("the spam line became a report: %+v", r)
		}
	}
	trade, ok := byURL(reports, s.URL+"/reports/2020/regional-trade-after-the-pandemic.html")
	want := alertd.Report{
		GUID:        s.URL + "/reports/2020/regional-trade-after-the-pandemic.html",
		URL:         s.URL + "/reports/2020/regional-trade-after-the-pandemic.html",
		Title:       "Regional Trade after the Pandemic: Research & Development in Small Firms",
		PublishedAt: time.Date(2020, 3, 5, 0, 0, 0, 0, zone),
		Authors:     []string{"Jane Doe", "John Roe", "Ann Poe"},
		Series:      "Research Report", Number: "26",
		// An abstract is markup, as a feed's is: the page's "&" is kept escaped.
		Abstract: "Small firms in border regions lost a third of their export orders in the spring of 2020. " +
			"This report follows 412 of them through the year &amp; asks which kept their research budgets.",
		Keywords: []string{"trade", "small firms", "R&D", "pandemic"},
	}
	if !ok || trade.GUID != want.GUID || trade.Title != want.Title || !trade.PublishedAt.Equal(want.PublishedAt) ||
		!slices.Equal(trade.Authors, want.Authors) || trade.Series != want.Series || trade.Number != want.Number ||
		trade.Abstract != want.Abstract || !slices.Equal(trade.Keywords, want.Keywords) {
		t.Errorf("the report read:\n%+v\nwant:\n%+v", trade, want)
	}
	// A relative link with a fragment is the same report page as the
	// site-absolute one the reordered listing gives.
	housing, _ := byURL(reports, s.URL+"/reports/2020/housing-and-migration.html")
	if housing.Title != "Housing and Internal Migration" || !slices.Equal(housing.Authors, []string{"Li Wei", "Maria García"}) ||
		!slices.Equal(housing.Keywords, []string{"housing", "migration", "labour markets"}) || housing.Number != "25" {
		t.Errorf("the second report read: %+v", housing)
	}

	// The same listing, re-ordered, adds nothing, and no report page is
	// fetched again.
	s.swap("/reports/", "reports/reordered.html")
	res, err = poll(t, cat, url)
	if err != nil || res.Added != 0 || res.Unchanged != 3 || len(res.Rejected) != 0 {
		t.Errorf("poll of the re-ordered listing: %+v %v, want 3 unchanged", res, err)
	}
	for _, page := range []string{"regional-trade-after-the-pandemic.html", "housing-and-migration.html", "energy-prices.html"} {
		if n := s.hitsOf("/reports/2020/" + page); n != 1 {
			t.Errorf("%s fetched %d times, want once", page, n)
		}
	}
}

func TestPollOfARedesignedPageIsAnErrorAndChangesNothing(t *testing.T) {
	s := serveSite(t)
	url := s.URL + "/reports/"
	cat := htmlService(t, url, centre, false)
	if _, err := poll(t, cat, url); err != nil {
		t.Fatal(err)
	}
	before := allReports(t, cat)

	s.swap("/reports/", "reports/redesign.html")
	res, err := poll(t, cat, url)
	if err == nil || !strings.Contains(err.Error(), "the item selector finds nothing") ||
		!strings.Contains(err.Error(), url) || res.Added != 0 {
		t.Errorf("poll of the redesigned page: %+v %v, want an error naming the page and the item selector", res, err)
	}
	if after := allReports(t, cat); len(after) != len(before) {
		t.Errorf("the catalogue went from %d to %d reports", len(before), len(after))
	}
	statuses, err := cat.Sources(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) != 1 || statuses[0].Outcome != alertd.PollError || !strings.Contains(statuses[0].LastError, "the item selector finds nothing") ||
		statuses[0].TotalAdded != 3 {
		t.Errorf("source status %+v, want the failed poll and its reason", statuses)
	}
}

func TestPollReadsAPagedListingUpToMaxPages(t *testing.T) {
	spec := htmlsource.Spec{
		Item: "table.publications tbody tr", Title: "td.pub-title", Date: "td.pub-date", DateFormat: "Jan 2, 2006",
		Series: "td.pub-series", SeriesPattern: `^(.+?)\s+No\.`, Number: "td.pub-series", NumberPattern: `No\.\s*(\d+)`,
		Next: ".pagination a.next",
	}
	tests := []struct {
		maxPages int
		want     []string
	}{
		{0, []string{"wp-13", "wp-14"}},
		{2, []string{"wp-11", "wp-12", "wp-13", "wp-14"}},
		{10, []string{"wp-10", "wp-11", "wp-12", "wp-13", "wp-14"}},
	}
	for _, tt := range tests {
		s := serveSite(t)
		url := s.URL + "/archive/page-1.html"
		spec.MaxPages = tt.maxPages
		cat := htmlService(t, url, spec, false)
		if _, err := poll(t, cat, url); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range allReports(t, cat) {
			got = append(got, strings.TrimPrefix(r.URL, s.URL+"/papers/"))
			if r.Series != "Working Paper" || r.Number == "" {
				t.Errorf("%s: series %q, number %q", r.URL, r.Series, r.Number)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("max_pages %d: read %v, want %v", tt.maxPages, got, tt.want)
		}
	}
}

func TestPollReadsChineseDatesInTheDigestZone(t *testing.T) {
	s := serveSite(t)
	url := s.URL + "/cn/reports.html"
	cat := htmlService(t, url, htmlsource.Spec{Item: "ul.news-list > li", Title: "a", Date: "span.time"}, false)
	if res, err := poll(t, cat, url); err != nil || res.Added != 3 {
		t.Fatalf("poll: %+v %v, want 3 added", res, err)
	}
	got, ok := byURL(allReports(t, cat), s.URL+"/cn/reports/2020/26.html")
	if !ok || got.Title != "疫情后的区域贸易与中小企业研发" || !got.PublishedAt.Equal(time.Date(2020, 3, 5, 0, 0, 0, 0, zone)) {
		t.Errorf("report %+v, want its title and 5 March 2020 at midnight in the digest's zone", got)
	}
}

func TestPollHoldsScrapedReportsOfASourceUnderReview(t *testing.T) {
	s := serveSite(t)
	url := s.URL + "/cn/reports.html"
	cat := htmlService(t, url, htmlsource.Spec{Item: "ul.news-list > li", Title: "a", Date: "span.time"}, true)
	if res, err := poll(t, cat, url); err != nil || res.Added != 3 {
		t.Fatalf("poll: %+v %v, want 3 added", res, err)
	}
	if n := len(allReports(t, cat)); n != 0 {
		t.Errorf("%d reports in the catalogue, want all 3 held", n)
	}
	held, err := cat.Held(context.Background(), 100, 0)
	if err != nil || len(held) != 3 {
		t.Errorf("%d held (%v), want 3", len(held), err)
	}
}

// A page is held to the bounds a feed is: its size, its item count, and
// the private-network rule.
func TestPollRefusesWhatAFeedWouldBeRefused(t *testing.T) {
	many := "<ul>" + strings.Repeat(`<li><a href="/r">R</a></li>`, htmlsource.MaxPageItems+1) + "</ul>"
	huge := "<ul><li><a href=\"/r\">R</a></li></ul><!--" + strings.Repeat("x", htmlsource.MaxPageSize) + "-->"
	for name, tt := range map[string]struct{ page, want string }{
		"too many items": {many, "finds 1001 items, more than the 1000 a page may have"},
		"too large":      {huge, "over the 10 MiB a page may be"},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(tt.page)) }))
			defer srv.Close()
			cat := htmlService(t, srv.URL+"/", htmlsource.Spec{Item: "li", Title: "a"}, false)
			res, err := poll(t, cat, srv.URL+"/")
			if err == nil || !strings.Contains(err.Error(), tt.want) || res.Added != 0 {
				t.Errorf("%+v %v, want an error containing %q", res, err, tt.want)
			}
		})
	}

	t.Run("a report page on a private network", func(t *testing.T) {
		s := serveSite(t)
		// The listing is public; the report pages it links to are not.
		listing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`<ul class="report-list"><li><h3><a href="` + s.URL + `/reports/2020/energy-prices.html">Energy</a></h3>` +
				`<span class="date-display-single">2020-01-27</span></li></ul>`))
		}))
		defer listing.Close()
		cat := htmlService(t, listing.URL+"/", centre, false)
		client := catalogue.NewClientOver(http.DefaultTransport.(*http.Transport), netip.MustParseAddrPort(listing.Listener.Addr().String()))
		res, err := cat.Poll(context.Background(), client, listing.URL+"/")
		if err != nil || res.Added != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "is a loopback address") {
			t.Errorf("%+v %v, want the item rejected for its report page's address", res, err)
		}
		if n := s.hitsOf("/reports/2020/energy-prices.html"); n != 0 {
			t.Errorf("the private report page was fetched %d times", n)
		}
	})
}

// An item without a link or with a date no layout fits is rejected with
// its reason; the others still go in.
func TestPollRejectsAnItemItCannotRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<ul>
<li><a href="/a">Fine</a> <i>2020-03-05</i></li>
<li><a href="javascript:void(0)">No Link</a> <i>2020-03-05</i></li>
<li><a href="/c">Bad Date</a> <i>the fifth of March</i></li>
</ul>`))
	}))
	defer srv.Close()
	cat := htmlService(t, srv.URL+"/", htmlsource.Spec{Item: "li", Title: "a", Date: "i"}, false)
	res, err := poll(t, cat, srv.URL+"/")
	if err != nil || res.Added != 1 || len(res.Rejected) != 2 ||
		res.Rejected[0].Line != 2 || !strings.Contains(res.Rejected[0].Reason, "no link") ||
		res.Rejected[1].Line != 3 || !strings.Contains(res.Rejected[1].Reason, `the date "the fifth of March" does not match`) {
		t.Errorf("%+v %v, want 1 added and items 2 and 3 rejected with their reasons", res, err)
	}
}

func TestTrySourceStoresNothing(t *testing.T) {
	s := serveSite(t)
	url := s.URL + "/reports/"
	cat := htmlService(t, url, centre, false)
	items, err := cat.TrySource(context.Background(), catalogue.NewClient(true), url)
	if err != nil || len(items) != 3 || items[0].Known || items[0].Report.Number != "26" {
		t.Fatalf("%+v %v, want the 3 reports, new", items, err)
	}
	if n := len(allReports(t, cat)); n != 0 {
		t.Errorf("%d reports stored, want none", n)
	}
	statuses, err := cat.Sources(context.Background())
	if err != nil || statuses[0].LastPollAt != nil {
		t.Errorf("status %+v %v, want no poll recorded", statuses, err)
	}
	if _, err := poll(t, cat, url); err != nil {
		t.Fatal(err)
	}
	items, err = cat.TrySource(context.Background(), catalogue.NewClient(true), url)
	if err != nil || len(items) != 3 || !items[0].Known {
		t.Errorf("%+v %v, want the 3 reports known after a poll", items, err)
	}
}

// A site too slow to read whole within a poll's time costs the poll only
// the reports it had no time for: those read go in, the rest wait for the
// next poll, none is rejected for the site's slowness.
func TestPollOutOfTimeLeavesTheRestForTheNextPoll(t *testing.T) {
	catalogue.SetPagesBudget(t, 300*time.Millisecond)
	slow := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Write([]byte(`<ul><li><a href="/a">A</a></li><li><a href="/b">B</a></li><li><a href="/c">C</a></li></ul>`))
		case "/b":
			select {
			case <-slow:
			case <-r.Context().Done():
				return
			}
			fallthrough
		default:
			w.Write([]byte(`<p class="abstract">Abstract of ` + r.URL.Path + `</p>`))
		}
	}))
	defer srv.Close()
	cat := htmlService(t, srv.URL+"/", htmlsource.Spec{Item: "li", Title: "a", Abstract: "p.abstract", Detail: true}, false)
	res, err := poll(t, cat, srv.URL+"/")
	if err != nil || res.Added != 1 || len(res.Rejected) != 0 {
		t.Fatalf("%+v %v, want report A added and B and C left for later", res, err)
	}
	close(slow)
	res, err = poll(t, cat, srv.URL+"/")
	if err != nil || res.Added != 2 || len(res.Rejected) != 0 {
		t.Errorf("%+v %v, want B and C added by the next poll", res, err)
	}
}

// An item the catalogue would refuse anyway, such as one whose link holds
// a user name and reads as another site's, has its report page left
// unfetched: a planted link sends the poller nowhere.
func TestPollFetchesNoPageForAnItemItWouldRefuse(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		if r.URL.Path == "/" {
			host := r.Host
			w.Write([]byte(`<ul><li><a href="http://bank.example@` + host + `/planted">Login</a></li><li><a href="/fine">Fine</a></li></ul>`))
			return
		}
		w.Write([]byte(`<p class="abstract">Abstract</p>`))
	}))
	defer srv.Close()
	cat := htmlService(t, srv.URL+"/", htmlsource.Spec{Item: "li", Title: "a", Abstract: "p.abstract", Detail: true}, false)
	res, err := poll(t, cat, srv.URL+"/")
	if err != nil || res.Added != 1 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "must not hold a user name") {
		t.Errorf("%+v %v, want the planted link rejected and the other added", res, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hits["/planted"] != 0 || hits["/fine"] != 1 {
		t.Errorf("report pages fetched %v, want only /fine", hits)
	}
}
