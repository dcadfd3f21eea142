package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/admin"
)

func TestDashboardTestMailArrivesAtTheOperatorWithoutListHeaders(t *testing.T) {
	h := newHarness(t, options{Mail: true, AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)

	settings := h.withCookie(http.MethodGet, "/admin/settings", cookie)
	if !strings.Contains(settings.body, `<form method="post" action="/admin/settings/test-mail">`) ||
		!strings.Contains(settings.body, ">Send me a test e-mail</button>") || strings.Contains(settings.body, "on its way") {
		t.Fatalf("settings page lacks the test mail button, or says one was sent:\n%s", settings.body)
	}
	resp := h.withCookie(http.MethodPost, "/admin/settings/test-mail", cookie)
	wantRedirect(t, resp, http.StatusSeeOther, "/admin/settings?test-mail=sent")
	notice := h.withCookie(http.MethodGet, resp.Header.Get("Location"), cookie)
	if want := "A test e-mail is on its way to <strong>" + opsEmail + "</strong>"; !strings.Contains(notice.body, want) {
		t.Errorf("settings page after the test mail lacks %q:\n%s", want, notice.body)
	}

	m := h.smtp.Wait(t, 1)[0]
	if len(m.To) != 1 || m.To[0] != opsEmail {
		t.Fatalf("test mail went to %v, want %s", m.To, opsEmail)
	}
	p := m.Parse(t)
	if p.Subject != "Test e-mail from Research Alerts" || p.Header.Get("To") != "<"+opsEmail+">" ||
		!strings.Contains(p.Header.Get("From"), "alerts@example.org") || p.Header.Get("Auto-Submitted") != "auto-generated" ||
		p.Header.Get("Message-Id") == "" || p.Header.Get("Date") == "" {
		t.Errorf("test mail headers: %v", p.Header)
	}
	// It goes to one operator, not to the list: no unsubscribe headers
	// that would name no subscriber, nor bulk marking.
	for _, name := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Precedence"} {
		if v := p.Header.Get(name); v != "" {
			t.Errorf("test mail carries %s: %s", name, v)
		}
	}
	for _, part := range []string{p.Text, p.HTML} {
		if !strings.Contains(part, "test e-mail from Research Alerts") || !strings.Contains(part, opsEmail) || strings.Contains(part, "/unsubscribe/") {
			t.Errorf("test mail body:\n%s", part)
		}
	}
	if len(p.PartTypes) != 2 || p.PartTypes[0] != "text/plain" || p.PartTypes[1] != "text/html" {
		t.Errorf("test mail parts: %v", p.PartTypes)
	}

	audit := h.withCookie(http.MethodGet, "/admin/audit", cookie)
	if !strings.Contains(audit.body, "<td>"+opsEmail+"</td><td>"+admin.ActionTestMail+"</td><td>"+opsEmail+"</td>") {
		t.Errorf("audit log lacks the test mail:\n%s", audit.body)
	}
}

func TestDashboardTestMailIsLimitedToOneAMinutePerOperator(t *testing.T) {
	const other = "other@example.org"
	h := newHarness(t, options{AdminEmails: []string{opsEmail, other}})
	cookie := h.signIn(opsEmail)
	wantRedirect(t, h.withCookie(http.MethodPost, "/admin/settings/test-mail", cookie), http.StatusSeeOther, "/admin/settings?test-mail=sent")
	h.clock.Advance(59 * time.Second)
	again := h.withCookie(http.MethodPost, "/admin/settings/test-mail", cookie)
	if again.StatusCode != http.StatusTooManyRequests || again.Header.Get("Retry-After") != "60" ||
		!strings.Contains(again.body, `<p id="test-mail-error" class="field-error" role="alert">`) ||
		!strings.Contains(again.body, `aria-describedby="test-mail-hint test-mail-error"`) {
		t.Errorf("second test mail within a minute: %d %q\n%s", again.StatusCode, again.Header.Get("Retry-After"), again.body)
	}
	if n := h.outboxSize(); n != 1 {
		t.Errorf("%d test mails queued, want 1", n)
	}
	// Another operator is not held up.
	wantRedirect(t, h.withCookie(http.MethodPost, "/admin/settings/test-mail", h.signIn(other)), http.StatusSeeOther, "/admin/settings?test-mail=sent")
	h.clock.Advance(time.Second)
	wantRedirect(t, h.withCookie(http.MethodPost, "/admin/settings/test-mail", cookie), http.StatusSeeOther, "/admin/settings?test-mail=sent")
	if n := h.outboxSize(); n != 3 {
		t.Errorf("%d test mails queued, want 3", n)
	}
}

func TestDashboardTestMailRefusesCrossSiteAndNoSession(t *testing.T) {
	h := newHarness(t, options{AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	req := h.request(http.MethodPost, "/admin/settings/test-mail", "application/x-www-form-urlencoded", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	if resp := h.do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site test mail: %d, want 403", resp.StatusCode)
	}
	wantRedirect(t, h.withCookie(http.MethodPost, "/admin/settings/test-mail", nil), http.StatusSeeOther, "/admin/login")
	if n := h.outboxSize(); n != 0 {
		t.Errorf("%d messages queued by refused requests", n)
	}
	audit := h.withCookie(http.MethodGet, "/admin/audit", cookie)
	if strings.Contains(audit.body, admin.ActionTestMail) {
		t.Error("a refused test mail is in the audit log")
	}
}
