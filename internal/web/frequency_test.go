package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/subscription"
)

var dailyAndWeekly = []alertd.Frequency{
	{ID: "daily", Name: "Every day", Schedule: "0 8 * * *"},
	{ID: "weekly", Name: "Every week", Schedule: "0 8 * * 1"},
}

// reader adds a confirmed subscriber of the frequency (as a trusted import
// does) and returns its preferences link's path.
func (h *harness) reader(email, frequency string) string {
	h.t.Helper()
	_, rejected, err := h.subs.ImportConfirmed(context.Background(),
		[]subscription.ImportRow{{Email: email, Frequency: frequency}}, "test")
	if err != nil || len(rejected) > 0 {
		h.t.Fatalf("import %s: %v %v", email, err, rejected)
	}
	sub, _ := h.subscriber(email)
	return "/unsubscribe/" + h.subs.UnsubscribeToken(sub.ID)
}

func (h *harness) publish(title string, at time.Time) {
	h.t.Helper()
	if _, _, err := h.cat.Add(context.Background(), catalogue.Input{
		Title: title, URL: "https://example.org/" + title, PublishedAt: &at,
	}, false); err != nil {
		h.t.Fatal(err)
	}
}

// compileAt compiles the series' next digest at the time and checks how
// many readers it reaches.
func (h *harness) compileAt(frequency string, at time.Time, recipients int) {
	h.t.Helper()
	h.clock.Set(at)
	d, created, err := h.cat.CompileDigest(context.Background(), frequency)
	if err != nil || !created || d.Recipients != recipients {
		h.t.Fatalf("%s digest at %s: created %v, %d recipients, %v; want %d recipients", frequency, at, created, d.Recipients, err, recipients)
	}
}

// drainer returns a relay and a call that delivers, as alertd digest send
// does, every message due at the test's time and returns once they are
// all recorded; so the test's clock may then jump without a lease running
// out under a message being sent.
func (h *harness) drainer() (*mailtest.Server, func()) {
	relay := mailtest.NewServer(h.t)
	transport, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: relay.Host, Port: relay.Port, TLS: "none"})
	if err != nil {
		h.t.Fatal(err)
	}
	engine := delivery.New(h.store, transport, h.renderer, delivery.Settings{Workers: 1}, h.clock.Now,
		slog.New(slog.NewTextHandler(h.t.Output(), nil)), nil)
	return relay, func() { engine.Drain(context.Background()) }
}

// TestReaderWhoSwitchesFrequencyMissesNoReportAndGetsNoneTwice follows two
// readers who change frequency through the preferences page, one each way,
// between digests of both series, and reads every mail the relay got: each
// reader gets each report exactly once.
func TestReaderWhoSwitchesFrequencyMissesNoReportAndGetsNoneTwice(t *testing.T) {
	h := newHarness(t, options{Frequencies: dailyAndWeekly})
	relay, drain := h.drainer()
	day := 24 * time.Hour
	start := h.clock.Now()
	h.reader("daily@example.org", "daily")
	h.reader("weekly@example.org", "weekly")
	toDaily := h.reader("to-daily@example.org", "weekly")
	toWeekly := h.reader("to-weekly@example.org", "daily")

	h.publish("Alpha-report", start.Add(-time.Hour))
	h.compileAt("daily", start, 2)
	h.compileAt("weekly", start, 2)
	drain()
	h.publish("Bravo-report", start.Add(time.Hour))
	h.compileAt("daily", start.Add(day), 2)
	drain()

	// Bravo is out in the daily series, not yet in the weekly one.
	h.clock.Set(start.Add(day + time.Hour))
	for link, frequency := range map[string]string{toDaily: "daily", toWeekly: "weekly"} {
		page := h.get(link)
		wantContains(t, "the preferences page", page.body, `<label for="frequency">How often</label>`, `<option value="daily"`, "Save frequency")
		resp := h.postForm(link, url.Values{"preferences": {"frequency"}, "frequency": {frequency}})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("switch to %s: %d\n%s", frequency, resp.StatusCode, resp.body)
		}
	}
	if sub, _ := h.subscriber("to-daily@example.org"); sub.Frequency != "daily" {
		t.Fatalf("frequency after the switch = %q, want daily", sub.Frequency)
	}
	drain() // to-daily's catch-up

	h.publish("Charlie-report", start.Add(2*day))
	h.compileAt("daily", start.Add(3*day), 2) // daily and to-daily
	drain()
	h.compileAt("weekly", start.Add(7*day), 2) // weekly and to-weekly, who had Bravo already
	drain()
	h.clock.Set(start.Add(8 * day))
	for _, frequency := range []string{"daily", "weekly"} {
		if _, created, err := h.cat.CompileDigest(context.Background(), frequency); err != nil || created {
			t.Fatalf("%s digest after all reports went out: created %v, %v", frequency, created, err)
		}
	}

	// 2 + 2 (Alpha) + 2 (Bravo, daily) + 1 (to-daily's catch-up) + 2
	// (Charlie, daily) + 2 (Bravo and Charlie, weekly).
	got := map[string]map[string]int{}
	messages := relay.Messages()
	if len(messages) != 11 {
		t.Errorf("the relay got %d mails, want 11", len(messages))
	}
	for _, m := range messages {
		for _, title := range []string{"Alpha-report", "Bravo-report", "Charlie-report"} {
			if strings.Contains(string(m.Data), title) {
				if got[m.To[0]] == nil {
					got[m.To[0]] = map[string]int{}
				}
				got[m.To[0]][title]++
			}
		}
	}
	for _, reader := range []string{"daily@example.org", "weekly@example.org", "to-daily@example.org", "to-weekly@example.org"} {
		for _, title := range []string{"Alpha-report", "Bravo-report", "Charlie-report"} {
			if n := got[reader][title]; n != 1 {
				t.Errorf("%s got %s in %d mails, want 1 (all: %v)", reader, title, n, got[reader])
			}
		}
	}
}

// TestFormAndPreferencesOfferTheFrequencies proves that with several
// frequencies the form and the preferences page offer the choice, that it
// is kept and shown in the API, and that an unknown one is refused with
// 400 and changes nothing; with one, neither page offers a choice.
func TestFormAndPreferencesOfferTheFrequencies(t *testing.T) {
	h := newHarness(t, options{Frequencies: dailyAndWeekly, AdminToken: adminToken})
	wantContains(t, "the form", h.get("/").body, `<label for="frequency">How often</label>`,
		`<select id="frequency" name="frequency">`, `<option value="daily">Every day</option>`, `<option value="weekly">Every week</option>`)

	if r := h.postForm("/subscribe", url.Values{"email": {"ann@example.org"}, "frequency": {"weekly"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("subscribe: %d\n%s", r.StatusCode, r.body)
	}
	if r := h.postJSON("/subscribe", `{"email": "bob@example.org", "frequency": "daily"}`); r.StatusCode != http.StatusAccepted {
		t.Fatalf("JSON subscribe: %d\n%s", r.StatusCode, r.body)
	}
	if r := h.postForm("/subscribe", url.Values{"email": {"cid@example.org"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("subscribe without a frequency: %d", r.StatusCode)
	}
	for email, want := range map[string]string{"ann@example.org": "weekly", "bob@example.org": "daily", "cid@example.org": "daily"} {
		if sub, _ := h.subscriber(email); sub.Frequency != want {
			t.Errorf("%s reads %q, want %q", email, sub.Frequency, want)
		}
	}

	r := h.postForm("/subscribe", url.Values{"email": {"dan@example.org"}, "frequency": {"hourly"}})
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "unknown frequency") {
		t.Errorf("unknown frequency on the form: %d\n%s", r.StatusCode, r.body)
	}
	if r := h.postJSON("/subscribe", `{"email": "dan@example.org", "frequency": "hourly"}`); r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown frequency in JSON: %d", r.StatusCode)
	}
	if _, ok := h.subscriber("dan@example.org"); ok {
		t.Error("a sign-up with an unknown frequency was stored")
	}

	link := h.reader("eve@example.org", "weekly")
	wantContains(t, "the preferences page", h.get(link).body, `<option value="weekly" selected>Every week</option>`)
	r = h.postForm(link, url.Values{"preferences": {"frequency"}, "frequency": {"hourly"}})
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown frequency on the preferences page: %d", r.StatusCode)
	}
	if r := h.postForm(link, url.Values{"preferences": {"frequency"}, "frequency": {"daily"}}); r.StatusCode != http.StatusOK {
		t.Fatalf("change of frequency: %d", r.StatusCode)
	}
	var sub map[string]any
	if err := json.Unmarshal([]byte(h.admin(http.MethodGet, "/api/v1/subscribers/eve@example.org").body), &sub); err != nil {
		t.Fatal(err)
	}
	if sub["frequency"] != "daily" || sub["status"] != "confirmed" {
		t.Errorf("API after the change: %v, want frequency daily and still confirmed", sub)
	}

	one := newHarness(t, options{})
	link = one.reader("fay@example.org", "")
	for path, page := range map[string]string{"/": one.get("/").body, link: one.get(link).body} {
		if strings.Contains(page, `name="frequency"`) {
			t.Errorf("%s offers a frequency though there is only one", path)
		}
	}
	if sub, _ := one.subscriber("fay@example.org"); sub.Frequency != "weekly" {
		t.Errorf("with no frequencies configured a reader reads %q, want weekly", sub.Frequency)
	}
}

// TestDigestAPITakesTheFrequency proves that POST /api/v1/digests compiles
// the digest of the frequency its body names, for that frequency's readers
// only, and refuses with 400 a body naming none among several or an
// unknown one.
func TestDigestAPITakesTheFrequency(t *testing.T) {
	h := newHarness(t, options{Frequencies: dailyAndWeekly, AdminToken: adminToken})
	h.reader("d1@example.org", "daily")
	h.reader("d2@example.org", "daily")
	h.reader("w1@example.org", "weekly")
	h.publish("One", h.clock.Now().Add(-time.Hour))
	for _, body := range []string{"", `{}`, `{"frequency": "hourly"}`, `{"frequency": 7}`} {
		if r := h.adminSend(http.MethodPost, "/api/v1/digests", body); r.StatusCode != http.StatusBadRequest {
			t.Errorf("POST /api/v1/digests %q: %d, want 400\n%s", body, r.StatusCode, r.body)
		}
	}
	r := h.adminSend(http.MethodPost, "/api/v1/digests", `{"frequency": "daily"}`)
	var d map[string]any
	if err := json.Unmarshal([]byte(r.body), &d); err != nil || r.StatusCode != http.StatusCreated || d["recipients"] != 2.0 {
		t.Fatalf("daily digest: %d %v", r.StatusCode, r.body)
	}
	if r := h.adminSend(http.MethodPost, "/api/v1/digests", `{"frequency": "daily"}`); !strings.Contains(r.body, "no new reports") {
		t.Errorf("daily again: %s, want skipped", r.body)
	}
	r = h.adminSend(http.MethodPost, "/api/v1/digests", `{"frequency": "weekly"}`)
	if err := json.Unmarshal([]byte(r.body), &d); err != nil || r.StatusCode != http.StatusCreated || d["recipients"] != 1.0 || d["reports"] != 1.0 {
		t.Fatalf("weekly digest of the same report: %d %v", r.StatusCode, r.body)
	}
	got := h.admin(http.MethodGet, "/api/v1/digests/2")
	if !strings.Contains(got.body, `"frequency":"weekly"`) {
		t.Errorf("GET /api/v1/digests/2 = %s, want its frequency", got.body)
	}
}

// TestDashboardSendsNowPerFrequency proves that the dashboard's digest
// page shows one frequency's next digest at a time and that "Send now"
// compiles that frequency's digest.
func TestDashboardSendsNowPerFrequency(t *testing.T) {
	h := newHarness(t, options{Frequencies: dailyAndWeekly, AdminEmails: []string{opsEmail}})
	cookie := h.signIn(opsEmail)
	h.reader("d1@example.org", "daily")
	h.reader("w1@example.org", "weekly")
	h.publish("One", h.clock.Now().Add(-time.Hour))
	wantContains(t, "the weekly view", h.withCookie(http.MethodGet, "/admin/digests?frequency=weekly", cookie).body,
		"<h2>Next digest: Every week</h2>", `<option value="weekly" selected>Every week</option>`,
		`<input type="hidden" name="frequency" value="weekly">`)
	if r := h.withCookie(http.MethodGet, "/admin/digests?frequency=hourly", cookie); r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown frequency: %d, want 400", r.StatusCode)
	}
	wantContains(t, "the confirmation", h.withCookie(http.MethodGet, "/admin/digests/send?frequency=weekly", cookie).body,
		"<h1>Send 1 report to 1 reader of the Every week digest now?</h1>")
	req := h.request(http.MethodPost, "/admin/digests/send", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"last": {"0"}, "frequency": {"weekly"}}.Encode()))
	req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
	wantRedirect(t, h.do(req), http.StatusSeeOther, "/admin/digests/1")
	wantContains(t, "the digest page", h.withCookie(http.MethodGet, "/admin/digests/1", cookie).body, "Every week digest, compiled")
	wantContains(t, "the weekly reader's page", h.withCookie(http.MethodGet, "/admin/subscribers/2", cookie).body, "<dt>Frequency</dt><dd>weekly</dd>")
	d, err := h.cat.Digest(context.Background(), 1)
	if err != nil || d.Frequency != "weekly" || d.Recipients != 1 {
		t.Fatalf("digest 1: %+v %v, want the weekly one to its one reader", d, err)
	}
	// The daily series has its own first digest still to come.
	if next, err := h.cat.Upcoming(context.Background(), "daily"); err != nil || len(next.Reports) != 1 || next.Recipients != 1 {
		t.Fatalf("daily next: %+v %v", next, err)
	}
}

// TestFrequencyChoiceSpeaksChinese proves that the frequency choice on the
// form and the preferences page, and every answer to the preferences
// page's forms, are in the reader's language, whatever language the
// browser asks for.
func TestFrequencyChoiceSpeaksChinese(t *testing.T) {
	h := newHarness(t, options{Languages: []string{"en", "zh-Hans"}, Frequencies: dailyAndWeekly})
	wantContains(t, "the Chinese form", h.get("/?lang=zh-Hans").body,
		`<label for="frequency">发送频率</label>`, `<option value="daily">Every day</option>`)
	_, rejected, err := h.subs.ImportConfirmed(context.Background(),
		[]subscription.ImportRow{{Email: "li@example.org", Frequency: "weekly", Lang: "zh-Hans"}}, "test")
	if err != nil || len(rejected) > 0 {
		t.Fatal(err, rejected)
	}
	sub, _ := h.subscriber("li@example.org")
	link := "/unsubscribe/" + h.subs.UnsubscribeToken(sub.ID)
	wantContains(t, "the Chinese preferences page", h.getIn(link, "en").body, `<html lang="zh-Hans">`,
		"退订后，Research Alerts 将不再向 li@example.org 发送邮件通知。",
		"<h2>或者选择发送频率</h2>", `<label for="frequency">发送频率</label>`,
		`<option value="weekly" selected>Every week</option>`, `<button type="submit" class="secondary">保存频率</button>`)

	post := func(form url.Values) response {
		req := h.request(http.MethodPost, link, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		req.Header.Set("Accept-Language", "en")
		return h.do(req)
	}
	r := post(url.Values{"preferences": {"frequency"}, "frequency": {"hourly"}})
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown frequency: %d, want 400", r.StatusCode)
	}
	wantContains(t, "the refusal", r.body, `<html lang="zh-Hans">`, "<h1>未知的发送频率</h1>")
	r = post(url.Values{"preferences": {"frequency"}, "frequency": {"daily"}})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("change of frequency: %d\n%s", r.StatusCode, r.body)
	}
	wantContains(t, "the saved page", r.body, `<html lang="zh-Hans">`, "<h1>您的设置已保存</h1>",
		"今后的邮件将按您选择的频率发送。您不会漏掉任何报告，也不会重复收到同一篇报告。")
	wantContains(t, "the unsubscribed page", post(url.Values{}).body, `<html lang="zh-Hans">`, "<h1>您已退订</h1>")
}

// TestChineseReaderOfAFrequencyGetsEveryMailInChinese follows a reader who
// signs up through the JSON API with both a language and a frequency: the
// API keeps both, the confirmation, welcome and digest come in Chinese,
// the digest links to its archived page and to the preferences page, and
// after a switch of frequency the catch-up mail is in Chinese too, with
// the preferences link and no archive link (it has no page of its own).
func TestChineseReaderOfAFrequencyGetsEveryMailInChinese(t *testing.T) {
	h := newHarness(t, options{Languages: []string{"en", "zh-Hans"}, Frequencies: dailyAndWeekly, AdminToken: adminToken})
	relay, drain := h.drainer()
	start := h.clock.Now()
	if r := h.postJSON("/subscribe", `{"email": "li@example.org", "lang": "zh-Hans", "frequency": "weekly"}`); r.StatusCode != http.StatusAccepted {
		t.Fatalf("JSON subscribe: %d\n%s", r.StatusCode, r.body)
	}
	var sub map[string]any
	if err := json.Unmarshal([]byte(h.admin(http.MethodGet, "/api/v1/subscribers/li@example.org").body), &sub); err != nil ||
		sub["lang"] != "zh-Hans" || sub["frequency"] != "weekly" {
		t.Fatalf("API: %v %v, want lang zh-Hans and frequency weekly", sub, err)
	}
	drain()
	confirmation := relay.Messages()[0].Parse(t)
	if confirmation.Subject != "请确认订阅 Research Alerts" {
		t.Errorf("the confirmation's subject: %q", confirmation.Subject)
	}
	if r := h.postForm(confirmPath.FindString(confirmation.Text), url.Values{}); r.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %d\n%s", r.StatusCode, r.body)
	}
	h.reader("d@example.org", "daily")
	h.publish("Alpha-report", start.Add(-time.Hour))
	h.compileAt("weekly", start, 1) // digest 1, to li
	h.compileAt("daily", start, 1)  // digest 2
	h.publish("Bravo-report", start.Add(time.Hour))
	h.compileAt("daily", start.Add(24*time.Hour), 1) // digest 3: Bravo, which li has not had
	drain()
	li, _ := h.subscriber("li@example.org")
	link := "/unsubscribe/" + h.subs.UnsubscribeToken(li.ID)
	h.clock.Set(start.Add(25 * time.Hour))
	if r := h.postForm(link, url.Values{"preferences": {"frequency"}, "frequency": {"daily"}}); r.StatusCode != http.StatusOK {
		t.Fatalf("switch: %d", r.StatusCode)
	}
	drain()

	var got []string
	for _, m := range relay.Messages() {
		if m.To[0] != "li@example.org" {
			continue
		}
		p := m.Parse(t)
		got = append(got, p.Subject)
		for part, body := range map[string]string{"text": p.Text, "HTML": p.HTML} {
			if strings.Contains(body, "Alpha-report") || strings.Contains(body, "Bravo-report") {
				wantContains(t, "the digest's "+part, body, "您好！", "自上一封邮件以来，我们发布了以下报告：", h.url+link)
				if strings.Contains(body, "Alpha-report") {
					wantContains(t, "the digest's "+part, body, h.url+"/digests/1", "在浏览器中查看")
				} else if strings.Contains(body, "/digests/") || strings.Contains(body, "在浏览器中查看") {
					t.Errorf("the catch-up's %s links to an archive page:\n%s", part, body)
				}
			}
			if part == "HTML" && !strings.Contains(body, `<html lang="zh-Hans">`) {
				t.Errorf("mail %q is not marked Chinese", p.Subject)
			}
		}
	}
	// confirmation, welcome, the weekly digest and the catch-up.
	if len(got) != 4 || got[1] != "您已成功订阅 Research Alerts" {
		t.Errorf("li got %q, want the confirmation, the welcome and two digests", got)
	}
}
