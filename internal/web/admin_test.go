package web_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/admin"
)

const opsEmail = "ops@example.org"

var signInPath = regexp.MustCompile(`/admin/login/[A-Za-z0-9_-]{43}`)

// printLink makes a sign-in link for the address as the command line does
// and returns its path.
func (h *harness) printLink(email string) string {
	h.t.Helper()
	token, err := h.dash.PrintLink(context.Background(), email)
	if err != nil {
		h.t.Fatal(err)
	}
	return "/admin/login/" + token
}

// sessionFrom returns the session cookie a response set, failing the test
// when there is none.
func (h *harness) sessionFrom(resp response, name string) *http.Cookie {
	h.t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	h.t.Fatalf("no %s cookie in %v", name, resp.Header.Values("Set-Cookie"))
	return nil
}

// signIn signs in as the address through a printed link and returns the
// session cookie.
func (h *harness) signIn(email string) *http.Cookie {
	h.t.Helper()
	resp := h.postForm(h.printLink(email), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/admin" {
		h.t.Fatalf("sign in: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	return h.sessionFrom(resp, "alertd_session")
}

// withCookie sends a request carrying the session cookie.
func (h *harness) withCookie(method, path string, cookie *http.Cookie) response {
	h.t.Helper()
	req := h.request(method, path, "application/x-www-form-urlencoded", nil)
	if cookie != nil {
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	}
	return h.do(req)
}

func wantRedirect(t *testing.T, resp response, status int, location string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("Location") != location {
		t.Fatalf("got %d to %q, want %d to %q\n%s", resp.StatusCode, resp.Header.Get("Location"), status, location, resp.body)
	}
}

func TestDashboardSignInByMailedLink(t *testing.T) {
	h := newHarness(t, options{Mail: true, AdminEmails: []string{opsEmail}})
	wantRedirect(t, h.get("/admin"), http.StatusSeeOther, "/admin/login")

	form := h.get("/admin/login")
	if form.StatusCode != http.StatusOK || !strings.Contains(form.body, `<label for="email"`) || !strings.Contains(form.body, `name="email"`) {
		t.Fatalf("login form: %d\n%s", form.StatusCode, form.body)
	}
	wantRedirect(t, h.postForm("/admin/login", url.Values{"email": {"Ops@Example.org"}}), http.StatusSeeOther, "/admin/login/check-email")
	if page := h.get("/admin/login/check-email"); page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Check your e-mail") {
		t.Fatalf("check-email page: %d\n%s", page.StatusCode, page.body)
	}

	m := h.smtp.Wait(t, 1)[0]
	if len(m.To) != 1 || m.To[0] != opsEmail {
		t.Fatalf("sign-in mail went to %v, want %s", m.To, opsEmail)
	}
	text := m.Parse(t).Text
	link := signInPath.FindString(text)
	if link == "" || !strings.Contains(text, h.url+link) || !strings.Contains(text, "15 minutes") {
		t.Fatalf("no sign-in link to %s in the mail:\n%s", h.url, text)
	}

	// Opening the link, as a mail scanner does, signs no one in.
	for range 2 {
		page := h.get(link)
		if page.StatusCode != http.StatusOK || !strings.Contains(page.body, `<button type="submit"`) || len(page.Cookies()) != 0 {
			t.Fatalf("sign-in page: %d %v\n%s", page.StatusCode, page.Header.Values("Set-Cookie"), page.body)
		}
	}
	signedIn := h.postForm(link, nil)
	wantRedirect(t, signedIn, http.StatusSeeOther, "/admin")
	cookie := h.sessionFrom(signedIn, "alertd_session")
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" {
		t.Errorf("cookie flags: %s", signedIn.Header.Get("Set-Cookie"))
	}
	if !cookie.Expires.Equal(h.clock.Now().Add(sessionTTL).Truncate(time.Second)) {
		t.Errorf("cookie expires %v, want the session's end %v", cookie.Expires, h.clock.Now().Add(sessionTTL))
	}

	overview := h.withCookie(http.MethodGet, "/admin", cookie)
	if overview.StatusCode != http.StatusOK {
		t.Fatalf("overview: %d\n%s", overview.StatusCode, overview.body)
	}
	for _, want := range []string{opsEmail, "Sign out", `action="/admin/logout"`, "Subscribers", "No digest has been compiled yet"} {
		if !strings.Contains(overview.body, want) {
			t.Errorf("overview lacks %q:\n%s", want, overview.body)
		}
	}

	// The link is spent.
	if again := h.postForm(link, nil); again.StatusCode != http.StatusGone || len(again.Cookies()) != 0 {
		t.Errorf("second use of the link: %d %v, want 410 and no cookie", again.StatusCode, again.Header.Values("Set-Cookie"))
	}
	if again := h.get(link); again.StatusCode != http.StatusGone {
		t.Errorf("opening the spent link: %d, want 410", again.StatusCode)
	}
	audit := h.withCookie(http.MethodGet, "/admin/audit", cookie)
	if audit.StatusCode != http.StatusOK || !strings.Contains(audit.body, "<td>"+opsEmail+"</td><td>"+admin.ActionSignIn+"</td>") {
		t.Errorf("audit log lacks the sign-in:\n%s", audit.body)
	}
}

func TestDashboardOverviewShowsCountsAndTheLastDigest(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	h.confirmed("a@example.org")
	h.confirmed("b@example.org")
	h.subscribe("c@example.org")
	h.postJSON("/subscribe", `{"email":"d@example.org"}`)
	h.addReports(1, time.Minute)
	if _, _, err := h.cat.CompileDigest(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	body := h.withCookie(http.MethodGet, "/admin", h.signIn(opsEmail)).body
	for _, want := range []string{
		`<th scope="row">confirmed</th><td>2</td>`, `<th scope="row">pending</th><td>2</td>`,
		"1 reports to 2 recipients", `<th scope="row">pending</th><td>2</td>`, `<th scope="row">sent</th><td>0</td>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q:\n%s", want, body)
		}
	}
}

func TestDashboardLoginAnswersAnUnknownAddressTheSameAndMailsNothing(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	stranger := h.postForm("/admin/login", url.Values{"email": {"stranger@example.org"}})
	wantRedirect(t, stranger, http.StatusSeeOther, "/admin/login/check-email")
	malformed := h.postForm("/admin/login", url.Values{"email": {"not an address"}})
	wantRedirect(t, malformed, http.StatusSeeOther, "/admin/login/check-email")
	if n := h.outboxSize(); n != 0 {
		t.Fatalf("%d messages queued for addresses that may not sign in", n)
	}
	known := h.postForm("/admin/login", url.Values{"email": {opsEmail}})
	wantRedirect(t, known, http.StatusSeeOther, "/admin/login/check-email")
	if n := h.outboxSize(); n != 1 {
		t.Fatalf("%d messages queued for an admin, want 1", n)
	}
	// A second request a moment later is answered the same and mails
	// nothing: whoever knows the address cannot flood it.
	h.clock.Advance(30 * time.Second)
	wantRedirect(t, h.postForm("/admin/login", url.Values{"email": {opsEmail}}), http.StatusSeeOther, "/admin/login/check-email")
	if n := h.outboxSize(); n != 1 {
		t.Fatalf("%d messages queued after a request within the cooldown, want 1", n)
	}
	h.clock.Advance(time.Minute)
	h.postForm("/admin/login", url.Values{"email": {opsEmail}})
	if n := h.outboxSize(); n != 2 {
		t.Fatalf("%d messages queued after the cooldown, want 2", n)
	}
}

func TestDashboardLoginIsRateLimitedPerClient(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, PerIPPerHour: 2})
	for i := range 2 {
		wantRedirect(t, h.postForm("/admin/login", url.Values{"email": {fmt.Sprintf("x%d@example.org", i)}}), http.StatusSeeOther, "/admin/login/check-email")
	}
	if resp := h.postForm("/admin/login", url.Values{"email": {opsEmail}}); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request in the hour: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if n := h.outboxSize(); n != 0 {
		t.Fatalf("%d messages queued past the limit", n)
	}
}

func TestDashboardSignInLinkLastsFifteenMinutes(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	fresh := h.printLink(opsEmail)
	h.clock.Advance(admin.LinkTTL - time.Second)
	wantRedirect(t, h.postForm(fresh, nil), http.StatusSeeOther, "/admin")

	stale := h.printLink(opsEmail)
	h.clock.Advance(admin.LinkTTL)
	if page := h.get(stale); page.StatusCode != http.StatusGone || !strings.Contains(page.body, "no longer works") {
		t.Errorf("expired link's page: %d\n%s", page.StatusCode, page.body)
	}
	if resp := h.postForm(stale, nil); resp.StatusCode != http.StatusGone || len(resp.Cookies()) != 0 {
		t.Errorf("expired link: %d %v, want 410 and no cookie", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	if resp := h.postForm("/admin/login/not-a-token", nil); resp.StatusCode != http.StatusGone {
		t.Errorf("unknown link: %d, want 410", resp.StatusCode)
	}
}

func TestDashboardLinkOfAnAddressNoLongerListedSignsNobodyIn(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	link := h.printLink(opsEmail)
	cookie := h.signIn(opsEmail)
	// The same database, with admin.emails emptied.
	h.dash = admin.NewService(h.store, admin.Rules{SessionTTL: sessionTTL}, h.clock.Now, rand.Reader, func() {})
	if _, err := h.dash.Session(context.Background(), cookie.Value); err != admin.ErrNoSession {
		t.Errorf("session of an address no longer listed: %v, want ErrNoSession", err)
	}
	if _, _, err := h.dash.SignIn(context.Background(), strings.TrimPrefix(link, "/admin/login/")); err != admin.ErrLinkExpired {
		t.Errorf("link of an address no longer listed: %v, want ErrLinkExpired", err)
	}
}

func TestDashboardSessionEnds(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.clock.Advance(sessionTTL - time.Second)
	if resp := h.withCookie(http.MethodGet, "/admin", cookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("within the session: %d", resp.StatusCode)
	}
	h.clock.Advance(time.Second)
	wantRedirect(t, h.withCookie(http.MethodGet, "/admin", cookie), http.StatusSeeOther, "/admin/login")
}

func TestDashboardLogoutEndsTheSessionOnTheServer(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	other := h.signIn(opsEmail)
	out := h.withCookie(http.MethodPost, "/admin/logout", cookie)
	wantRedirect(t, out, http.StatusSeeOther, "/admin/login")
	if cleared := h.sessionFrom(out, "alertd_session"); cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("logout's cookie: %s, want it deleted", out.Header.Get("Set-Cookie"))
	}
	// The old value, replayed, is refused: the server has forgotten it.
	wantRedirect(t, h.withCookie(http.MethodGet, "/admin", cookie), http.StatusSeeOther, "/admin/login")
	audit := h.withCookie(http.MethodGet, "/admin/audit", other)
	if !strings.Contains(audit.body, "<td>"+opsEmail+"</td><td>"+admin.ActionSignOut+"</td>") {
		t.Errorf("audit log lacks the sign-out:\n%s", audit.body)
	}
}

func TestDashboardPagesNeedASession(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	for _, tt := range []struct{ method, path string }{
		{http.MethodGet, "/admin"}, {http.MethodGet, "/admin/"}, {http.MethodGet, "/admin/audit"},
		{http.MethodGet, "/admin/subscribers"}, {http.MethodPost, "/admin/logout"},
	} {
		wantRedirect(t, h.withCookie(tt.method, tt.path, nil), http.StatusSeeOther, "/admin/login")
		wantRedirect(t, h.withCookie(tt.method, tt.path, &http.Cookie{Name: "alertd_session", Value: "forged"}), http.StatusSeeOther, "/admin/login")
	}
	cookie := h.signIn(opsEmail)
	if resp := h.withCookie(http.MethodGet, "/admin/nowhere", cookie); resp.StatusCode != http.StatusNotFound {
		t.Errorf("no such page, signed in: %d, want 404", resp.StatusCode)
	}
}

func TestDashboardRefusesCrossSitePosts(t *testing.T) {
	// The subscription form may be posted from the trusted origin; the
	// dashboard may not.
	const trusted = "https://forms.example.org"
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, TrustedOrigins: []string{trusted}})
	cookie := h.signIn(opsEmail)
	link := h.printLink(opsEmail)
	crossSite := func(path, origin string) response {
		req := h.request(http.MethodPost, path, "application/x-www-form-urlencoded", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		return h.do(req)
	}
	for _, origin := range []string{trusted, "https://evil.example"} {
		for _, path := range []string{"/admin/logout", link, "/admin/login"} {
			if resp := crossSite(path, origin); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
				t.Errorf("POST %s from %s: %d %v, want 403", path, origin, resp.StatusCode, resp.Header.Values("Set-Cookie"))
			}
		}
	}
	if resp := h.withCookie(http.MethodGet, "/admin", cookie); resp.StatusCode != http.StatusOK {
		t.Errorf("the session after refused cross-site logouts: %d, want 200", resp.StatusCode)
	}
	if resp := h.get(link); resp.StatusCode != http.StatusOK {
		t.Errorf("the link after refused cross-site sign-ins: %d, want it unspent", resp.StatusCode)
	}
	if n := h.outboxSize(); n != 0 {
		t.Errorf("%d messages queued by cross-site requests", n)
	}
}

func TestDashboardPagesSendTheSecurityHeaders(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	spent := h.printLink(opsEmail)
	h.postForm(spent, nil)
	for _, resp := range []response{
		h.get("/admin/login"), h.get("/admin/login/check-email"), h.get(h.printLink(opsEmail)), h.get(spent),
		h.get("/admin"), h.withCookie(http.MethodGet, "/admin", cookie), h.withCookie(http.MethodGet, "/admin/audit", cookie),
		h.withCookie(http.MethodGet, "/admin/audit?before=x", cookie),
	} {
		path := resp.Request.URL.RequestURI()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		for header, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"} {
			if got := resp.Header.Get(header); got != want {
				t.Errorf("%s: %s = %q, want %q", path, header, got, want)
			}
		}
	}
}

func TestDashboardCookieOnHTTPS(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}, BaseURL: "https://alerts.example.org"})
	resp := h.postForm(h.printLink(opsEmail), nil)
	cookie := h.sessionFrom(resp, "__Host-alertd_session")
	if !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" || cookie.Domain != "" {
		t.Errorf("cookie flags on https: %s", resp.Header.Get("Set-Cookie"))
	}
	if page := h.withCookie(http.MethodGet, "/admin", cookie); page.StatusCode != http.StatusOK {
		t.Errorf("overview with the __Host- cookie: %d", page.StatusCode)
	}
}

func TestDashboardAuditLogIsPagedNewestFirst(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail, "editor@example.org"}})
	for range 49 {
		h.printLink("editor@example.org")
		h.clock.Advance(time.Second)
	}
	cookie := h.signIn(opsEmail) // its link and the sign-in: 51 entries
	first := h.withCookie(http.MethodGet, "/admin/audit", cookie)
	rows := strings.Count(first.body, "<tr><td>")
	if rows != 50 || strings.Index(first.body, admin.ActionSignIn) > strings.Index(first.body, admin.ActionLinkPrinted) {
		t.Fatalf("first page: %d rows, want 50 with the sign-in first\n%s", rows, first.body)
	}
	older := regexp.MustCompile(`/admin/audit\?before=\d+`).FindString(first.body)
	if older == "" {
		t.Fatalf("no link to older entries:\n%s", first.body)
	}
	second := h.withCookie(http.MethodGet, older, cookie)
	if rows := strings.Count(second.body, "<tr><td>"); rows != 1 || strings.Contains(second.body, "before=") {
		t.Errorf("second page: %d rows, want the oldest alone and no further link\n%s", rows, second.body)
	}
	if !strings.Contains(second.body, "<td>cli</td><td>"+admin.ActionLinkPrinted+"</td><td>editor@example.org</td>") {
		t.Errorf("the CLI's entry is not shown:\n%s", second.body)
	}
	if bad := h.withCookie(http.MethodGet, "/admin/audit?before=-1", cookie); bad.StatusCode != http.StatusBadRequest {
		t.Errorf("?before=-1: %d, want 400", bad.StatusCode)
	}
}
