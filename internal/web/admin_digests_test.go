package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

const hostileTitle = `<script>alert(1)</script>`

// sendNow posts the send-now confirmation as the form does, last being the
// newest digest the confirmation page saw.
func (h *harness) sendNow(cookie *http.Cookie, last string) response {
	h.t.Helper()
	req := h.request(http.MethodPost, "/admin/digests/send", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"last": {last}}.Encode()))
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	return h.do(req)
}

// digests lists every digest, newest first.
func (h *harness) digests() []alertd.Digest {
	h.t.Helper()
	ds, err := h.cat.Digests(context.Background(), 100, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return ds
}

// progress reads a digest's progress as the page's script does.
func (h *harness) progress(cookie *http.Cookie, id int64) alertd.Digest {
	h.t.Helper()
	resp := h.withCookie(http.MethodGet, fmt.Sprintf("/admin/digests/%d/progress", id), cookie)
	var d alertd.Digest
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		h.t.Fatalf("progress of digest %d: %d %s", id, resp.StatusCode, resp.body)
	}
	if err := json.Unmarshal([]byte(resp.body), &d); err != nil {
		h.t.Fatal(err)
	}
	return d
}

func wantContains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, body)
		}
	}
}

func TestDashboardDigestPagesNeedASession(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	for _, path := range []string{"/admin/digests", "/admin/digests/preview", "/admin/digests/send", "/admin/digests/1", "/admin/digests/1/progress"} {
		wantRedirect(t, h.get(path), http.StatusSeeOther, "/admin/login")
	}
	h.addReport("Due", -time.Minute)
	wantRedirect(t, h.postForm("/admin/digests/send", url.Values{"last": {"0"}}), http.StatusSeeOther, "/admin/login")
	if n := len(h.digests()); n != 0 {
		t.Errorf("%d digests made without a session", n)
	}
}

func TestDashboardDigestPreviewShowsTheNextDigestEscapedInASandbox(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	empty := h.withCookie(http.MethodGet, "/admin/digests", cookie)
	wantContains(t, "the digests page with nothing due", empty.body, "Nothing to send", "No digest has been sent yet.")
	if strings.Contains(empty.body, "<iframe") || strings.Contains(empty.body, "Send now") {
		t.Errorf("a preview or a send button with nothing to send:\n%s", empty.body)
	}
	if resp := h.withCookie(http.MethodGet, "/admin/digests/preview", cookie); resp.StatusCode != http.StatusNotFound {
		t.Errorf("the frame with nothing to send: %d, want 404", resp.StatusCode)
	}

	h.confirmed("a@example.org")
	h.confirmed("b@example.org")
	h.addReport(hostileTitle, -time.Hour)
	page := h.withCookie(http.MethodGet, "/admin/digests", cookie)
	if page.StatusCode != http.StatusOK || page.Header.Get("X-Frame-Options") != "DENY" ||
		!strings.Contains(page.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("digests page: %d %v, want 200 that no one may frame", page.StatusCode, page.Header)
	}
	escaped := "&lt;script&gt;alert(1)&lt;/script&gt;"
	wantContains(t, "the digests page", page.body,
		"1 new report, for 2 readers if it were sent now.",
		"<strong>Subject:</strong> New reports: 1</p>",
		`<iframe class="mail-preview" sandbox src="/admin/digests/preview?frequency=weekly&amp;topic=" title="The HTML part of the next digest"></iframe>`,
		`<pre class="mail-preview">`, escaped, `<form method="get" action="/admin/digests/send">`, "Send now…")
	if strings.Contains(page.body, hostileTitle) || strings.Contains(page.body, "allow-") {
		t.Errorf("the page holds the title unescaped or lets the frame do more:\n%s", page.body)
	}
	text := page.body[strings.Index(page.body, `<pre class="mail-preview">`):]
	if !strings.Contains(text[:strings.Index(text, "</pre>")], escaped) {
		t.Errorf("the text part lacks the title:\n%s", text)
	}

	frame := h.withCookie(http.MethodGet, "/admin/digests/preview?topic=", cookie)
	csp := frame.Header.Get("Content-Security-Policy")
	if frame.StatusCode != http.StatusOK || !strings.HasPrefix(csp, "sandbox;") || strings.Contains(csp, "allow-") ||
		!strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script") ||
		!strings.Contains(csp, "frame-ancestors 'self'") || frame.Header.Get("X-Frame-Options") != "SAMEORIGIN" ||
		frame.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("frame: %d %v", frame.StatusCode, frame.Header)
	}
	wantContains(t, "the frame", frame.body, "<!DOCTYPE html>", escaped, "/unsubscribe/PREVIEW")
	if strings.Contains(frame.body, hostileTitle) {
		t.Errorf("the HTML part holds the title unescaped:\n%s", frame.body)
	}
	if n := len(h.digests()); n != 0 {
		t.Errorf("previewing made %d digests", n)
	}
}

func TestDashboardDigestPreviewPerTopicCountsTheReadersACompileReaches(t *testing.T) {
	topics := []alertd.Topic{{ID: "econ", Name: "Economy"}, {ID: "health", Name: "Health"}}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Topics: topics})
	cookie := h.signIn(opsEmail)
	h.confirmed("all@example.org")
	h.confirmed("econ@example.org", "econ")
	h.confirmed("both@example.org", "econ", "health")
	h.confirmed("health@example.org", "health")
	left := h.confirmed("left@example.org", "health")
	if err := h.subs.Unsubscribe(context.Background(), strings.TrimPrefix(left, "/unsubscribe/")); err != nil {
		t.Fatal(err)
	}
	at := h.clock.Now().Add(-time.Hour)
	if _, _, err := h.cat.Add(context.Background(), catalogue.Input{Title: "Rates", URL: "https://example.org/rates", PublishedAt: &at, Topics: []string{"econ"}}, false); err != nil {
		t.Fatal(err)
	}
	h.addReport("General", -2*time.Hour)

	page := h.withCookie(http.MethodGet, "/admin/digests", cookie)
	wantContains(t, "the digests page", page.body,
		"2 new reports, for 3 readers if it were sent now.",
		`<tr><th scope="row">No topic (every report)</th><td>1</td><td>2</td></tr>`,
		`<tr><th scope="row">Economy</th><td>2</td><td>1</td></tr>`,
		`<tr><th scope="row">Health</th><td>2</td><td>0</td></tr>`,
		`<label for="topic">Preview as readers who chose</label>`, `<option value="" selected>`,
		"New reports: 2")

	econ := h.withCookie(http.MethodGet, "/admin/digests?topic=econ", cookie)
	wantContains(t, "the economy readers' view", econ.body, `<option value="econ" selected>Economy</option>`, "New reports: 1",
		`src="/admin/digests/preview?frequency=weekly&amp;topic=econ"`)
	if frame := h.withCookie(http.MethodGet, "/admin/digests/preview?topic=econ", cookie); !strings.Contains(frame.body, "Rates") || strings.Contains(frame.body, "General") {
		t.Errorf("the economy readers' HTML part:\n%s", frame.body)
	}
	health := h.withCookie(http.MethodGet, "/admin/digests?topic=health", cookie)
	wantContains(t, "the health readers' view", health.body, "these readers get no mail")
	if strings.Contains(health.body, "<iframe") {
		t.Errorf("a frame for readers who get nothing:\n%s", health.body)
	}
	bad := h.withCookie(http.MethodGet, "/admin/digests?topic=%3Cx%3E", cookie)
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown topic: %d, want 400", bad.StatusCode)
	}
	wantContains(t, "the refused view", bad.body, `aria-invalid="true" aria-describedby="topic-error"`,
		`<p class="field-error" id="topic-error">Choose one of the topics in the list.</p>`)
	if resp := h.withCookie(http.MethodGet, "/admin/digests/preview?topic=nope", cookie); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the frame for an unknown topic: %d, want 400", resp.StatusCode)
	}

	// The counts follow readers who change their topics or are erased.
	ctx := context.Background()
	if err := h.subs.SetTopics(ctx, strings.TrimPrefix(h.confirmed("moved@example.org", "health"), "/unsubscribe/"), []string{"econ"}); err != nil {
		t.Fatal(err)
	}
	if err := h.subs.Erase(ctx, "all@example.org"); err != nil {
		t.Fatal(err)
	}
	wantContains(t, "the digests page after changes", h.withCookie(http.MethodGet, "/admin/digests", cookie).body,
		"2 new reports, for 3 readers if it were sent now.",
		`<tr><th scope="row">No topic (every report)</th><td>0</td><td>2</td></tr>`,
		`<tr><th scope="row">Economy</th><td>3</td><td>1</td></tr>`,
		`<tr><th scope="row">Health</th><td>2</td><td>0</td></tr>`)

	wantRedirect(t, h.sendNow(cookie, "0"), http.StatusSeeOther, "/admin/digests/1")
	if ds := h.digests(); len(ds) != 1 || ds[0].Recipients != 3 {
		t.Errorf("the compile reached %+v, the preview said 3", ds)
	}
}

func TestDashboardSendNowAsksOnceMoreAndSendsOneDigest(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("a@example.org")
	h.confirmed("b@example.org")
	h.confirmed("c@example.org")
	h.addReports(2, time.Minute)

	confirm := h.withCookie(http.MethodGet, "/admin/digests/send", cookie)
	wantContains(t, "the confirmation", confirm.body, "<h1>Send 2 reports to 3 readers now?</h1>",
		`<form method="post" action="/admin/digests/send">`, `<input type="hidden" name="last" value="0">`, "Yes, send now")
	if n := len(h.digests()); n != 0 {
		t.Fatalf("the confirmation page made %d digests", n)
	}
	if resp := h.sendNow(cookie, "x"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a form without its digest: %d, want 400", resp.StatusCode)
	}

	wantRedirect(t, h.sendNow(cookie, "0"), http.StatusSeeOther, "/admin/digests/1")
	// A second submit of the same form, even with a new report due by
	// then, shows the digest the first one made and makes none.
	h.addReport("Later", -time.Second)
	wantRedirect(t, h.sendNow(cookie, "0"), http.StatusSeeOther, "/admin/digests/1")
	ds := h.digests()
	if len(ds) != 1 || ds[0].Reports != 2 || ds[0].Recipients != 3 {
		t.Fatalf("digests after a double submit: %+v", ds)
	}
	if n := h.outboxSize(); n != 3 {
		t.Errorf("%d messages queued, want 3", n)
	}
	entries, err := h.dash.AuditLog(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	var sent []alertd.AuditEntry
	for _, e := range entries {
		if e.Action == admin.ActionDigestSent {
			sent = append(sent, e)
		}
	}
	if len(sent) != 1 || sent[0].Who != opsEmail || sent[0].Subject != "digest 1" || sent[0].Detail != "2 reports to 3 readers" {
		t.Errorf("audit entries for the send: %+v", sent)
	}

	// The confirmation against the newest digest sends the new report.
	wantContains(t, "the next confirmation", h.withCookie(http.MethodGet, "/admin/digests/send", cookie).body,
		"<h1>Send 1 report to 3 readers now?</h1>", `name="last" value="1"`)
	wantRedirect(t, h.sendNow(cookie, "1"), http.StatusSeeOther, "/admin/digests/2")
	// With nothing left to send, the form makes nothing and says so.
	wantRedirect(t, h.sendNow(cookie, "2"), http.StatusSeeOther, "/admin/digests?nothing-done&frequency=weekly")
	wantContains(t, "the digests page after sending nothing", h.withCookie(http.MethodGet, "/admin/digests?nothing-done", cookie).body,
		`<p class="notice" role="status">Nothing was sent: no report was due for a digest.</p>`)
	if page := h.withCookie(http.MethodGet, "/admin/digests", cookie).body; strings.Contains(page, "Nothing was sent") {
		t.Errorf("the digests page says nothing was sent when no send was asked for")
	}
	wantContains(t, "the confirmation with nothing due", h.withCookie(http.MethodGet, "/admin/digests/send", cookie).body, "<h1>Nothing to send</h1>")
	if n := len(h.digests()); n != 2 {
		t.Errorf("%d digests, want 2", n)
	}
}

func TestDashboardSendNowRefusesCrossSitePosts(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("a@example.org")
	h.addReport("Due", -time.Minute)
	req := h.request(http.MethodPost, "/admin/digests/send", "application/x-www-form-urlencoded", strings.NewReader("last=0"))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if resp := h.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site send: %d, want 403", resp.StatusCode)
	}
	if n := len(h.digests()); n != 0 {
		t.Errorf("a cross-site post made %d digests", n)
	}
	entries, err := h.dash.AuditLog(context.Background(), 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == admin.ActionDigestSent {
			t.Errorf("audit entry for a refused post: %+v", e)
		}
	}
}

func TestDashboardDigestPageShowsProgressAndEachFailureWithTheRelaysReply(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("a@example.org")
	h.confirmed("refused@example.org")
	h.confirmed("c@example.org")
	h.addReport(hostileTitle, -time.Minute)
	wantRedirect(t, h.sendNow(cookie, "0"), http.StatusSeeOther, "/admin/digests/1")

	if d := h.progress(cookie, 1); d.Status != alertd.DigestSending || d.Pending != 3 || d.Sent != 0 || d.Recipients != 3 {
		t.Errorf("progress before delivery: %+v", d)
	}
	before := h.withCookie(http.MethodGet, "/admin/digests/1", cookie)
	wantContains(t, "the digest page before delivery", before.body,
		`data-progress="/admin/digests/1/progress" data-status="sending"`,
		`<progress id="delivery-progress" max="3" value="0">0 of 3</progress>`,
		`<dd data-field="pending">3</dd>`, "No copy has failed.", "&lt;script&gt;alert(1)&lt;/script&gt;",
		`<script src="/static/digest-progress.js" defer></script>`)
	if strings.Contains(before.body, hostileTitle) {
		t.Errorf("the digest page holds the title unescaped:\n%s", before.body)
	}

	relay := mailtest.NewServer(t)
	const reply = `5.7.1 <img src=x onerror=alert(1)> refused "by policy"`
	relay.RejectRcpt("refused@example.org", 550, reply)
	transport, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: relay.Host, Port: relay.Port, TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	delivery.New(h.store, transport, h.renderer, delivery.Settings{Workers: 1}, h.clock.Now, slog.New(slog.DiscardHandler), nil).
		Drain(context.Background())

	if d := h.progress(cookie, 1); d.Status != alertd.DigestDone || d.Sent != 2 || d.Failed != 1 || d.Pending != 0 {
		t.Errorf("progress after delivery: %+v", d)
	}
	after := h.withCookie(http.MethodGet, "/admin/digests/1", cookie)
	wantContains(t, "the digest page after delivery", after.body, `data-status="done"`,
		`<progress id="delivery-progress" max="3" value="3">3 of 3</progress>`,
		`<dd data-field="sent">2</dd>`, `<dd data-field="failed">1</dd>`,
		`<th scope="row">refused@example.org</th>`, "5.7.1 &lt;img src=x onerror=alert(1)&gt; refused")
	if strings.Contains(after.body, "<img src=x") {
		t.Errorf("the relay's reply reached the page unescaped:\n%s", after.body)
	}
	// A later page of failures leaves the reports to the first page.
	later := h.withCookie(http.MethodGet, "/admin/digests/1?after=1", cookie)
	wantContains(t, "a later page of failures", later.body, "Weekly digest, compiled 2026-03-02 08:00 UTC with 1 report.",
		`The reports are listed on <a href="/admin/digests/1">the digest's first page</a>.`)
	if strings.Contains(later.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("a later page of failures lists the reports again:\n%s", later.body)
	}
	history := h.withCookie(http.MethodGet, "/admin/digests", cookie)
	wantContains(t, "the history", history.body,
		`<tr><th scope="row"><a href="/admin/digests/1">Digest 1</a></th><td>weekly</td><td>2026-03-02 08:00</td><td>done</td><td>1</td><td>3</td><td>2</td><td>1</td><td>0</td></tr>`)

	for path, want := range map[string]int{
		"/admin/digests/2": http.StatusNotFound, "/admin/digests/abc": http.StatusNotFound, "/admin/digests/0": http.StatusNotFound,
		"/admin/digests/1?after=-1": http.StatusBadRequest, "/admin/digests/2/progress": http.StatusNotFound,
		"/admin/digests/x/progress": http.StatusBadRequest,
	} {
		if resp := h.withCookie(http.MethodGet, path, cookie); resp.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestDashboardDigestHistoryIsPagedNewestFirst(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	for i := range 22 {
		h.addReport(fmt.Sprintf("Report %d", i), -time.Minute)
		if _, _, err := h.cat.CompileDigest(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	first := h.withCookie(http.MethodGet, "/admin/digests", cookie).body
	if !strings.Contains(first, `href="/admin/digests/22"`) || !strings.Contains(first, `href="/admin/digests/3"`) ||
		strings.Contains(first, `href="/admin/digests/2"`) || strings.Index(first, "Digest 22") > strings.Index(first, "Digest 21") {
		t.Errorf("the first page is not digests 22 to 3:\n%s", first)
	}
	wantContains(t, "the first page", first, `<a href="/admin/digests?before=3">Older digests</a>`)
	second := h.withCookie(http.MethodGet, "/admin/digests?before=3", cookie).body
	if !strings.Contains(second, `href="/admin/digests/2"`) || !strings.Contains(second, `href="/admin/digests/1"`) ||
		strings.Contains(second, `href="/admin/digests/3"`) || strings.Contains(second, "Older digests") {
		t.Errorf("the second page is not digests 2 and 1:\n%s", second)
	}
	if resp := h.withCookie(http.MethodGet, "/admin/digests?before=x", cookie); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a bad page: %d, want 400", resp.StatusCode)
	}
}
