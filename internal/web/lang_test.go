package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/web"
)

var bothLanguages = options{Languages: []string{"en", "zh-Hans"}}

func (h *harness) getIn(path, acceptLanguage string) response {
	h.t.Helper()
	req := h.request(http.MethodGet, path, "", nil)
	req.Header.Set("Accept-Language", acceptLanguage)
	return h.do(req)
}

// TestPagesSpeakTheNegotiatedLanguage proves that a public page is in
// ?lang= when it names an offered language, else in the best match for
// Accept-Language, else in the first offered, and says so in <html lang>;
// and that the form offers the choice, pre-selected, only when there is one.
func TestPagesSpeakTheNegotiatedLanguage(t *testing.T) {
	h := newHarness(t, bothLanguages)
	for _, tc := range []struct {
		path, accept, want string
	}{
		{"/", "", "en"},
		{"/", "zh-CN,zh;q=0.9,en;q=0.5", "zh-Hans"},
		{"/", "en-GB", "en"},
		{"/?lang=en", "zh-CN", "en"},
		{"/?lang=zh-Hans", "en", "zh-Hans"},
		{"/?lang=fr", "zh-TW", "zh-Hans"}, // an unknown ?lang= is ignored
		{"/reports?lang=zh-Hans", "", "zh-Hans"},
		{"/subscribe/check-email?lang=zh-Hans", "", "zh-Hans"},
		{"/no-such-page", "zh", "zh-Hans"},
	} {
		r := h.getIn(tc.path, tc.accept)
		if !strings.Contains(r.body, `<html lang="`+tc.want+`">`) {
			t.Errorf("GET %s (Accept-Language %q): want <html lang=%q>:\n%s", tc.path, tc.accept, tc.want, r.body)
		}
	}
	zh := h.getIn("/", "zh-CN")
	for _, want := range []string{
		"<h1>通过电子邮件接收新报告</h1>", `<label for="email">您的电子邮箱地址</label>`, `<button type="submit">订阅</button>`,
		`<label for="lang">邮件语言</label>`, `<option value="zh-Hans" lang="zh-Hans" selected>简体中文</option>`,
		`<option value="en" lang="en">English</option>`, `<a href="?lang=en" lang="en" hreflang="en">English</a>`,
	} {
		if !strings.Contains(zh.body, want) {
			t.Errorf("the Chinese form lacks %s:\n%s", want, zh.body)
		}
	}
	if r := h.get("/reports?lang=zh-Hans"); !strings.Contains(r.body, `href="/?lang=zh-Hans"`) {
		t.Errorf("a link to another page loses the language:\n%s", r.body)
	}
	// Switching language stays on the same page of a list.
	if r := h.get("/digests?before=7&lang=zh-Hans"); !strings.Contains(r.body, `<a href="?before=7&amp;lang=en" lang="en" hreflang="en">English</a>`) {
		t.Errorf("the language switch leaves the page it is on:\n%s", r.body)
	}

	only := newHarness(t, options{})
	r := only.getIn("/", "zh-CN")
	if !strings.Contains(r.body, `<html lang="en">`) || strings.Contains(r.body, `name="lang"`) || strings.Contains(r.body, "?lang=") {
		t.Errorf("with English alone, the form is English and offers no choice:\n%s", r.body)
	}
}

// TestSubscribingInChineseKeepsTheLanguage proves that the form's choice
// is kept for the subscriber and used for the pages and mails that follow,
// and that a refused sign-up says why in that language.
func TestSubscribingInChineseKeepsTheLanguage(t *testing.T) {
	opts := bothLanguages
	opts.Mail = true
	h := newHarness(t, opts)

	bad := h.postForm("/subscribe", url.Values{"email": {"reader.example.org"}, "lang": {"zh-Hans"}})
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, "邮箱地址必须包含 @，例如 name@example.org。") ||
		!strings.Contains(bad.body, `<html lang="zh-Hans">`) {
		t.Errorf("a refused Chinese sign-up = %d:\n%s", bad.StatusCode, bad.body)
	}

	r := h.postForm("/subscribe", url.Values{"email": {"reader@example.org"}, "lang": {"zh-Hans"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/subscribe/check-email?lang=zh-Hans" {
		t.Errorf("sign-up = %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	if sub, _ := h.subscriber("reader@example.org"); sub.Lang != "zh-Hans" {
		t.Errorf("stored lang = %q, want zh-Hans", sub.Lang)
	}
	m := h.smtp.Wait(t, 1)[0].Parse(t)
	if m.Subject != "请确认订阅 Research Alerts" || !strings.Contains(m.Text, "请打开以下链接确认：") {
		t.Errorf("confirmation: %q\n%s", m.Subject, m.Text)
	}
	link := confirmPath.FindString(m.Text)
	if !strings.Contains(m.Text, link+"?lang=zh-Hans") {
		t.Errorf("the confirmation link does not keep the language:\n%s", m.Text)
	}
	page := h.get(link + "?lang=zh-Hans")
	if !strings.Contains(page.body, `<button type="submit" autofocus>确认订阅</button>`) {
		t.Errorf("confirmation page:\n%s", page.body)
	}
	if done := h.postForm(link+"?lang=zh-Hans", nil); !strings.Contains(done.body, "<h1>您已成功订阅</h1>") {
		t.Errorf("confirmed page:\n%s", done.body)
	}
	welcome := h.smtp.Wait(t, 2)[1].Parse(t)
	if welcome.Subject != "您已成功订阅 Research Alerts" || !strings.Contains(welcome.HTML, ">管理订阅或退订</a>") {
		t.Errorf("welcome: %q\n%s", welcome.Subject, welcome.HTML)
	}

	// The JSON API takes lang too, and refuses one that is not offered.
	if r := h.postJSON("/subscribe", `{"email": "api@example.org", "lang": "zh-Hans"}`); r.StatusCode != http.StatusAccepted {
		t.Errorf("API sign-up = %d: %s", r.StatusCode, r.body)
	}
	if sub, _ := h.subscriber("api@example.org"); sub.Lang != "zh-Hans" {
		t.Errorf("API sign-up stored lang %q", sub.Lang)
	}
	if r := h.postJSON("/subscribe", `{"email": "fr@example.org", "lang": "fr"}`); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "unknown language") {
		t.Errorf("API sign-up in an unknown language = %d: %s", r.StatusCode, r.body)
	}
	if _, ok := h.subscriber("fr@example.org"); ok {
		t.Error("a sign-up in an unknown language was stored")
	}
	// Without a choice, a sign-up gets the first offered language.
	h.subscribe("plain@example.org")
	if sub, _ := h.subscriber("plain@example.org"); sub.Lang != "en" {
		t.Errorf("a sign-up without a choice stored lang %q", sub.Lang)
	}
}

// TestPreferencesChangeTheLanguage proves that the preferences page speaks
// the subscriber's language, offers the choice without changing anything
// on GET, and saves a new choice on POST; a language not offered is
// refused and changes nothing.
func TestPreferencesChangeTheLanguage(t *testing.T) {
	opts := bothLanguages
	opts.Topics = []alertd.Topic{{ID: "economy", Name: "Economy"}, {ID: "health", Name: "Health"}}
	opts.AdminToken = adminToken
	h := newHarness(t, opts)
	path := h.confirmed("reader@example.org", "economy")

	page := h.getIn(path, "zh-CN")
	if !strings.Contains(page.body, `<html lang="en">`) || !strings.Contains(page.body, `<option value="en" lang="en" selected>English</option>`) ||
		!strings.Contains(page.body, `<label for="lang">Language of the e-mails</label>`) {
		t.Errorf("the preferences page is not in the subscriber's language:\n%s", page.body)
	}
	if sub, _ := h.subscriber("reader@example.org"); sub.Lang != "en" || sub.Status != alertd.StatusConfirmed {
		t.Errorf("GET changed the subscriber: %+v", sub)
	}

	refused := h.postForm(path, url.Values{"preferences": {"1"}, "topics": {"health"}, "lang": {"fr"}})
	if refused.StatusCode != http.StatusBadRequest || !strings.Contains(refused.body, "Choose a language from the list on the page.") {
		t.Errorf("an unknown language = %d:\n%s", refused.StatusCode, refused.body)
	}
	if sub, _ := h.subscriber("reader@example.org"); sub.Lang != "en" || strings.Join(sub.Topics, ",") != "economy" {
		t.Errorf("a refused change changed the subscriber: %+v", sub)
	}

	saved := h.postForm(path, url.Values{"preferences": {"1"}, "topics": {"health"}, "lang": {"zh-Hans"}})
	if saved.StatusCode != http.StatusOK || !strings.Contains(saved.body, "<h1>您的设置已保存</h1>") {
		t.Errorf("saving = %d:\n%s", saved.StatusCode, saved.body)
	}
	sub, _ := h.subscriber("reader@example.org")
	if sub.Lang != "zh-Hans" || strings.Join(sub.Topics, ",") != "health" || sub.Status != alertd.StatusConfirmed {
		t.Errorf("after saving: %+v", sub)
	}
	if again := h.get(path); !strings.Contains(again.body, `<html lang="zh-Hans">`) || !strings.Contains(again.body, "<h2>或者修改您的设置</h2>") {
		t.Errorf("the page does not follow the new language:\n%s", again.body)
	}
	if r := h.admin(http.MethodGet, "/api/v1/subscribers/reader@example.org"); !strings.Contains(r.body, `"lang":"zh-Hans"`) {
		t.Errorf("the API does not show the language: %s", r.body)
	}
}

// TestUnknownMessageIDStopsTheStart proves that a page template asking for
// a message no language file holds is refused when the server is built,
// not shown as a blank.
func TestUnknownMessageIDStopsTheStart(t *testing.T) {
	over := fstest.MapFS{"pages/check_email.html": {Data: []byte(`{{define "content"}}{{.T "check_titel"}}{{end}}`)}}
	_, err := web.NewServer(web.Deps{Templates: alertd.Overlay(over, alertd.Templates())})
	if err == nil || !strings.Contains(err.Error(), `pages/check_email.html: no message "check_titel"`) {
		t.Errorf("NewServer = %v, want the unknown message named", err)
	}
}

// TestImportKeepsEachRowsLanguage proves that a CSV import's lang column
// gives each subscriber their language, the first offered when a row has
// none, and that a row in a language not offered is refused.
func TestImportKeepsEachRowsLanguage(t *testing.T) {
	h := newHarness(t, bothLanguages)
	file := "email,lang\nli@example.org,zh-Hans\nfr@example.org,fr\nada@example.org,\n"
	result, err := h.subs.Import(context.Background(), strings.NewReader(file), "test", true)
	if err != nil {
		t.Fatal(err)
	}
	if result.Added != 2 || len(result.Rejected) != 1 || result.Rejected[0].Line != 3 || !strings.Contains(result.Rejected[0].Reason, "unknown language") {
		t.Errorf("import = %+v", result)
	}
	for email, want := range map[string]string{"li@example.org": "zh-Hans", "ada@example.org": "en"} {
		if sub, _ := h.subscriber(email); sub.Lang != want {
			t.Errorf("%s: lang %q, want %s", email, sub.Lang, want)
		}
	}
}
