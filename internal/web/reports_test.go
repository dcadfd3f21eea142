package web_test

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// adminSend sends an admin API request with a JSON body and the bearer token.
func (h *harness) adminSend(method, path, body string) response {
	h.t.Helper()
	req := h.request(method, path, "application/json", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return h.do(req)
}

// addReports stores n reports, "Report n" down to "Report 01", published
// every step before the harness clock's now, and returns their titles
// newest first.
func (h *harness) addReports(n int, step time.Duration) []string {
	h.t.Helper()
	var titles []string
	for i := range n {
		title := fmt.Sprintf("Report %02d", n-i)
		h.addReport(title, -time.Duration(i+1)*step)
		titles = append(titles, title)
	}
	return titles
}

// addReport stores a report through the catalogue, as the importers do,
// published at the given offset from the harness clock's now.
func (h *harness) addReport(title string, published time.Duration) alertd.Report {
	h.t.Helper()
	at := h.clock.Now().Add(published)
	slug := strings.ToLower(strings.Join(strings.Fields(title), "-"))
	rep, created, err := h.cat.Add(context.Background(), catalogue.Input{
		Title: title, URL: "https://example.org/r/" + slug, PublishedAt: &at,
	}, false)
	if err != nil || !created {
		h.t.Fatalf("add report %q: created=%v %v", title, created, err)
	}
	return rep
}

// reportTitles decodes a reports list answer into its titles, in order.
func reportTitles(t *testing.T, r response) []string {
	t.Helper()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200: %s", r.StatusCode, r.body)
	}
	var reports []alertd.Report
	decode(t, r, &reports)
	if reports == nil {
		t.Fatalf("answer %q is not a JSON array", r.body)
	}
	titles := []string{}
	for _, rep := range reports {
		titles = append(titles, rep.Title)
	}
	return titles
}

func TestCreateReportAnswers201WithTheStoredReport(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	r := h.adminSend(http.MethodPost, "/api/v1/reports", `{
		"title": "Water & Energy Outlook", "url": "https://example.org/r/1",
		"published_at": "2026-03-01T09:00:00Z", "series": "Research Report", "number": "No. 26, 2026",
		"authors": ["A. Author", "B. Author"], "abstract": "<p>Findings.</p>", "keywords": ["water"]}`)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("status = %d, want 201: %s", r.StatusCode, r.body)
	}
	var rep alertd.Report
	decode(t, r, &rep)
	want := alertd.Report{
		ID: rep.ID, GUID: "https://example.org/r/1", URL: "https://example.org/r/1", Title: "Water & Energy Outlook",
		PublishedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Series: "Research Report", Number: "No. 26, 2026",
		Authors: []string{"A. Author", "B. Author"}, Abstract: "<p>Findings.</p>", Keywords: []string{"water"},
		CreatedAt: h.clock.Now(),
	}
	if rep.ID < 1 || fmt.Sprint(rep) != fmt.Sprint(want) {
		t.Errorf("stored report =\n%+v\nwant\n%+v", rep, want)
	}

	// The guid defaults to the url, so the same url again is the same report,
	// even under another title.
	again := h.adminSend(http.MethodPost, "/api/v1/reports", `{"title": "Another title", "url": "https://example.org/r/1"}`)
	if again.StatusCode != http.StatusOK {
		t.Fatalf("the same guid again: status = %d, want 200: %s", again.StatusCode, again.body)
	}
	var unchanged alertd.Report
	decode(t, again, &unchanged)
	if unchanged.ID != rep.ID || unchanged.Title != want.Title {
		t.Errorf("the same guid again answered %+v, want the stored report unchanged", unchanged)
	}

	// An explicit guid identifies the report whatever its url.
	for i, wantStatus := range []int{http.StatusCreated, http.StatusOK} {
		body := fmt.Sprintf(`{"guid": "rr-7", "title": "Seven", "url": "https://example.org/r/7?v=%d"}`, i)
		if r := h.adminSend(http.MethodPost, "/api/v1/reports", body); r.StatusCode != wantStatus {
			t.Errorf("guid rr-7, post %d: status = %d, want %d: %s", i+1, r.StatusCode, wantStatus, r.body)
		}
	}
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports")); !slices.Equal(got, []string{"Seven", want.Title}) {
		t.Errorf("catalogue = %v, want the two reports as first stored", got)
	}
}

func TestCreateReportRefusesBadInputWithAClear400(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken, Topics: []alertd.Topic{{ID: "economy", Name: "Economy"}}})
	tests := []struct {
		name, body string
		want       []string // words the error must hold
	}{
		{"missing title", `{"url": "https://example.org/r/1"}`, []string{"title", "required"}},
		{"blank title", `{"title": "  ", "url": "https://example.org/r/1"}`, []string{"title", "required"}},
		{"missing url", `{"title": "T"}`, []string{"url", "required"}},
		{"relative url", `{"title": "T", "url": "/r/1"}`, []string{"url", "absolute"}},
		{"javascript url", `{"title": "T", "url": "javascript:alert(1)"}`, []string{"url", "http"}},
		{"unknown field", `{"title": "T", "url": "https://example.org/r/1", "publised_at": "2026-03-01T09:00:00Z"}`, []string{"publised_at"}},
		{"title of the wrong type", `{"title": 42, "url": "https://example.org/r/1"}`, []string{"title", "string"}},
		{"authors of the wrong type", `{"title": "T", "url": "https://example.org/r/1", "authors": "A, B"}`, []string{"authors", "list"}},
		{"over-long title", `{"title": "` + strings.Repeat("a", catalogue.MaxTitle+1) + `", "url": "https://example.org/r/1"}`, []string{"title", "1000"}},
		{"unknown topic", `{"title": "T", "url": "https://example.org/r/1", "topics": ["sport"]}`, []string{"topics", "sport"}},
		{"bad published_at", `{"title": "T", "url": "https://example.org/r/1", "published_at": "yesterday"}`, []string{"published_at", "RFC 3339"}},
		{"not a JSON object", `["T", "https://example.org/r/1"]`, []string{"object"}},
		{"broken JSON", `{"title": "T", "url":`, []string{"invalid JSON"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			r := h.adminSend(http.MethodPost, "/api/v1/reports", tt.body)
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400: %s", r.StatusCode, r.body)
			}
			msg := jsonError(t, r)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
			if tt.name != "broken JSON" && strings.Contains(msg, "invalid JSON") {
				t.Errorf("error %q blames the JSON syntax for a mistake in a report", msg)
			}
		})
	}
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports")); len(got) != 0 {
		t.Errorf("refused reports were stored: %v", got)
	}
}

func TestCreateReportNeedsTheToken(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	req := h.request(http.MethodPost, "/api/v1/reports", "application/json",
		strings.NewReader(`{"title": "T", "url": "https://example.org/r/1"}`))
	if r := h.do(req); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: status = %d, want 401", r.StatusCode)
	}
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports")); len(got) != 0 {
		t.Errorf("a report was stored without the token: %v", got)
	}
}

func TestCreateReportRefusesABodyOver64KiB(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	body := `{"title": "T", "url": "https://example.org/r/1", "abstract": "` + strings.Repeat("a", 64<<10) + `"}`
	tests := []struct {
		name string
		body io.Reader
	}{
		{"with its length announced", strings.NewReader(body)},
		// A reader of unknown length is sent chunked: the limit must hold
		// while the body is read, too.
		{"chunked", io.MultiReader(strings.NewReader(body))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := h.in(t)
			req := h.request(http.MethodPost, "/api/v1/reports", "application/json", tt.body)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			r := h.do(req)
			if r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status = %d, want 413: %s", r.StatusCode, r.body)
			}
			jsonError(t, r)
		})
	}
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports")); len(got) != 0 {
		t.Errorf("an over-long body was stored: %v", got)
	}
}

func TestListReportsPagesNewestFirst(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	var ids []int64
	for i, title := range []string{"Five", "Four", "Three", "Two", "One"} {
		ids = append(ids, h.addReport(title, -time.Duration(i+1)*time.Hour).ID)
	}
	// The admin sees embargoed reports too: they are in the catalogue.
	h.addReport("Embargoed", 48*time.Hour)

	pages := []struct {
		query string
		want  []string
	}{
		{"", []string{"Embargoed", "Five", "Four", "Three", "Two", "One"}},
		{"?limit=2", []string{"Embargoed", "Five"}},
		{fmt.Sprintf("?limit=2&before=%d", ids[0]), []string{"Four", "Three"}},
		{fmt.Sprintf("?limit=2&before=%d", ids[2]), []string{"Two", "One"}},
		{fmt.Sprintf("?before=%d", ids[4]), []string{}},
	}
	for _, p := range pages {
		if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports"+p.query)); !slices.Equal(got, p.want) {
			t.Errorf("GET /api/v1/reports%s = %v, want %v", p.query, got, p.want)
		}
	}
	for _, query := range []string{"?limit=0", "?limit=-1", "?limit=501", "?limit=ten", "?before=x", "?before=0"} {
		r := h.admin(http.MethodGet, "/api/v1/reports"+query)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("GET /api/v1/reports%s = %d, want 400", query, r.StatusCode)
			continue
		}
		jsonError(t, r)
	}
}

// listedTitles returns the report titles a catalogue page links, in order.
func listedTitles(body string) []string {
	var titles []string
	for _, m := range regexp.MustCompile(`<a href="https://example\.org/r/[^"]*">([^<]*)</a>`).FindAllStringSubmatch(body, -1) {
		titles = append(titles, m[1])
	}
	return titles
}

func TestCataloguePageShowsPublishedReportsNewestFirst(t *testing.T) {
	h := newHarness(t, options{})
	if r := h.get("/reports"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "No reports") {
		t.Fatalf("empty catalogue: %d, want 200 saying there are no reports:\n%s", r.StatusCode, r.body)
	}
	h.addReport("Older", -2*time.Hour)
	h.addReport("Newer", -time.Hour)
	h.addReport("Embargoed", time.Hour)

	r := h.get("/reports")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", r.StatusCode)
	}
	if got := listedTitles(r.body); !slices.Equal(got, []string{"Newer", "Older"}) {
		t.Errorf("the page lists %v, want [Newer Older] (the embargoed report waits)", got)
	}
	h.clock.Advance(time.Hour)
	if got := listedTitles(h.get("/reports").body); !slices.Equal(got, []string{"Embargoed", "Newer", "Older"}) {
		t.Errorf("after the embargo the page lists %v, want the report first", got)
	}
}

var olderLink = regexp.MustCompile(`<a href="(/reports\?before=\d+)"[^>]*>Older reports</a>`)

func TestCataloguePagePaginates(t *testing.T) {
	h := newHarness(t, options{})
	want := h.addReports(25, time.Minute)
	first := h.get("/reports")
	if got := listedTitles(first.body); !slices.Equal(got, want[:20]) {
		t.Errorf("first page lists %v, want %v", got, want[:20])
	}
	link := olderLink.FindStringSubmatch(first.body)
	if link == nil {
		t.Fatalf("the first page has no Older reports link:\n%s", first.body)
	}
	second := h.get(strings.ReplaceAll(link[1], "&amp;", "&"))
	if second.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d", link[1], second.StatusCode)
	}
	if got := listedTitles(second.body); !slices.Equal(got, want[20:]) {
		t.Errorf("second page lists %v, want %v", got, want[20:])
	}
	if olderLink.MatchString(second.body) {
		t.Error("the last page links to older reports")
	}
	if !strings.Contains(second.body, `<a href="/reports">Newest reports</a>`) {
		t.Error("the second page does not link back to the newest reports")
	}
}

func TestCataloguePageRefusesABadCursor(t *testing.T) {
	h := newHarness(t, options{})
	h.addReport("Only", -time.Hour)
	for _, before := range []string{"x", "0", "-3", "1.5", "99999999999999999999"} {
		if r := h.get("/reports?before=" + before); r.StatusCode != http.StatusBadRequest {
			t.Errorf("?before=%s: status = %d, want 400", before, r.StatusCode)
		}
	}
}

// hostile is a report whose every text field carries markup meant to run in
// a reader's browser.
var hostile = catalogue.Input{
	Title:    "<script>alert(1)</script> Trade",
	URL:      "https://example.org/r/hostile?a=1&b=2",
	Series:   `<img src=x onerror=alert(2)>`,
	Authors:  []string{"<b>Eve</b>"},
	Abstract: `<p onclick="alert(3)">Findings</p> &lt;script&gt;alert(4)&lt;/script&gt; <iframe src="https://evil.example"></iframe>`,
	Keywords: []string{"<k>"},
}

func (h *harness) addHostileReport() {
	h.t.Helper()
	in := hostile
	at := h.clock.Now().Add(-time.Minute)
	in.PublishedAt = &at
	if _, _, err := h.cat.Add(context.Background(), in, false); err != nil {
		h.t.Fatal(err)
	}
}

func TestCataloguePagesEscapeHostileText(t *testing.T) {
	h := newHarness(t, options{})
	h.addHostileReport()
	for _, path := range []string{"/reports", "/"} {
		r := h.get(path)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s = %d", path, r.StatusCode)
		}
		for _, raw := range []string{"<script", "<img", "<b>Eve", "onclick", "<iframe", "<k>"} {
			if strings.Contains(r.body, raw) {
				t.Errorf("GET %s shows %q raw", path, raw)
			}
		}
		if !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt; Trade") {
			t.Errorf("GET %s does not show the title as text", path)
		}
		if !strings.Contains(r.body, `href="https://example.org/r/hostile?a=1&amp;b=2"`) {
			t.Errorf("GET %s does not link the report's url", path)
		}
	}
}

func TestAtomFeedListsPublishedReportsNewestFirst(t *testing.T) {
	h := newHarness(t, options{})
	h.addReport("Older", -2*time.Hour)
	h.addReport("Newer", -time.Hour)
	h.addReport("Embargoed", time.Hour)
	h.addHostileReport()

	r := h.get("/reports/feed.atom")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", r.StatusCode)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
		t.Errorf("Content-Type = %q, want application/atom+xml", ct)
	}
	for _, raw := range []string{"<script", "<img", "<b>", "<iframe"} {
		if strings.Contains(r.body, raw) {
			t.Errorf("the feed holds %q unescaped:\n%s", raw, r.body)
		}
	}
	feed, err := gofeed.NewParser().ParseString(r.body)
	if err != nil {
		t.Fatalf("the feed does not parse: %v\n%s", err, r.body)
	}
	if feed.FeedType != "atom" {
		t.Errorf("FeedType = %q, want atom", feed.FeedType)
	}
	var titles []string
	for _, item := range feed.Items {
		titles = append(titles, item.Title)
	}
	if want := []string{hostile.Title, "Newer", "Older"}; !slices.Equal(titles, want) {
		t.Fatalf("entries = %q, want %q (newest first, the embargoed report absent, text as given)", titles, want)
	}
	newer := feed.Items[1]
	if newer.Link != "https://example.org/r/newer" || newer.PublishedParsed == nil ||
		!newer.PublishedParsed.Equal(h.clock.Now().Add(-time.Hour).Truncate(time.Second)) {
		t.Errorf("entry Newer: link %q, published %v", newer.Link, newer.PublishedParsed)
	}
	if got := feed.Items[0].Link; got != hostile.URL {
		t.Errorf("hostile entry links %q, want %q", got, hostile.URL)
	}
}

func TestFormPageListsTheLatestReports(t *testing.T) {
	h := newHarness(t, options{})
	want := h.addReports(7, time.Hour)
	h.addReport("Embargoed", time.Hour)
	r := h.get("/")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status = %d", r.StatusCode)
	}
	if got := listedTitles(r.body); !slices.Equal(got, want[:5]) {
		t.Errorf("the form lists %v, want the latest five %v", got, want[:5])
	}
	if !strings.Contains(r.body, `href="/reports"`) {
		t.Error("the form does not link to the catalogue")
	}
}

// keys returns the sorted names of a JSON object.
func keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

func TestDigestAPICompilesTheNextDigestOnce(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.confirmed("ada@example.org")
	h.confirmed("bob@example.org")
	h.subscribe("pending@example.org")
	h.addReport("Older", -2*time.Hour)
	h.addReport("Newer", -time.Hour)
	h.addReport("Embargoed", time.Hour)

	r := h.adminSend(http.MethodPost, "/api/v1/digests", "")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("compile: status = %d, want 201: %s", r.StatusCode, r.body)
	}
	var compiled map[string]any
	decode(t, r, &compiled)
	if !slices.Equal(keys(compiled), []string{"id", "recipients", "reports"}) ||
		compiled["reports"] != float64(2) || compiled["recipients"] != float64(2) {
		t.Fatalf("compile answered %v, want id, 2 reports (not the embargoed one), 2 confirmed recipients", compiled)
	}
	id := fmt.Sprint(compiled["id"])

	r = h.adminSend(http.MethodPost, "/api/v1/digests", "")
	var skipped map[string]any
	decode(t, r, &skipped)
	if r.StatusCode != http.StatusOK || !maps.Equal(skipped, map[string]any{"skipped": "no new reports"}) {
		t.Fatalf("compiling again: %d %v, want 200 skipped", r.StatusCode, skipped)
	}

	r = h.admin(http.MethodGet, "/api/v1/digests/"+id)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET digest %s: %d: %s", id, r.StatusCode, r.body)
	}
	var digest map[string]any
	decode(t, r, &digest)
	want := map[string]any{
		"id": compiled["id"], "status": "sending", "reports": float64(2), "recipients": float64(2),
		"sent": float64(0), "failed": float64(0), "pending": float64(2),
	}
	for k, v := range want {
		if digest[k] != v {
			t.Errorf("digest %s = %v, want %v (all: %v)", k, digest[k], v, digest)
		}
	}

	r = h.admin(http.MethodGet, "/api/v1/stats")
	var stats struct {
		LastDigest map[string]any `json:"last_digest"`
		NextDigest time.Time      `json:"next_digest"`
	}
	decode(t, r, &stats)
	if stats.LastDigest["id"] != compiled["id"] || stats.LastDigest["pending"] != float64(2) {
		t.Errorf("stats last_digest = %v, want digest %s", stats.LastDigest, id)
	}
	if !stats.NextDigest.Equal(h.clock.Now().Add(24 * time.Hour)) {
		t.Errorf("stats next_digest = %v", stats.NextDigest)
	}

	// The embargoed report is announced once its time has come.
	h.clock.Advance(time.Hour)
	r = h.adminSend(http.MethodPost, "/api/v1/digests", "")
	decode(t, r, &compiled)
	if r.StatusCode != http.StatusCreated || compiled["reports"] != float64(1) {
		t.Errorf("after the embargo: %d %v, want a digest of the one report", r.StatusCode, compiled)
	}
}

func TestGetDigestRefusesUnknownAndBadIDs(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.refusesBadIDs(http.MethodGet, "/api/v1/digests/", "")
}

func TestAtomEntryIDIsAlwaysASafeIRI(t *testing.T) {
	h := newHarness(t, options{})
	guids := map[string]string{ // guid: the entry's id, "" when derived
		"https://example.org/r/1":            "https://example.org/r/1",
		"urn:isbn:978-0-00-000000-2":         "urn:isbn:978-0-00-000000-2",
		"tag:example.org,2026:report-3":      "tag:example.org,2026:report-3",
		"report-4":                           "urn:alertd:report:report-4",
		"javascript:alert(document.URL)":     "urn:alertd:report:javascript:alert%28document.URL%29",
		"data:text/html,<script>x</script>":  "",
		"https://bank.example@evil.example/": "",
		"vbscript:msgbox(1)":                 "",
		"https://example.org/a b":            "",
		"http:no-host":                       "",
	}
	var n int
	for guid := range guids {
		n++
		at := h.clock.Now().Add(-time.Duration(n) * time.Minute)
		if _, _, err := h.cat.Add(context.Background(), catalogue.Input{
			GUID: guid, Title: guid, URL: fmt.Sprintf("https://example.org/r/%d", n), PublishedAt: &at,
		}, false); err != nil {
			t.Fatalf("add %q: %v", guid, err)
		}
	}
	feed, err := gofeed.NewParser().ParseString(h.get("/reports/feed.atom").body)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed.Items) != len(guids) {
		t.Fatalf("the feed has %d entries, want %d", len(feed.Items), len(guids))
	}
	safe := regexp.MustCompile(`^(https?://[^@/\s]+(/\S*)?|urn:alertd:report:[^\s<>"]+|urn:[a-z]+:\S+|tag:\S+)$`)
	for _, item := range feed.Items {
		want := guids[item.Title]
		if want != "" && item.GUID != want {
			t.Errorf("guid %q: entry id %q, want %q", item.Title, item.GUID, want)
		}
		if want == "" && (item.GUID == item.Title || !strings.HasPrefix(item.GUID, "urn:alertd:report:")) {
			t.Errorf("guid %q: entry id %q, want one derived from it", item.Title, item.GUID)
		}
		if !safe.MatchString(item.GUID) {
			t.Errorf("guid %q: entry id %q is not an http(s), urn: or tag: IRI", item.Title, item.GUID)
		}
	}
}
