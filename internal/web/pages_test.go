package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/alertd/alertd"
)

func TestPagesCarrySecurityHeaders(t *testing.T) {
	h := newHarness(t, options{})
	unsubscribe := h.confirmed("bob@example.org")
	tests := []struct {
		name       string
		r          response
		noReferrer bool // the URL holds a token
	}{
		{"form", h.get("/"), false},
		{"refused sign-up", h.subscribe("not an address"), false},
		{"check e-mail", h.get("/subscribe/check-email"), false},
		{"reports", h.get("/reports"), false},
		{"not found", h.get("/nowhere"), false},
		{"confirm page", h.get("/confirm/some-token"), true},
		{"confirm answer", h.postForm("/confirm/some-token", nil), true},
		{"unsubscribe page", h.get(unsubscribe), true},
		{"unsubscribe answer", h.postForm(unsubscribe, nil), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := tt.r.Header
			csp := header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || strings.Contains(csp, "unsafe-") {
				t.Errorf("Content-Security-Policy = %q, want default-src 'none' and no script source", csp)
			}
			if strings.Contains(tt.r.body, "<script") || strings.Contains(tt.r.body, " style=") {
				t.Errorf("the page holds inline script or style, which the policy blocks:\n%s", tt.r.body)
			}
			if got := header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
			if got := header.Get("Referrer-Policy"); tt.noReferrer && got != "no-referrer" {
				t.Errorf("Referrer-Policy = %q, want no-referrer on a page whose URL holds a token", got)
			}
			if got := header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q, want text/html; charset=utf-8", got)
			}
		})
	}
}

func TestHealthzAnswers200WhileTheDatabaseAnswers(t *testing.T) {
	h := newHarness(t, options{})
	if r := h.get("/healthz"); r.StatusCode != http.StatusOK {
		t.Errorf("status = %d, want 200: %s", r.StatusCode, r.body)
	}
}

func TestHealthzWithABrokenDatabaseLogsTheCauseAndShowsNone(t *testing.T) {
	h := newHarness(t, options{})
	h.closeStore()
	r := h.get("/healthz")
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", r.StatusCode)
	}
	if strings.Contains(r.body, "sql") || strings.Contains(r.body, "closed") {
		t.Errorf("body %q shows the database's error to anyone who asks", r.body)
	}
	if !loggedFailure(h.logs.String(), "/healthz", "database is closed") {
		t.Errorf("the cause is not logged; log:\n%s", h.logs)
	}
}

// loggedFailure reports whether log holds a failed request to path, with
// cause in its error.
func loggedFailure(log, path, cause string) bool {
	for line := range strings.Lines(log) {
		if strings.Contains(line, "level=ERROR") && strings.Contains(line, "path="+path+" ") && strings.Contains(line, cause) {
			return true
		}
	}
	return false
}

func TestStylesheetIsServed(t *testing.T) {
	h := newHarness(t, options{})
	r := h.get("/static/style.css")
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") || len(r.body) == 0 {
		t.Errorf("GET /static/style.css = %d %q, %d bytes; want 200 text/css with the stylesheet",
			r.StatusCode, r.Header.Get("Content-Type"), len(r.body))
	}
	if page := h.get("/").body; !strings.Contains(page, `<link rel="stylesheet" href="/static/style.css">`) {
		t.Errorf("the form page does not link the stylesheet")
	}
}

func TestFormPageIsLabelledAndNamesTheService(t *testing.T) {
	tests := []struct {
		name   string
		topics []alertd.Topic
		want   []*regexp.Regexp
	}{
		{"without topics", nil, []*regexp.Regexp{
			regexp.MustCompile(`<html lang="[a-z]{2}`),
			regexp.MustCompile(`<title>[^<]*Research Alerts</title>`),
			regexp.MustCompile(`<label for="email">[^<]+</label>`),
			regexp.MustCompile(`<input type="email" id="email" name="email"`),
			regexp.MustCompile(`<form[^>]* method="post" action="/subscribe"`),
			regexp.MustCompile(`<button type="submit">Subscribe</button>`),
		}},
		{"with topics", []alertd.Topic{{ID: "economy", Name: "Economy"}}, []*regexp.Regexp{
			regexp.MustCompile(`<fieldset>\s*<legend>[^<]+</legend>`),
			regexp.MustCompile(`<label><input type="checkbox" name="topics" value="economy"> Economy</label>`),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, options{Topics: tt.topics})
			r := h.get("/")
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status = %d, want 200", r.StatusCode)
			}
			for _, want := range tt.want {
				if !want.MatchString(r.body) {
					t.Errorf("the form page does not match %s:\n%s", want, r.body)
				}
			}
			if tt.topics == nil && strings.Contains(r.body, `name="topics"`) {
				t.Errorf("the form offers topics though none are configured")
			}
		})
	}
}
