package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/catalogue"
)

// dashPost posts the form with the session cookie, as the dashboard's own
// pages do.
func (h *harness) dashPost(path string, form url.Values, cookie *http.Cookie) response {
	h.t.Helper()
	req := h.request(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	return h.do(req)
}

// report reads the stored report with the id.
func (h *harness) report(id int64) alertd.Report {
	h.t.Helper()
	rep, err := h.cat.Report(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return rep
}

// audited returns the audit log's entries about the report, oldest first,
// as "action: detail".
func (h *harness) audited(id int64) []string {
	h.t.Helper()
	entries, err := h.dash.AuditLog(context.Background(), 1000, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	var got []string
	for _, e := range slices.Backward(entries) {
		if e.Subject == fmt.Sprintf("report %d", id) {
			if e.Who != opsEmail {
				h.t.Errorf("audit entry %+v: who = %q, want %s", e, e.Who, opsEmail)
			}
			got = append(got, e.Action+": "+e.Detail)
		}
	}
	return got
}

var adminReportLink = regexp.MustCompile(`href="/admin/reports/(\d+)"`)

// listedIDs returns the ids of the reports a dashboard list links to, in order.
func listedIDs(body string) []int64 {
	var ids []int64
	for _, m := range adminReportLink.FindAllStringSubmatch(body, -1) {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		ids = append(ids, id)
	}
	return ids
}

func TestDashboardReportsPagesNeedASessionAndRefuseCrossSitePosts(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	rep := h.addReport("Standing", -time.Hour)
	id := strconv.FormatInt(rep.ID, 10)
	gets := []string{"/admin/reports", "/admin/reports/review", "/admin/reports/new", "/admin/reports/" + id,
		"/admin/reports/" + id + "/edit", "/admin/reports/" + id + "/retract"}
	posts := []string{"/admin/reports/new", "/admin/reports/" + id + "/edit", "/admin/reports/" + id + "/retract",
		"/admin/reports/" + id + "/restore", "/admin/reports/" + id + "/approve", "/admin/reports/" + id + "/reject"}
	for _, path := range gets {
		wantRedirect(t, h.withCookie(http.MethodGet, path, nil), http.StatusSeeOther, "/admin/login")
	}
	for _, path := range posts {
		wantRedirect(t, h.withCookie(http.MethodPost, path, nil), http.StatusSeeOther, "/admin/login")
	}
	cookie := h.signIn(opsEmail)
	for _, path := range gets {
		if r := h.withCookie(http.MethodGet, path, cookie); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s signed in: %d", path, r.StatusCode)
		}
	}
	form := url.Values{"title": {"Forged"}, "url": {"https://evil.example/forged"}}
	for _, path := range posts {
		req := h.request(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		if r := h.do(req); r.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", path, r.StatusCode)
		}
	}
	if got := h.report(rep.ID); got.Title != "Standing" || got.RetractedAt != nil {
		t.Errorf("after refused cross-site posts the report is %+v", got)
	}
	if all, _ := h.cat.Search(context.Background(), catalogue.Search{Limit: 10}); len(all.Reports) != 1 {
		t.Errorf("%d reports after a refused cross-site add, want 1", len(all.Reports))
	}
	if got := h.audited(rep.ID); len(got) != 0 {
		t.Errorf("audit entries for refused posts: %v", got)
	}
}

func TestDashboardAddReportValidatesBesideTheFieldsAndKeepsTheInput(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Topics: []alertd.Topic{{ID: "labour", Name: "Labour"}, {ID: "tax", Name: "Tax"}}})
	cookie := h.signIn(opsEmail)
	form := url.Values{
		"title": {"<script>alert(1)</script>"}, "url": {"https://example.org/r/new"}, "published_at": {"2026-03-01T09:30"},
		"authors": {"Ada Lovelace\n\nGrace Hopper"}, "series": {"Research Report"}, "number": {"No. 7, 2026"},
		"abstract": {"Findings."}, "keywords": {"wages\nlabour"}, "topics": {"labour"},
	}
	for _, tt := range []struct {
		name, field, value string
	}{
		{"javascript url", "url", "javascript:alert(1)"},
		{"no title", "title", "  "},
		{"unreadable date", "published_at", "yesterday"},
		{"unknown topic", "topics", "astrology"},
	} {
		bad := url.Values{}
		for k, v := range form {
			bad[k] = v
		}
		bad.Set(tt.field, tt.value)
		r := h.dashPost("/admin/reports/new", bad, cookie)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", tt.name, r.StatusCode)
		}
		if tt.field != "topics" && !strings.Contains(r.body, `id="`+tt.field+`" name="`+tt.field+`"`) {
			t.Errorf("%s: the form is not shown again:\n%s", tt.name, r.body)
		}
		if tt.field != "topics" && !regexp.MustCompile(`id="`+tt.field+`"[^>]*aria-invalid="true" aria-describedby="`+tt.field+`-error[ "]`).MatchString(r.body) {
			t.Errorf("%s: the field is not marked invalid:\n%s", tt.name, r.body)
		}
		if !strings.Contains(r.body, `class="field-error" id="`+tt.field+`-error"`) {
			t.Errorf("%s: no error beside the field:\n%s", tt.name, r.body)
		}
		if strings.Contains(r.body, "<script>alert(1)") || (tt.field != "title" && !strings.Contains(r.body, "&lt;script&gt;alert(1)&lt;/script&gt;")) ||
			!strings.Contains(r.body, "Grace Hopper") || strings.Contains(r.body, `href="javascript`) {
			t.Errorf("%s: the input is not kept, escaped:\n%s", tt.name, r.body)
		}
	}
	if all, _ := h.cat.Search(context.Background(), catalogue.Search{Limit: 10}); len(all.Reports) != 0 {
		t.Fatalf("refused forms stored %d reports", len(all.Reports))
	}

	r := h.dashPost("/admin/reports/new", form, cookie)
	m := regexp.MustCompile(`^/admin/reports/(\d+)$`).FindStringSubmatch(r.Header.Get("Location"))
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("add: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.body)
	}
	id, _ := strconv.ParseInt(m[1], 10, 64)
	rep := h.report(id)
	want := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	if rep.GUID != "https://example.org/r/new" || !rep.PublishedAt.Equal(want) || !slices.Equal(rep.Authors, []string{"Ada Lovelace", "Grace Hopper"}) ||
		rep.Series != "Research Report" || rep.Number != "No. 7, 2026" || !slices.Equal(rep.Keywords, []string{"wages", "labour"}) ||
		!slices.Equal(rep.Topics, []string{"labour"}) || rep.HeldAt != nil {
		t.Errorf("stored %+v", rep)
	}
	page := h.withCookie(http.MethodGet, r.Header.Get("Location"), cookie)
	if page.StatusCode != http.StatusOK || strings.Contains(page.body, "<script>alert") || !strings.Contains(page.body, "&lt;script&gt;") {
		t.Errorf("the report's page: %d\n%s", page.StatusCode, page.body)
	}
	if got := h.audited(id); !slices.Equal(got, []string{admin.ActionReportAdded + ": <script>alert(1)</script>"}) {
		t.Errorf("audit: %v", got)
	}

	again := h.dashPost("/admin/reports/new", form, cookie)
	if again.StatusCode != http.StatusConflict || !strings.Contains(again.body, `id="url-error"`) || !strings.Contains(again.body, fmt.Sprintf(`href="/admin/reports/%d"`, id)) {
		t.Errorf("the same url again: %d\n%s", again.StatusCode, again.body)
	}
	if got := h.audited(id); len(got) != 1 {
		t.Errorf("audit after the refused duplicate: %v", got)
	}
}

var formVersionField = regexp.MustCompile(`<input type="hidden" name="version" value="([0-9a-f]+)">`)

// formVersion returns the version an edit form carries.
func formVersion(t *testing.T, form string) string {
	t.Helper()
	m := formVersionField.FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("the edit form carries no version:\n%s", form)
	}
	return m[1]
}

// editForm returns the edit form of the report as the dashboard fills it.
func (h *harness) editForm(id int64, cookie *http.Cookie) url.Values {
	h.t.Helper()
	page := h.withCookie(http.MethodGet, fmt.Sprintf("/admin/reports/%d/edit", id), cookie)
	form := url.Values{"version": {formVersion(h.t, page.body)}}
	for _, m := range regexp.MustCompile(`<input type="[a-z-]+" id="([a-z_]+)" name="[a-z_]+" value="([^"]*)"`).FindAllStringSubmatch(page.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	for _, m := range regexp.MustCompile(`(?s)<textarea id="([a-z_]+)" name="[a-z_]+"[^>]*>(.*?)</textarea>`).FindAllStringSubmatch(page.body, -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	return form
}

func TestDashboardEditKeepsTheGUIDAndRecordsWhatChanged(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	rep := h.addReport("First Title", -time.Hour)
	path := fmt.Sprintf("/admin/reports/%d/edit", rep.ID)

	page := h.withCookie(http.MethodGet, path, cookie)
	if !strings.Contains(page.body, `value="First Title"`) || !strings.Contains(page.body, `value="`+rep.PublishedAt.Format("2006-01-02T15:04:05")+`"`) {
		t.Fatalf("the edit form does not hold the report:\n%s", page.body)
	}
	version := formVersion(t, page.body)
	bad := h.dashPost(path, url.Values{"title": {"Second"}, "url": {"ftp://example.org/x"}, "version": {version}}, cookie)
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, `id="url-error"`) || !strings.Contains(bad.body, `value="ftp://example.org/x"`) {
		t.Errorf("bad edit: %d\n%s", bad.StatusCode, bad.body)
	}
	if got := h.report(rep.ID); got.Title != "First Title" {
		t.Errorf("a refused edit changed the report: %+v", got)
	}

	// An empty publication time keeps the stored one.
	r := h.dashPost(path, url.Values{"title": {"Second Title"}, "url": {"https://example.org/moved"}, "published_at": {""}, "version": {version}}, cookie)
	wantRedirect(t, r, http.StatusSeeOther, fmt.Sprintf("/admin/reports/%d", rep.ID))
	got := h.report(rep.ID)
	if got.Title != "Second Title" || got.URL != "https://example.org/moved" || got.GUID != rep.GUID || !got.PublishedAt.Equal(rep.PublishedAt) {
		t.Errorf("edited: %+v, want the new title and url, the guid %q and the time %v", got, rep.GUID, rep.PublishedAt)
	}
	if feed := h.get("/reports/feed.atom"); !strings.Contains(feed.body, "Second Title") {
		t.Errorf("the feed does not carry the edit")
	}
	// The search index follows the edit.
	for q, want := range map[string][]int64{"second": {rep.ID}, "first": nil} {
		if got := listedIDs(h.withCookie(http.MethodGet, "/admin/reports?q="+q, cookie).body); !slices.Equal(got, want) {
			t.Errorf("search %q after the edit: %v, want %v", q, got, want)
		}
	}
	if got := h.audited(rep.ID); !slices.Equal(got, []string{admin.ActionReportEdited + ": changed title, url"}) {
		t.Errorf("audit: %v", got)
	}
	if r := h.withCookie(http.MethodGet, "/admin/reports/999/edit", cookie); r.StatusCode != http.StatusNotFound {
		t.Errorf("edit of no report: %d, want 404", r.StatusCode)
	}
}

func TestDashboardReportsSearchFilterAndPageNewestFirst(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	var want []int64 // newest first
	for i := range 120 {
		at := h.clock.Now().Add(time.Duration(i-200) * time.Hour)
		in := catalogue.Input{Title: fmt.Sprintf("Labour market report %03d", i), URL: fmt.Sprintf("https://example.org/r/%d", i), PublishedAt: &at}
		if i == 77 {
			in.Title = "Zanzibar trade 100%_done"
		}
		rep, _, err := h.cat.Add(context.Background(), in, false)
		if err != nil {
			t.Fatal(err)
		}
		want = slices.Insert(want, 0, rep.ID)
	}
	retracted := h.addReport("Labour withdrawn", -time.Minute)
	if _, _, err := h.cat.Retract(context.Background(), retracted.ID); err != nil {
		t.Fatal(err)
	}

	var pages [][]int64
	next := "/admin/reports?status=published"
	for next != "" {
		r := h.withCookie(http.MethodGet, next, cookie)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", next, r.StatusCode)
		}
		pages = append(pages, listedIDs(r.body))
		next = ""
		if m := regexp.MustCompile(`href="(/admin/reports\?[^"]+)">Older reports`).FindStringSubmatch(r.body); m != nil {
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(pages) != 3 || len(pages[0]) != 50 || !slices.Equal(slices.Concat(pages...), want) {
		t.Errorf("published pages %v, want the 120 newest first in pages of 50", pages)
	}
	for _, tt := range []struct {
		query string
		want  []int64
	}{
		{"status=all&q=zanzibar", []int64{want[120-1-77]}},                    // rare: found in the index
		{"status=all&q=" + url.QueryEscape("100%_"), []int64{want[120-1-77]}}, // % and _ are literal
		{"status=all&q=" + url.QueryEscape("withdrawn labour"), []int64{retracted.ID}},
		{"status=published&q=withdrawn", nil},
		{"status=retracted", []int64{retracted.ID}},
		{"status=held", nil},
		{"status=all&q=" + url.QueryEscape("market 119"), []int64{want[0]}},
	} {
		r := h.withCookie(http.MethodGet, "/admin/reports?"+tt.query, cookie)
		if got := listedIDs(r.body); r.StatusCode != http.StatusOK || !slices.Equal(got, tt.want) {
			t.Errorf("?%s: %d %v, want %v", tt.query, r.StatusCode, got, tt.want)
		}
	}
	// A term in more reports than the index hands out is matched by reading
	// the reports newest first; % and _ are literal there too.
	var lines strings.Builder
	for i := range 2100 {
		fmt.Fprintf(&lines, `{"title": "Archive labour %d", "url": "https://example.org/a/%d", "published_at": "2001-01-01T00:00:00Z"}`+"\n", i, i)
	}
	fmt.Fprintf(&lines, `{"title": "Archive labour 50%%_share", "url": "https://example.org/a/share", "published_at": "2000-01-01T00:00:00Z"}`+"\n")
	if res, err := h.cat.Import(context.Background(), strings.NewReader(lines.String()), catalogue.FormatJSONL, true); err != nil || res.Added != 2101 {
		t.Fatalf("import: %+v %v", res, err)
	}
	common := h.withCookie(http.MethodGet, "/admin/reports?q=LABOUR", cookie)
	wantCommon := []int64{retracted.ID}
	for _, id := range want {
		if id != want[120-1-77] && len(wantCommon) < 50 {
			wantCommon = append(wantCommon, id)
		}
	}
	if got := listedIDs(common.body); !slices.Equal(got, wantCommon) {
		t.Errorf("?q=LABOUR: %v, want %v", got, wantCommon)
	}
	share := h.withCookie(http.MethodGet, "/admin/reports?q="+url.QueryEscape("labour %_"), cookie)
	if got := listedIDs(share.body); len(got) != 1 || !strings.Contains(share.body, "50%_share") {
		t.Errorf("?q=labour %%_: %v, want the one report with %%_ in its title\n%s", got, share.body)
	}
	for _, query := range []string{"status=nonsense", "before=x", "q=" + strings.Repeat("x", 201)} {
		if r := h.withCookie(http.MethodGet, "/admin/reports?"+query, cookie); r.StatusCode != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", query, r.StatusCode)
		}
	}
}

func TestDashboardRetractAndRestoreNeitherLoseNorDoubleAMail(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, AdminToken: adminToken})
	cookie := h.signIn(opsEmail)
	h.confirmed("ada@example.org")
	announced := h.addReport("Announced", -3*time.Hour)
	pulled := h.addReport("Pulled Before", -2*time.Hour)

	confirm := h.withCookie(http.MethodGet, fmt.Sprintf("/admin/reports/%d/retract", pulled.ID), cookie)
	if !strings.Contains(confirm.body, "Retract report") || h.report(pulled.ID).RetractedAt != nil {
		t.Fatalf("the retract page must ask before it acts:\n%s", confirm.body)
	}
	wantRedirect(t, h.dashPost(fmt.Sprintf("/admin/reports/%d/retract", pulled.ID), nil, cookie),
		http.StatusSeeOther, fmt.Sprintf("/admin/reports/%d", pulled.ID))
	if got := h.compile(); !slices.Equal(got, []string{"Announced"}) {
		t.Fatalf("first digest: %v, want the report not retracted", got)
	}
	// Retracted after its digest and restored, the announced report is not
	// announced again; the one pulled before the digest reaches the next.
	for _, id := range []int64{announced.ID, pulled.ID} {
		if id == announced.ID {
			h.dashPost(fmt.Sprintf("/admin/reports/%d/retract", id), nil, cookie)
		}
		wantRedirect(t, h.dashPost(fmt.Sprintf("/admin/reports/%d/restore", id), nil, cookie),
			http.StatusSeeOther, fmt.Sprintf("/admin/reports/%d", id))
		if got := h.report(id); got.Status() != alertd.ReportPublished {
			t.Errorf("report %d after restore: %s", id, got.Status())
		}
	}
	if got := h.compile(); !slices.Equal(got, []string{"Pulled Before"}) {
		t.Errorf("second digest: %v, want only the report never announced", got)
	}
	if got := h.compile(); got != nil {
		t.Errorf("third digest: %v, want none", got)
	}
	if got := h.audited(announced.ID); !slices.Equal(got, []string{admin.ActionReportRetracted + ": Announced", admin.ActionReportRestored + ": Announced"}) {
		t.Errorf("audit: %v", got)
	}
	if r := h.dashPost("/admin/reports/999/restore", nil, cookie); r.StatusCode != http.StatusNotFound {
		t.Errorf("restore of no report: %d, want 404", r.StatusCode)
	}
}

// hostileFeed serves one RSS item whose text is hostile markup.
func hostileFeed(t *testing.T, title string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>F</title>`+
			`<item><title>%s</title><link>https://example.org/r/held-1</link><description>&lt;img src=x onerror=alert(2)&gt; abstract</description>`+
			`<pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item>`+
			`<item><title>Second held</title><link>https://example.org/r/held-2</link><pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item>`+
			`</channel></rss>`, title)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/feed.rss"
}

func TestDashboardReviewQueueShowsHeldTextInertAndApprovesOrRejects(t *testing.T) {
	long := strings.Repeat("Long ", 190)
	// An RSS title is markup: escaped twice, its tags are text that reads
	// "<script>", which must be shown, and shown inert.
	feed := hostileFeed(t, "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;"+long)
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Sources: []catalogue.Source{{URL: feed, Review: true}}})
	cookie := h.signIn(opsEmail)
	if res, err := h.poll(feed); err != nil || res.Added != 2 {
		t.Fatalf("poll: %+v %v", res, err)
	}
	held, _ := h.cat.Held(context.Background(), 10, 0)
	if len(held) != 2 {
		t.Fatalf("held: %v", held)
	}
	hostile, second := held[1], held[0]

	list := h.withCookie(http.MethodGet, "/admin/reports", cookie)
	if !strings.Contains(list.body, `href="/admin/reports/review"`) {
		t.Errorf("the reports page does not link the review queue")
	}
	queue := h.withCookie(http.MethodGet, "/admin/reports/review", cookie)
	for _, raw := range []string{"<script>", "<img", "onerror=alert(2)>"} {
		if strings.Contains(queue.body, raw) {
			t.Errorf("the queue shows %q raw", raw)
		}
	}
	for _, shown := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;" + strings.TrimSpace(long), "&lt;img src=x onerror=alert(2)&gt; abstract",
		"<code>https://example.org/r/held-1</code>", fmt.Sprintf(`action="/admin/reports/%d/approve"`, hostile.ID),
		fmt.Sprintf(`action="/admin/reports/%d/reject"`, hostile.ID)} {
		if !strings.Contains(queue.body, shown) {
			t.Errorf("the queue lacks %q:\n%s", shown, queue.body)
		}
	}
	if strings.Contains(queue.body, `href="https://example.org/r/held-1"`) {
		t.Errorf("a held report's url is a link")
	}

	wantRedirect(t, h.dashPost(fmt.Sprintf("/admin/reports/%d/approve", second.ID), nil, cookie), http.StatusSeeOther, "/admin/reports/review")
	wantRedirect(t, h.dashPost(fmt.Sprintf("/admin/reports/%d/reject", hostile.ID), nil, cookie), http.StatusSeeOther, "/admin/reports/review")
	if got := h.report(second.ID).Status(); got != alertd.ReportPublished {
		t.Errorf("approved: %s", got)
	}
	if got := h.report(hostile.ID).Status(); got != alertd.ReportRetracted {
		t.Errorf("rejected: %s", got)
	}
	if !slices.Contains(listedTitles(h.get("/reports").body), "Second held") {
		t.Errorf("the approved report is not on the public page")
	}
	if got := h.audited(second.ID); !slices.Equal(got, []string{admin.ActionReportApproved + ": Second held"}) {
		t.Errorf("audit of the approval: %v", got)
	}
	if got := h.audited(hostile.ID); len(got) != 1 || !strings.HasPrefix(got[0], admin.ActionReportRejected+": <script>") {
		t.Errorf("audit of the rejection: %v", got)
	}
	for _, action := range []string{"approve", "reject"} {
		if r := h.dashPost(fmt.Sprintf("/admin/reports/%d/%s", second.ID, action), nil, cookie); r.StatusCode != http.StatusConflict {
			t.Errorf("%s of a report not held: %d, want 409", action, r.StatusCode)
		}
	}
	// Restoring a rejected report puts it back in the queue, not before readers.
	h.dashPost(fmt.Sprintf("/admin/reports/%d/restore", hostile.ID), nil, cookie)
	if got := h.report(hostile.ID).Status(); got != alertd.ReportHeld {
		t.Errorf("a rejected report restored: %s, want held", got)
	}
}

// TestDashboardReportsSearchStopsAtItsBudgetAndContinues searches for a
// word too short for the trigram index and found in few reports: the page
// stops after a batch of reports, says so, and its "Continue searching"
// link goes on from there, so that the pages together list every match
// once, newest first.
func TestDashboardReportsSearchStopsAtItsBudgetAndContinues(t *testing.T) {
	const budget, n = 100, 250
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, ReportSearchBudget: budget})
	cookie := h.signIn(opsEmail)
	var lines strings.Builder
	var want []string // newest first
	start := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		title := fmt.Sprintf("Archive %d", i)
		if i%30 == 7 || i == n-budget || i == n-budget-1 {
			title = fmt.Sprintf("Archive Qz %d", i)
			want = slices.Insert(want, 0, title)
		}
		fmt.Fprintf(&lines, `{"title": %q, "url": "https://example.org/a/%d", "published_at": %q}`+"\n",
			title, i, start.Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	if res, err := h.cat.Import(context.Background(), strings.NewReader(lines.String()), catalogue.FormatJSONL, true); err != nil || res.Added != n {
		t.Fatalf("import: %+v %v", res, err)
	}
	continueLink := regexp.MustCompile(`href="(/admin/reports\?[^"]+)">Continue searching`)
	var got []string
	stopped := 0
	next := "/admin/reports?q=qz"
	for next != "" {
		r := h.withCookie(http.MethodGet, next, cookie)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", next, r.StatusCode)
		}
		for _, m := range regexp.MustCompile(`>(Archive Qz \d+)</a>`).FindAllStringSubmatch(r.body, -1) {
			got = append(got, m[1])
		}
		next = ""
		if m := continueLink.FindStringSubmatch(r.body); m != nil {
			if !strings.Contains(r.body, "The search stopped after a batch of reports") || strings.Contains(r.body, "No report matches") {
				t.Errorf("GET %s: a page that stopped at its budget does not say so\n%s", next, r.body)
			}
			stopped++
			next = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if stopped != 2 || !slices.Equal(got, want) {
		t.Errorf("%d pages stopped at the budget and listed %v; want 2, and %v", stopped, got, want)
	}
}
func TestDashboardIsolatesBidiControlsInCatalogueText(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	const title = "Annual \u202Etroper\u202C Review"
	rep := h.dashPost("/admin/reports/new", url.Values{"title": {title}, "url": {"https://example.org/bidi"}}, cookie)
	if rep.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", rep.StatusCode, rep.body)
	}
	isolated := `class="ctext" dir="auto">` + title + `<`
	for _, path := range []string{"/admin/reports", rep.Header.Get("Location"), "/admin/audit"} {
		page := h.withCookie(http.MethodGet, path, cookie)
		if !strings.Contains(page.body, isolated) && !strings.Contains(page.body, `class="report-title ctext" dir="auto">`+title+`<`) {
			t.Errorf("%s: the title is not in an isolating element\n%s", path, page.body)
		}
	}
	if css := h.get("/static/style.css"); !strings.Contains(css.body, ".ctext { unicode-bidi: isolate; }") {
		t.Errorf("the stylesheet does not isolate .ctext")
	}
}

func TestDashboardUntouchedEditKeepsThePublicationTimeToTheMillisecond(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	at := h.clock.Now().Add(-time.Hour + 123*time.Millisecond)
	rep, _, err := h.cat.Add(context.Background(), catalogue.Input{Title: "Precise", URL: "https://example.org/precise", PublishedAt: &at}, false)
	if err != nil {
		t.Fatal(err)
	}
	path := fmt.Sprintf("/admin/reports/%d", rep.ID)
	wantRedirect(t, h.dashPost(path+"/edit", h.editForm(rep.ID, cookie), cookie), http.StatusSeeOther, path+"?nothing-done")
	if got := h.report(rep.ID).PublishedAt; !got.Equal(at) {
		t.Errorf("an untouched save changed the publication time from %v to %v", at, got)
	}
	if got := h.audited(rep.ID); len(got) != 0 {
		t.Errorf("an untouched save was audited: %v", got)
	}
}

func TestDashboardEditRefusesToOverwriteAChangeMadeMeanwhile(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	rep := h.addReport("Original", -time.Hour)
	path := fmt.Sprintf("/admin/reports/%d", rep.ID)
	first, second := h.editForm(rep.ID, cookie), h.editForm(rep.ID, cookie)

	second.Set("title", "Second's title")
	wantRedirect(t, h.dashPost(path+"/edit", second, cookie), http.StatusSeeOther, path)
	first.Set("title", "First's title")
	resp := h.dashPost(path+"/edit", first, cookie)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.body, "Someone changed this report after you opened this form, so nothing was saved.") ||
		!strings.Contains(resp.body, `value="First&#39;s title"`) {
		t.Fatalf("a stale edit: %d, want 409 with the form kept and the reason\n%s", resp.StatusCode, resp.body)
	}
	if got := h.report(rep.ID).Title; got != "Second's title" {
		t.Errorf("the stale edit overwrote the other: title %q", got)
	}
	// The form shown again carries the new version: saving it is a choice.
	first.Set("version", formVersion(t, resp.body))
	wantRedirect(t, h.dashPost(path+"/edit", first, cookie), http.StatusSeeOther, path)
	if got := h.report(rep.ID).Title; got != "First's title" {
		t.Errorf("the knowing second save: title %q", got)
	}
	if got := h.audited(rep.ID); !slices.Equal(got, []string{admin.ActionReportEdited + ": changed title", admin.ActionReportEdited + ": changed title"}) {
		t.Errorf("audit: %v", got)
	}
}

func TestDashboardEditRefusesAnotherReportsURL(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	mine, other := h.addReport("Mine", -2*time.Hour), h.addReport("Other", -time.Hour)
	form := h.editForm(mine.ID, cookie)
	form.Set("url", other.URL)
	resp := h.dashPost(fmt.Sprintf("/admin/reports/%d/edit", mine.ID), form, cookie)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(resp.body, `<p class="field-error" id="url-error">report `+fmt.Sprint(other.ID)+` already has this url`) ||
		!strings.Contains(resp.body, fmt.Sprintf(`<a href="/admin/reports/%d">report %d</a>`, other.ID, other.ID)) {
		t.Errorf("an edit to another report's url: %d, want 409 with the error beside the url and a link\n%s", resp.StatusCode, resp.body)
	}
	if got := h.report(mine.ID).URL; got != mine.URL {
		t.Errorf("the url changed to %s", got)
	}
}

func TestDashboardReportFormShowsEveryFieldsErrorAndKeepsTheHints(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	r := h.dashPost("/admin/reports/new", url.Values{"title": {" "}, "url": {"ftp://example.org/x"}, "published_at": {"yesterday"}}, cookie)
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("add: %d, want 400", r.StatusCode)
	}
	wantContains(t, "the refused form", r.body,
		`<input type="text" id="title" name="title" value=" " required aria-invalid="true" aria-describedby="title-error">`,
		`<p class="field-error" id="title-error">is required</p>`,
		`aria-invalid="true" aria-describedby="url-error url-hint">`,
		`<p class="hint" id="url-hint">The report&#39;s page, starting with https:// or http://.</p>`,
		`<p class="field-error" id="url-error">must be an absolute http(s) URL</p>`,
		`aria-invalid="true" aria-describedby="published_at-error published_at-hint">`,
		`<p class="hint" id="published_at-hint">Leave empty to publish now. Times are UTC.</p>`,
		`<p class="field-error" id="published_at-error">must be a date and time like 2026-03-01T09:00 (UTC)</p>`)
}
