package web_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// feedSource is an RSS feed served over HTTP, whose items and answer the
// test changes between polls.
type feedSource struct {
	URL    string
	mu     sync.Mutex
	titles []string
	status int
}

func newFeedSource(t *testing.T, titles ...string) *feedSource {
	t.Helper()
	f := &feedSource{titles: titles, status: http.StatusOK}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != http.StatusOK {
			http.Error(w, "down for maintenance", f.status)
			return
		}
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Reports</title>`)
		for _, title := range f.titles {
			slug := strings.ToLower(strings.Join(strings.Fields(title), "-"))
			fmt.Fprintf(w, `<item><title>%s</title><link>https://example.org/r/%s</link>`+
				`<pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item>`, title, slug)
		}
		fmt.Fprint(w, `</channel></rss>`)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL + "/feed.rss"
	return f
}

// set makes the feed answer status, with the titles as its items.
func (f *feedSource) set(status int, titles ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.titles = status, titles
}

// poll polls the source as the scheduler does; test servers listen on
// loopback, so private networks are allowed.
func (h *harness) poll(url string) (catalogue.ImportResult, error) {
	h.t.Helper()
	return h.cat.Poll(context.Background(), catalogue.NewClient(true), url)
}

// compile asks for the next digest and returns the titles it announces;
// nil when there was nothing to announce.
func (h *harness) compile() []string {
	h.t.Helper()
	r := h.adminSend(http.MethodPost, "/api/v1/digests", "")
	if r.StatusCode == http.StatusOK {
		return nil
	}
	var d struct{ ID int64 }
	decode(h.t, r, &d)
	if r.StatusCode != http.StatusCreated {
		h.t.Fatalf("POST /api/v1/digests: %d %s", r.StatusCode, r.body)
	}
	reports, err := h.store.DigestReports(context.Background(), d.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	var titles []string
	for _, rep := range reports {
		titles = append(titles, rep.Title)
	}
	return titles
}

// seen says where readers and the admin list find the report with the
// title: the pages, the Atom feed, GET /api/v1/reports, the review queue.
func (h *harness) seen(title string) map[string]bool {
	h.t.Helper()
	return map[string]bool{
		"/":                           slices.Contains(listedTitles(h.get("/").body), title),
		"/reports":                    slices.Contains(listedTitles(h.get("/reports").body), title),
		"/reports/feed.atom":          strings.Contains(h.get("/reports/feed.atom").body, title),
		"/api/v1/reports":             slices.Contains(reportTitles(h.t, h.admin(http.MethodGet, "/api/v1/reports")), title),
		"/api/v1/reports?status=held": slices.Contains(reportTitles(h.t, h.admin(http.MethodGet, "/api/v1/reports?status=held")), title),
	}
}

func TestAReviewedSourcesReportIsHeldUntilApprovedThenAnnouncedOnce(t *testing.T) {
	reviewed := newFeedSource(t, "Tampered Claim")
	open := newFeedSource(t, "Open Report")
	h := newHarness(t, options{AdminToken: adminToken, Sources: []catalogue.Source{
		{URL: reviewed.URL, Review: true}, {URL: open.URL},
	}})
	h.confirmed("ada@example.org")
	for _, url := range []string{reviewed.URL, open.URL} {
		if res, err := h.poll(url); err != nil || res.Added != 1 {
			t.Fatalf("poll %s: %+v %v, want one report added", url, res, err)
		}
	}
	held := map[string]bool{"/": false, "/reports": false, "/reports/feed.atom": false, "/api/v1/reports": false,
		"/api/v1/reports?status=held": true}
	published := map[string]bool{"/": true, "/reports": true, "/reports/feed.atom": true, "/api/v1/reports": true,
		"/api/v1/reports?status=held": false}
	if got := h.seen("Tampered Claim"); !maps.Equal(got, held) {
		t.Errorf("the held report is seen at %v, want only in the review queue", got)
	}
	if got := h.seen("Open Report"); !maps.Equal(got, published) {
		t.Errorf("the unreviewed source's report is seen at %v, want everywhere but the review queue", got)
	}
	// The first digest's window holds both; the held one is not archived.
	if got := h.compile(); !slices.Equal(got, []string{"Open Report"}) {
		t.Errorf("the first digest announces %q, want only Open Report", got)
	}

	// Polling again finds the item known: it stays held, and is not added twice.
	if res, err := h.poll(reviewed.URL); err != nil || res.Added != 0 || res.Unchanged != 1 {
		t.Errorf("second poll: %+v %v, want the report unchanged", res, err)
	}
	var queue []alertd.Report
	decode(t, h.admin(http.MethodGet, "/api/v1/reports?status=held"), &queue)
	if len(queue) != 1 || queue[0].HeldAt == nil || !queue[0].HeldAt.Equal(h.clock.Now()) {
		t.Fatalf("review queue: %+v, want the one report held since now", queue)
	}

	h.clock.Advance(time.Hour)
	for range 2 { // approving twice is harmless
		r := h.adminSend(http.MethodPost, fmt.Sprintf("/api/v1/reports/%d/approve", queue[0].ID), "")
		var approved alertd.Report
		decode(t, r, &approved)
		if r.StatusCode != http.StatusOK || approved.ID != queue[0].ID || approved.HeldAt != nil ||
			!approved.PublishedAt.Equal(queue[0].PublishedAt) {
			t.Errorf("approve: %d %s, want 200 with the report released and its date kept", r.StatusCode, r.body)
		}
	}
	if got := h.seen("Tampered Claim"); !maps.Equal(got, published) {
		t.Errorf("the approved report is seen at %v, want everywhere but the review queue", got)
	}
	if got := h.compile(); !slices.Equal(got, []string{"Tampered Claim"}) {
		t.Errorf("the digest after approval announces %q, want Tampered Claim", got)
	}
	if got := h.compile(); got != nil {
		t.Errorf("the digest after that announces %q, want none: a report is announced once", got)
	}
}

// TestAReportHeldPastTheFirstDigestAndOlderThanItsWindowIsArchive proves
// that the first digest's window applies to held reports as to any: one
// published before it is archive, never announced, even once approved.
func TestAReportHeldPastTheFirstDigestAndOlderThanItsWindowIsArchive(t *testing.T) {
	reviewed := newFeedSource(t, "Old Held") // published a day before the clock's start
	h := newHarness(t, options{AdminToken: adminToken, Sources: []catalogue.Source{{URL: reviewed.URL, Review: true}}})
	h.confirmed("ada@example.org")
	if _, err := h.poll(reviewed.URL); err != nil {
		t.Fatal(err)
	}
	var queue []alertd.Report
	decode(t, h.admin(http.MethodGet, "/api/v1/reports?status=held"), &queue)
	if len(queue) != 1 {
		t.Fatalf("review queue: %+v, want Old Held", queue)
	}
	h.clock.Advance(8 * 24 * time.Hour) // past the 168 h first window
	h.addReport("Fresh", -time.Hour)
	if got := h.compile(); !slices.Equal(got, []string{"Fresh"}) {
		t.Fatalf("the first digest announces %q, want Fresh", got)
	}
	if r := h.adminSend(http.MethodPost, fmt.Sprintf("/api/v1/reports/%d/approve", queue[0].ID), ""); r.StatusCode != http.StatusOK {
		t.Fatalf("approve: %d %s", r.StatusCode, r.body)
	}
	if got := h.seen("Old Held"); !got["/reports"] {
		t.Errorf("the approved report is seen at %v, want in the catalogue", got)
	}
	if got := h.compile(); got != nil {
		t.Errorf("the digest after approval announces %q, want none: the report is archive", got)
	}
}

func TestARetractedHeldReportStaysRetractedWhenApproved(t *testing.T) {
	reviewed := newFeedSource(t, "Junk")
	h := newHarness(t, options{AdminToken: adminToken, Sources: []catalogue.Source{{URL: reviewed.URL, Review: true}}})
	if _, err := h.poll(reviewed.URL); err != nil {
		t.Fatal(err)
	}
	var queue []alertd.Report
	decode(t, h.admin(http.MethodGet, "/api/v1/reports?status=held"), &queue)
	if len(queue) != 1 {
		t.Fatalf("review queue: %+v, want Junk", queue)
	}
	h.retract(queue[0].ID)
	if got := reportTitles(t, h.admin(http.MethodGet, "/api/v1/reports?status=held")); len(got) != 0 {
		t.Errorf("the review queue still lists %q after the retraction", got)
	}
	r := h.adminSend(http.MethodPost, fmt.Sprintf("/api/v1/reports/%d/approve", queue[0].ID), "")
	var approved alertd.Report
	decode(t, r, &approved)
	if r.StatusCode != http.StatusOK || approved.RetractedAt == nil {
		t.Errorf("approve a retracted report: %d %s, want 200 with it still retracted", r.StatusCode, r.body)
	}
	if got := h.seen("Junk"); slices.Contains(slices.Collect(maps.Values(got)), true) {
		t.Errorf("the retracted report is seen at %v, want nowhere", got)
	}
}

func TestApproveRefusesUnknownAndBadIDsAndStrangers(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.refusesBadIDs(http.MethodPost, "/api/v1/reports/", "/approve")
	rep := h.addReport("Report", -time.Hour)
	req := h.request(http.MethodPost, fmt.Sprintf("/api/v1/reports/%d/approve", rep.ID), "", nil)
	if r := h.do(req); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("approve without the token = %d, want 401", r.StatusCode)
	}
	for _, path := range []string{"/api/v1/sources", "/api/v1/reports?status=held"} {
		if r := h.get(path); r.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without the token = %d, want 401", path, r.StatusCode)
		}
	}
	if r := h.admin(http.MethodGet, "/api/v1/reports?status=pending"); r.StatusCode != http.StatusBadRequest ||
		!strings.Contains(r.body, "status must be held") {
		t.Errorf("GET /api/v1/reports?status=pending = %d %s, want 400 naming the one status", r.StatusCode, r.body)
	}
}

// sources reads GET /api/v1/sources.
func (h *harness) sources() []alertd.SourceStatus {
	h.t.Helper()
	r := h.admin(http.MethodGet, "/api/v1/sources")
	if r.StatusCode != http.StatusOK {
		h.t.Fatalf("GET /api/v1/sources: %d %s", r.StatusCode, r.body)
	}
	var statuses []alertd.SourceStatus
	decode(h.t, r, &statuses)
	return statuses
}

func TestSourcesStatusKeepsTheLastSuccessAndTheLastError(t *testing.T) {
	feed := newFeedSource(t, "First")
	const never = "https://never.example/feed.xml"
	h := newHarness(t, options{AdminToken: adminToken, Sources: []catalogue.Source{{URL: feed.URL}, {URL: never, Review: true}}})
	at := func(d time.Time) *time.Time { return &d }

	want := []alertd.SourceStatus{{URL: feed.URL}, {URL: never, Review: true}}
	if got := h.sources(); !equalStatuses(got, want) {
		t.Errorf("before any poll: %+v, want %+v", got, want)
	}

	good := h.clock.Now()
	if _, err := h.poll(feed.URL); err != nil {
		t.Fatal(err)
	}
	want[0] = alertd.SourceStatus{URL: feed.URL, LastPollAt: at(good), Outcome: alertd.PollOK, LastAdded: 1, TotalAdded: 1,
		LastSuccessAt: at(good)}
	if got := h.sources(); !equalStatuses(got, want) {
		t.Errorf("after a good poll: %+v, want %+v", got, want)
	}

	h.clock.Advance(time.Hour)
	bad := h.clock.Now()
	feed.set(http.StatusServiceUnavailable)
	if _, err := h.poll(feed.URL); err == nil {
		t.Fatal("a poll answered 503 succeeded")
	}
	got := h.sources()
	want[0] = alertd.SourceStatus{URL: feed.URL, LastPollAt: at(bad), Outcome: alertd.PollError, LastAdded: 0, TotalAdded: 1,
		LastSuccessAt: at(good), LastError: got[0].LastError, LastErrorAt: at(bad)}
	if !equalStatuses(got, want) || !strings.Contains(got[0].LastError, "503 Service Unavailable") {
		t.Errorf("after a failing poll: %+v, want %+v with the 503 named", got, want)
	}
	lastError := got[0].LastError

	h.clock.Advance(time.Hour)
	again := h.clock.Now()
	feed.set(http.StatusOK, "First", "Second", "Third")
	if _, err := h.poll(feed.URL); err != nil {
		t.Fatal(err)
	}
	want[0] = alertd.SourceStatus{URL: feed.URL, LastPollAt: at(again), Outcome: alertd.PollOK, LastAdded: 2, TotalAdded: 3,
		LastSuccessAt: at(again), LastError: lastError, LastErrorAt: at(bad)}
	if got := h.sources(); !equalStatuses(got, want) {
		t.Errorf("after a good poll again: %+v, want %+v with the last error kept", got, want)
	}

	if _, err := h.poll("https://unknown.example/feed.xml"); alertd.ErrorCode(err) != alertd.NotFound {
		t.Errorf("polling a source not configured: %v, want NotFound", err)
	}
}

// equalStatuses compares statuses by their values, times by the instant.
func equalStatuses(a, b []alertd.SourceStatus) bool {
	sameTime := func(x, y *time.Time) bool { return x == nil && y == nil || x != nil && y != nil && x.Equal(*y) }
	return slices.EqualFunc(a, b, func(x, y alertd.SourceStatus) bool {
		return sameTime(x.LastPollAt, y.LastPollAt) && sameTime(x.LastSuccessAt, y.LastSuccessAt) &&
			sameTime(x.LastErrorAt, y.LastErrorAt) &&
			x.URL == y.URL && x.Review == y.Review && x.Outcome == y.Outcome && x.LastAdded == y.LastAdded &&
			x.TotalAdded == y.TotalAdded && x.LastError == y.LastError
	})
}
