package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// postWithCookie posts a form as the signed-in operator.
func (h *harness) postWithCookie(path string, cookie *http.Cookie, form url.Values) response {
	h.t.Helper()
	req := h.request(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	return h.do(req)
}

// uploadWithCookie posts a file as the import form does.
func (h *harness) uploadWithCookie(path string, cookie *http.Cookie, consent, name, content string) response {
	h.t.Helper()
	var body bytes.Buffer
	form := multipart.NewWriter(&body)
	form.WriteField("consent", consent)
	if name != "" {
		part, err := form.CreateFormFile("file", name)
		if err != nil {
			h.t.Fatal(err)
		}
		io.WriteString(part, content)
	}
	form.Close()
	req := h.request(http.MethodPost, path, form.FormDataContentType(), &body)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	return h.do(req)
}

// importConfirmed adds confirmed subscribers, in order, as a trusted import
// does.
func (h *harness) importConfirmed(emails []string, topics ...string) {
	h.t.Helper()
	rows := make([]subscription.ImportRow, len(emails))
	for i, email := range emails {
		rows[i] = subscription.ImportRow{Email: email, Topics: topics, ConfirmedAt: h.clock.Now()}
	}
	if _, rejected, err := h.subs.ImportConfirmed(context.Background(), rows, "test"); err != nil || len(rejected) > 0 {
		h.t.Fatalf("import: %v %v", err, rejected)
	}
}

var (
	listedSubscriber = regexp.MustCompile(`<a href="/admin/subscribers/(\d+)">([^<]*)</a>`)
	nextPage         = regexp.MustCompile(`<nav class="pager" aria-label="Pages"><a href="([^"]+)">`)
)

// walk follows a search's pages from path to the last and returns every
// address listed, in order.
func (h *harness) walk(path string, cookie *http.Cookie) []string {
	h.t.Helper()
	var listed []string
	for pages := 0; path != ""; pages++ {
		if pages > 100 {
			h.t.Fatalf("more than 100 pages from %s", path)
		}
		resp := h.withCookie(http.MethodGet, path, cookie)
		if resp.StatusCode != http.StatusOK {
			h.t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, resp.body)
		}
		for _, m := range listedSubscriber.FindAllStringSubmatch(resp.body, -1) {
			listed = append(listed, html.UnescapeString(m[2]))
		}
		path = ""
		if m := nextPage.FindStringSubmatch(resp.body); m != nil {
			path = html.UnescapeString(m[1])
		}
	}
	return listed
}

func TestDashboardSubscribersListSearchesFiltersAndPages(t *testing.T) {
	topics := []alertd.Topic{{ID: "economics", Name: "Economics"}, {ID: "health", Name: "Health"}}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Topics: topics})
	cookie := h.signIn(opsEmail)

	// 130 subscribers over three pages: 60 of example.org, 40 of
	// other.org with the economics topic, then 30 pending sign-ups.
	var all []string
	var example, other []string
	for i := range 60 {
		example = append(example, fmt.Sprintf("user%03d@example.org", i))
	}
	for i := range 40 {
		other = append(other, fmt.Sprintf("User%03d@Other.org", i))
	}
	h.importConfirmed(example)
	h.importConfirmed(other, "economics")
	all = append(append(all, example...), other...)
	var pending []string
	for i := range 30 {
		email := fmt.Sprintf("late%02d@example.org", i)
		if resp := h.subscribe(email); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("subscribe %s: %d", email, resp.StatusCode)
		}
		pending = append(pending, email)
	}
	all = append(all, pending...)

	newestFirst := slices.Clone(all)
	slices.Reverse(newestFirst)
	if got := h.walk("/admin/subscribers", cookie); !slices.Equal(got, newestFirst) {
		t.Errorf("all pages, newest first: got %d addresses\n%v\nwant %d\n%v", len(got), got, len(newestFirst), newestFirst)
	}

	// An address search goes by the lower-cased address, in its order.
	wantUser := slices.Clone(example)
	wantUser = append(wantUser, other...)
	slices.SortFunc(wantUser, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
	if got := h.walk("/admin/subscribers?q=USER", cookie); !slices.Equal(got, wantUser) {
		t.Errorf("q=USER: got %d\n%v\nwant %d", len(got), got, len(wantUser))
	}
	if got := h.walk("/admin/subscribers?q=user00", cookie); !slices.Equal(got, []string{
		"user000@example.org", "User000@Other.org", "user001@example.org", "User001@Other.org",
		"user002@example.org", "User002@Other.org", "user003@example.org", "User003@Other.org",
		"user004@example.org", "User004@Other.org", "user005@example.org", "User005@Other.org",
		"user006@example.org", "User006@Other.org", "user007@example.org", "User007@Other.org",
		"user008@example.org", "User008@Other.org", "user009@example.org", "User009@Other.org",
	}) {
		t.Errorf("q=user00: %v", got)
	}

	// "@domain" lists that domain, whatever the case, newest first.
	wantOther := slices.Clone(other)
	slices.Reverse(wantOther)
	if got := h.walk("/admin/subscribers?q=%40other.ORG", cookie); !slices.Equal(got, wantOther) {
		t.Errorf("q=@other.ORG: %v", got)
	}
	if got := h.walk("/admin/subscribers?q=%40other.or", cookie); len(got) != 0 {
		t.Errorf("a domain matches whole: q=@other.or listed %v", got)
	}

	wantPending := slices.Clone(pending)
	slices.Reverse(wantPending)
	if got := h.walk("/admin/subscribers?status=pending", cookie); !slices.Equal(got, wantPending) {
		t.Errorf("status=pending: %v", got)
	}
	if got := h.walk("/admin/subscribers?topic=economics", cookie); !slices.Equal(got, wantOther) {
		t.Errorf("topic=economics: %v", got)
	}
	if got := h.walk("/admin/subscribers?q=late&status=confirmed", cookie); len(got) != 0 {
		t.Errorf("q=late&status=confirmed: %v", got)
	}
	if got := h.walk("/admin/subscribers?q=late0&status=pending", cookie); !slices.Equal(got, pending[:10]) {
		t.Errorf("q=late0&status=pending: %v", got)
	}

	page := h.withCookie(http.MethodGet, "/admin/subscribers?q=user&status=confirmed&topic=economics", cookie)
	for _, want := range []string{`value="user"`, `<option value="confirmed" selected>`, `<option value="economics" selected>Economics</option>`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the search form does not keep %s:\n%s", want, page.body)
		}
	}
	for _, tt := range []struct{ query, field string }{
		{"status=gone", `id="status" name="status" aria-invalid="true" aria-describedby="status-error"`},
		{"topic=nope", `id="topic" name="topic" aria-invalid="true" aria-describedby="topic-error"`},
	} {
		resp := h.withCookie(http.MethodGet, "/admin/subscribers?"+tt.query, cookie)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(resp.body, tt.field) {
			t.Errorf("?%s: %d, want 400 with the error beside the field\n%s", tt.query, resp.StatusCode, resp.body)
		}
	}
	if resp := h.withCookie(http.MethodGet, "/admin/subscribers?after=x", cookie); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("?after=x: %d, want 400", resp.StatusCode)
	}
}

func TestDashboardSubscribersTopicFilterOnlyWhenTopicsAreConfigured(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	if resp := h.withCookie(http.MethodGet, "/admin/subscribers", cookie); strings.Contains(resp.body, `name="topic"`) {
		t.Errorf("a topic filter without topics:\n%s", resp.body)
	}
}

// subscriberPath returns the dashboard page of the address.
func (h *harness) subscriberPath(email string) string {
	h.t.Helper()
	sub, ok := h.subscriber(email)
	if !ok {
		h.t.Fatalf("no subscriber %s", email)
	}
	return "/admin/subscribers/" + strconv.FormatInt(sub.ID, 10)
}

const hostileText = `<script>alert(1)</script>`

func TestDashboardSubscriberPageShowsConsentMailsAndBounces(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	const email = "reader@example.org"
	req := h.request(http.MethodPost, "/subscribe", "application/x-www-form-urlencoded", strings.NewReader(url.Values{"email": {email}}.Encode()))
	req.Header.Set("User-Agent", "Reader/1.0 "+hostileText)
	if resp := h.do(req); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	sub, _ := h.subscriber(email)

	// The relay refuses the confirmation mail for good.
	ctx := context.Background()
	now := h.clock.Now()
	claimed, err := h.store.ClaimMessages(ctx, "test", now, now.Add(time.Minute), 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	const reply = "550 5.1.1 <reader@example.org>: no such user " + hostileText
	err = h.store.Write(ctx, func(tx *store.Tx) error {
		return tx.RecordOutcome(now, alertd.Outcome{ID: claimed[0].ID, Status: alertd.MessageFailed, Error: reply, Bounced: true, SubscriberID: sub.ID})
	})
	if err != nil {
		t.Fatal(err)
	}

	page := h.withCookie(http.MethodGet, h.subscriberPath(email), cookie)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("subscriber page: %d\n%s", page.StatusCode, page.body)
	}
	for _, want := range []string{
		"<h1>reader@example.org</h1>", "<dd>bounced</dd>",
		"<dt>Sign-up IP</dt><dd>127.0.0.1</dd>",
		"<dt>Sign-up browser</dt><dd>Reader/1.0 &lt;script&gt;alert(1)&lt;/script&gt;</dd>",
		"<dt>Consent wording</dt><dd>test-form</dd>",
		"<dt>Signed up</dt><dd>2026-03-02 08:00:00 UTC</dd>",
		"<td>confirmation</td><td>failed</td><td>" + html.EscapeString(reply) + "</td>",
		"<td>confirmation</td><td>failed</td><td>1</td>",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the page lacks %s\n%s", want, page.body)
		}
	}
	if strings.Contains(page.body, hostileText) {
		t.Errorf("hostileText text reached the page unescaped")
	}
	if strings.Contains(page.body, ">Unsubscribe</button>") {
		t.Errorf("a bounced address offered an unsubscribe")
	}
	for _, path := range []string{"/admin/subscribers/999", "/admin/subscribers/x", "/admin/subscribers/-1"} {
		if resp := h.withCookie(http.MethodGet, path, cookie); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// auditBody returns the first page of the audit log.
func (h *harness) auditBody(cookie *http.Cookie) string {
	h.t.Helper()
	return h.withCookie(http.MethodGet, "/admin/audit", cookie).body
}

func TestDashboardUnsubscribesASubscriber(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("reader@example.org")
	path := h.subscriberPath("reader@example.org")
	if page := h.withCookie(http.MethodGet, path, cookie); !strings.Contains(page.body, `<form method="post" action="`+path+`/unsubscribe">`) {
		t.Fatalf("no unsubscribe form:\n%s", page.body)
	}
	wantRedirect(t, h.postWithCookie(path+"/unsubscribe", cookie, nil), http.StatusSeeOther, path)
	if got := h.status("reader@example.org"); got != alertd.StatusUnsubscribed {
		t.Errorf("status %s, want unsubscribed", got)
	}
	id := strings.TrimPrefix(path, "/admin/subscribers/")
	if log := h.auditBody(cookie); !strings.Contains(log, "<td>"+opsEmail+"</td><td>"+admin.ActionSubscriberUnsubscribed+"</td><td>subscriber "+id+"</td>") {
		t.Errorf("no audit entry:\n%s", log)
	}
}

func TestDashboardErasesOnlyWhenTheAddressIsTypedAgain(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("Reader@example.org")
	path := h.subscriberPath("Reader@example.org")
	id := strings.TrimPrefix(path, "/admin/subscribers/")

	for _, typed := range []string{"", "other@example.org", hostileText} {
		resp := h.postWithCookie(path+"/erase", cookie, url.Values{"confirm": {typed}})
		if resp.StatusCode != http.StatusUnprocessableEntity ||
			!strings.Contains(resp.body, `aria-invalid="true" aria-describedby="confirm-error"`) ||
			!strings.Contains(resp.body, `<p class="field-error" id="confirm-error">`) ||
			!strings.Contains(resp.body, `value="`+html.EscapeString(typed)+`"`) {
			t.Errorf("erase typing %q: %d, want 422 with the error beside the field and the input kept\n%s", typed, resp.StatusCode, resp.body)
		}
		if strings.Contains(resp.body, hostileText) {
			t.Errorf("typed text reached the page unescaped")
		}
		if _, ok := h.subscriber("reader@example.org"); !ok {
			t.Fatalf("erased although %q was typed", typed)
		}
	}

	resp := h.postWithCookie(path+"/erase", cookie, url.Values{"confirm": {" reader@EXAMPLE.org "}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, "Subscriber erased") {
		t.Fatalf("erase: %d\n%s", resp.StatusCode, resp.body)
	}
	if _, ok := h.subscriber("reader@example.org"); ok {
		t.Fatal("still there after the erase")
	}
	log := h.auditBody(cookie)
	if !strings.Contains(log, "<td>"+admin.ActionSubscriberErased+"</td><td>subscriber "+id+"</td>") {
		t.Errorf("no audit entry for the erase:\n%s", log)
	}
	if strings.Contains(strings.ToLower(log), "reader@example.org") {
		t.Errorf("the audit log keeps the erased address:\n%s", log)
	}
	if again := h.postWithCookie(path+"/erase", cookie, url.Values{"confirm": {"reader@example.org"}}); again.StatusCode != http.StatusNotFound {
		t.Errorf("a second erase: %d, want 404", again.StatusCode)
	}
}

func TestDashboardExportsConfirmedSubscribersAsCSV(t *testing.T) {
	topics := []alertd.Topic{{ID: "economics", Name: "Economics"}, {ID: "health", Name: "Health"}}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Topics: topics})
	cookie := h.signIn(opsEmail)
	h.confirmed("ada@example.org", "economics", "health")
	h.confirmed("=1+2@example.org")
	h.subscribe("pending@example.org")

	resp := h.withCookie(http.MethodGet, "/admin/subscribers/export.csv", cookie)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="subscribers.csv"` {
		t.Fatalf("export: %d %v", resp.StatusCode, resp.Header)
	}
	want := "email,confirmed_at,topics,frequency,lang\n" +
		"ada@example.org,2026-03-02T08:00:00Z,economics;health,weekly,en\n" +
		"'=1+2@example.org,2026-03-02T08:00:00Z,,weekly,en\n"
	if resp.body != want {
		t.Errorf("export:\n%s\nwant\n%s", resp.body, want)
	}
	if log := h.auditBody(cookie); !strings.Contains(log, "<td>"+admin.ActionSubscribersExported+"</td>") {
		t.Errorf("no audit entry for the export:\n%s", log)
	}
}

func TestDashboardExportImportsAgainAsItIs(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	for _, email := range []string{"=cmd|x@example.org", "+1@example.org", "-x@example.org", "o'brien@example.org"} {
		h.confirmed(email)
	}
	export := h.withCookie(http.MethodGet, "/admin/subscribers/export.csv", cookie)
	if export.StatusCode != http.StatusOK || !strings.Contains(export.body, "'=cmd|x@example.org") {
		t.Fatalf("export: %d\n%s", export.StatusCode, export.body)
	}
	resp := h.uploadWithCookie("/admin/subscribers/import", cookie, "confirmed", "subscribers.csv", export.body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, "0 added as confirmed, 4 unchanged") {
		t.Errorf("import of the export: %d\n%s", resp.StatusCode, resp.body)
	}
	if n := h.subscriberCount(); n != 4 {
		t.Errorf("%d subscribers after importing the export of 4", n)
	}
}

func TestDashboardExportStreamsAsItReads(t *testing.T) {
	if testing.Short() {
		t.Skip("adds 50,000 subscribers")
	}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	const n = 50_000
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("r%06d@example.org", i)
	}
	h.importConfirmed(emails)

	req := h.request(http.MethodGet, "/admin/subscribers/export.csv", "", nil)
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A handler that gathered the rows before writing would know the
	// length; a streamed one sends chunks as it goes.
	if resp.ContentLength != -1 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Errorf("length %d, transfer encoding %v: not streamed", resp.ContentLength, resp.TransferEncoding)
	}
	records := csv.NewReader(bufio.NewReader(resp.Body))
	header, err := records.Read()
	if err != nil || header[0] != "email" {
		t.Fatalf("header %v %v", header, err)
	}
	for i := range n {
		record, err := records.Read()
		if err != nil || record[0] != emails[i] {
			t.Fatalf("row %d: %v %v, want %s", i, record, err, emails[i])
		}
	}
	if _, err := records.Read(); err != io.EOF {
		t.Errorf("after the last row: %v, want EOF", err)
	}
}

func TestDashboardImportsSubscribersAndListsTheRejectedRows(t *testing.T) {
	topics := []alertd.Topic{{ID: "economics", Name: "Economics"}}
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, Topics: topics})
	cookie := h.signIn(opsEmail)
	if form := h.withCookie(http.MethodGet, "/admin/subscribers/import", cookie); form.StatusCode != http.StatusOK ||
		!strings.Contains(form.body, `<label for="file">CSV file</label>`) {
		t.Fatalf("import form: %d\n%s", form.StatusCode, form.body)
	}

	file := "email,confirmed_at,topics\n" +
		"ada@example.org,2025-01-02,economics\n" +
		"not an address" + hostileText + "\n" +
		"bob@example.org,,nope\n" +
		"carol@example.org\n"
	resp := h.uploadWithCookie("/admin/subscribers/import", cookie, "confirmed", "list"+hostileText+".csv", file)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("import: %d\n%s", resp.StatusCode, resp.body)
	}
	for _, want := range []string{
		"2 added as confirmed, 0 unchanged (already known or suppressed), 2 rejected",
		"<tr><td>3</td><td>&#34;not an address&lt;script&gt;",
		"<tr><td>4</td><td>unknown topic &#34;nope&#34;</td></tr>",
	} {
		if !strings.Contains(resp.body, want) {
			t.Errorf("results lack %s\n%s", want, resp.body)
		}
	}
	if strings.Contains(resp.body, hostileText) {
		t.Errorf("hostileText text reached the results unescaped")
	}
	if h.status("ada@example.org") != alertd.StatusConfirmed || h.status("carol@example.org") != alertd.StatusConfirmed || h.outboxSize() != 0 {
		t.Errorf("a confirmed import: %s %s, %d mails queued", h.status("ada@example.org"), h.status("carol@example.org"), h.outboxSize())
	}
	if log := h.auditBody(cookie); !strings.Contains(log, "<td>"+admin.ActionSubscribersImported+"</td>") {
		t.Errorf("no audit entry for the import:\n%s", log)
	}

	// Without trusted consent each row is a sign-up and gets a mail.
	resp = h.uploadWithCookie("/admin/subscribers/import", cookie, "pending", "more.csv", "dan@example.org\nada@example.org\n")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body, "2 sign-ups recorded, 0 rejected") {
		t.Errorf("pending import: %d\n%s", resp.StatusCode, resp.body)
	}
	if h.status("dan@example.org") != alertd.StatusPending || h.confirmationsQueued("dan@example.org") != 1 {
		t.Errorf("dan: %s, %d confirmations", h.status("dan@example.org"), h.confirmationsQueued("dan@example.org"))
	}
}

func TestDashboardImportRefusesBadUploads(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	for _, tt := range []struct {
		name, consent, file, content string
		status                       int
	}{
		{"no file", "pending", "", "", http.StatusBadRequest},
		{"no choice", "", "a.csv", "a@example.org\n", http.StatusBadRequest},
		{"binary", "pending", "a.csv", "\x00\x01\x02PK\x03\x04", http.StatusUnsupportedMediaType},
		{"bad header", "confirmed", "a.csv", "email,email\na@example.org,b@example.org\n", http.StatusUnprocessableEntity},
		{"too large", "confirmed", "a.csv", strings.Repeat("a@example.org\n", 33<<20/14), http.StatusRequestEntityTooLarge},
	} {
		resp := h.uploadWithCookie("/admin/subscribers/import", cookie, tt.consent, tt.file, tt.content)
		if resp.StatusCode != tt.status || !strings.Contains(resp.body, `aria-describedby="file-error"`) {
			t.Errorf("%s: %d, want %d with the error beside the file field\n%.2000s", tt.name, resp.StatusCode, tt.status, resp.body)
		}
	}
	if n := h.subscriberCount(); n != 0 {
		t.Errorf("%d subscribers added by refused uploads", n)
	}
}

func TestDashboardSubscriberPostsRefuseCrossSiteRequests(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("reader@example.org")
	path := h.subscriberPath("reader@example.org")
	for _, tt := range []struct{ path, contentType, body string }{
		{path + "/unsubscribe", "application/x-www-form-urlencoded", ""},
		{path + "/erase", "application/x-www-form-urlencoded", "confirm=reader%40example.org"},
		{"/admin/subscribers/import", "text/csv", "new@example.org\n"},
	} {
		req := h.request(http.MethodPost, tt.path, tt.contentType, strings.NewReader(tt.body))
		req.Header.Set("Origin", "https://evil.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		if resp := h.do(req); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site POST %s: %d, want 403", tt.path, resp.StatusCode)
		}
	}
	if got := h.status("reader@example.org"); got != alertd.StatusConfirmed || h.subscriberCount() != 1 {
		t.Errorf("after refused cross-site posts: %s, %d subscribers", got, h.subscriberCount())
	}
}

func TestDashboardSubscriberPagesNeedASession(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	h.confirmed("reader@example.org")
	path := h.subscriberPath("reader@example.org")
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/admin/subscribers"}, {http.MethodGet, path}, {http.MethodGet, "/admin/subscribers/export.csv"},
		{http.MethodGet, "/admin/subscribers/import"}, {http.MethodPost, "/admin/subscribers/import"},
		{http.MethodPost, path + "/unsubscribe"}, {http.MethodPost, path + "/erase"},
	} {
		wantRedirect(t, h.withCookie(tt.method, tt.path, nil), http.StatusSeeOther, "/admin/login")
	}
	if got := h.status("reader@example.org"); got != alertd.StatusConfirmed {
		t.Errorf("changed without a session: %s", got)
	}
}

// A browser refuses a type=email value with a non-ASCII local part, which
// the service accepts: the erase confirmation is a text field.
func TestDashboardEraseFieldTakesEveryAddressTheServiceAccepts(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("jörg@example.org")
	page := h.withCookie(http.MethodGet, h.subscriberPath("jörg@example.org"), cookie)
	if !strings.Contains(page.body, `<label for="confirm">Type the address to confirm</label>`) ||
		!strings.Contains(page.body, `<input type="text" inputmode="email" id="confirm" name="confirm" value="" autocomplete="off" required>`) {
		t.Errorf("the erase field is not a required text field with its label:\n%s", page.body)
	}
	if strings.Contains(page.body, `type="email" id="confirm"`) {
		t.Errorf("the erase field is type=email")
	}
}

func TestDashboardExportRefusesACrossSiteNavigation(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.confirmed("reader@example.org")
	for site, want := range map[string]int{"cross-site": http.StatusForbidden, "same-origin": http.StatusOK, "none": http.StatusOK, "": http.StatusOK} {
		req := h.request(http.MethodGet, "/admin/subscribers/export.csv", "", nil)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		resp := h.do(req)
		if resp.StatusCode != want || (want == http.StatusForbidden && strings.Contains(resp.body, "reader@example.org")) {
			t.Errorf("export with Sec-Fetch-Site %q: %d, want %d", site, resp.StatusCode, want)
		}
	}
	if got := h.auditActions(); len(got) != 3 {
		t.Errorf("audit entries %v, want the three exports made", got)
	}
}

// TestDashboardExportMovesLanguageAndFrequencyToAnotherInstall proves that
// an export imported into another install, with its header row or without
// it, keeps each reader's language and frequency.
func TestDashboardExportMovesLanguageAndFrequencyToAnotherInstall(t *testing.T) {
	opts := options{AdminEmails: []string{opsEmail}, Languages: []string{"en", "zh-Hans"}, Frequencies: dailyAndWeekly}
	from := newHarness(t, opts)
	if _, rejected, err := from.subs.ImportConfirmed(context.Background(), []subscription.ImportRow{
		{Email: "li@example.org", Frequency: "weekly", Lang: "zh-Hans"},
		{Email: "ann@example.org", Frequency: "daily", Lang: "en"},
	}, "test"); err != nil || len(rejected) > 0 {
		t.Fatal(err, rejected)
	}
	export := from.withCookie(http.MethodGet, "/admin/subscribers/export.csv", from.signIn(opsEmail)).body
	header, rows, _ := strings.Cut(export, "\n")
	if header != "email,confirmed_at,topics,frequency,lang" {
		t.Fatalf("export header %q", header)
	}
	for name, file := range map[string]string{"with its header": export, "without it": rows} {
		to := newHarness(t, opts)
		cookie := to.signIn(opsEmail)
		resp := to.uploadWithCookie("/admin/subscribers/import", cookie, "confirmed", "subscribers.csv", file)
		if !strings.Contains(resp.body, "2 added as confirmed, 0 unchanged (already known or suppressed), 0 rejected.") {
			t.Errorf("import %s: %d\n%s", name, resp.StatusCode, resp.body)
		}
		for email, want := range map[string][2]string{"li@example.org": {"zh-Hans", "weekly"}, "ann@example.org": {"en", "daily"}} {
			if sub, _ := to.subscriber(email); sub.Lang != want[0] || sub.Frequency != want[1] {
				t.Errorf("import %s: %s reads in %q, %q; want %q", name, email, sub.Lang, sub.Frequency, want)
			}
		}
	}
}
