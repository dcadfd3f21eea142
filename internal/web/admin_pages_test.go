package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/htmlsource"
	"github.com/alertd/alertd/internal/web"
)

func TestDashboardSourcesAndSettingsNeedASessionAndAreLinked(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	for _, path := range []string{"/admin/sources", "/admin/settings"} {
		wantRedirect(t, h.get(path), http.StatusSeeOther, "/admin/login")
	}
	cookie := h.signIn(opsEmail)
	overview := h.withCookie(http.MethodGet, "/admin", cookie).body
	for _, path := range []string{"/admin/sources", "/admin/settings"} {
		if !strings.Contains(overview, `<a href="`+path+`">`) {
			t.Errorf("the dashboard's navigation has no link to %s:\n%s", path, overview)
		}
		resp := h.withCookie(http.MethodGet, path, cookie)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s: %d %v, want 200 with the dashboard's headers", path, resp.StatusCode, resp.Header)
		}
	}
}

func TestDashboardSourcesPageShowsEachFeedAndEscapesItsError(t *testing.T) {
	feed := newFeedSource(t, "First", "Second")
	const broken = "https://broken.example/feed.xml"
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Sources: []catalogue.Source{
		{URL: feed.URL, Schedule: "*/15 * * * *"}, {URL: broken, Schedule: "@hourly", Review: true},
	}})
	cookie := h.signIn(opsEmail)
	before := h.withCookie(http.MethodGet, "/admin/sources", cookie).body
	for _, want := range []string{
		"<caption>Configured sources: feeds and pages</caption>", `<th scope="col">Last error</th>`,
		`<tr><th scope="row" class="ctext" dir="auto">` + feed.URL + `</th><td>*/15 * * * *</td><td>off</td><td>never</td><td>none</td><td>0</td><td>0</td><td>never</td><td>none</td></tr>`,
		`<tr><th scope="row" class="ctext" dir="auto">` + broken + `</th><td>@hourly</td><td>on</td><td>never</td>`,
	} {
		if !strings.Contains(before, want) {
			t.Errorf("before any poll the page lacks %q:\n%s", want, before)
		}
	}

	if _, err := h.poll(feed.URL); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Minute)
	hostile := `<script>alert("owned")</script>`
	if err := h.store.RecordPoll(context.Background(), broken, h.clock.Now(), 0, errors.New(hostile)); err != nil {
		t.Fatal(err)
	}
	after := h.withCookie(http.MethodGet, "/admin/sources", cookie).body
	for _, want := range []string{
		`<td>2026-03-02 08:00:00</td><td>ok</td><td>2</td><td>2</td><td>2026-03-02 08:00:00</td><td>none</td></tr>`,
		`<td>2026-03-02 08:01:00</td><td>error</td><td>0</td><td>0</td><td>never</td><td>2026-03-02 08:01:00: <span class="ctext" dir="auto">&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;</span></td></tr>`,
	} {
		if !strings.Contains(after, want) {
			t.Errorf("after the polls the page lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, hostile) {
		t.Errorf("the error text reached the page unescaped:\n%s", after)
	}
}

func TestDashboardSettingsPageListsTheSettingsBySection(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Settings: []web.Setting{
		{Key: "server.listen", Value: "127.0.0.1:8080"}, {Key: "server.base_url", Value: "https://alerts.example.org"},
		{Key: "smtp.host", Value: "<mail.example.org>"}, {Key: "smtp.password", Value: "set"},
	}})
	body := h.withCookie(http.MethodGet, "/admin/settings", h.signIn(opsEmail)).body
	for _, want := range []string{
		"<caption>[server]</caption>", "<caption>[smtp]</caption>",
		`<tr><th scope="row">server.listen</th><td>127.0.0.1:8080</td></tr>`,
		`<tr><th scope="row">server.base_url</th><td>https://alerts.example.org</td></tr>`,
		`<tr><th scope="row">smtp.host</th><td>&lt;mail.example.org&gt;</td></tr>`,
		`<tr><th scope="row">smtp.password</th><td>set</td></tr>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("settings page lacks %q:\n%s", want, body)
		}
	}
	if strings.Index(body, "[smtp]") < strings.Index(body, "server.base_url") {
		t.Errorf("the smtp section does not follow the server section:\n%s", body)
	}
}

func TestDashboardServerErrorsKeepTheDashboardLayout(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.closeStore()
	resp := h.withCookie(http.MethodGet, "/admin/reports", cookie)
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(resp.body, `<body class="admin">`) ||
		!strings.Contains(resp.body, "Something went wrong") || strings.Contains(resp.body, "closed") {
		t.Errorf("a dashboard 500: %d, want the dashboard's message page revealing nothing\n%s", resp.StatusCode, resp.body)
	}
	if public := h.get("/"); public.StatusCode != http.StatusInternalServerError || strings.Contains(public.body, `class="admin"`) {
		t.Errorf("a public 500: %d, want the public layout\n%s", public.StatusCode, public.body)
	}
}

func TestDashboardPathIDsThatNameNothingAreNotFound(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	for _, path := range []string{
		"/admin/digests/x", "/admin/digests/0", "/admin/digests/-1", "/admin/digests/99999999999999999999",
		"/admin/reports/x", "/admin/reports/0", "/admin/reports/x/edit",
		"/admin/subscribers/x", "/admin/subscribers/0",
	} {
		if resp := h.withCookie(http.MethodGet, path, cookie); resp.StatusCode != http.StatusNotFound || !strings.Contains(resp.body, "No such") {
			t.Errorf("GET %s: %d, want 404 saying there is no such thing", path, resp.StatusCode)
		}
	}
}

func TestDashboardSourcesPageShowsAPageThatNoLongerMatches(t *testing.T) {
	redesigned := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`<div class="card-grid"><article class="card"><a href="/p/1"><h2>Regional Trade</h2></a></article></div>`))
	}))
	t.Cleanup(redesigned.Close)
	reader, err := htmlsource.Compile(htmlsource.Spec{Item: "ul.report-list > li", Title: "h3"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Sources: []catalogue.Source{
		{URL: redesigned.URL + "/reports/", Schedule: "@hourly", HTML: reader},
	}})
	if _, err := h.poll(redesigned.URL + "/reports/"); err == nil {
		t.Fatal("the poll of a page that no longer matches succeeded")
	}
	page := h.withCookie(http.MethodGet, "/admin/sources", h.signIn(opsEmail)).body
	if want := `<td>error</td><td>0</td><td>0</td><td>never</td><td>2026-03-02 08:00:00: <span class="ctext" dir="auto">the listing page ` +
		redesigned.URL + `/reports/: the item selector finds nothing on the page`; !strings.Contains(page, want) {
		t.Errorf("the page lacks %q:\n%s", want, page)
	}
}
