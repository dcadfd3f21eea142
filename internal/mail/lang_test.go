package mail_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
	alertmail "github.com/alertd/alertd/internal/mail"
)

// TestWrapBreaksChineseBetweenCharacters proves that the text part's lines
// stay within their width as a fixed-width font shows them, two columns
// for a Chinese character, breaking between characters but never before
// closing punctuation, and never inside a character.
func TestWrapBreaksChineseBetweenCharacters(t *testing.T) {
	tests := []struct {
		name, in string
		width    int
		want     string
	}{
		{"English at spaces", "one two three four", 9, "one two\nthree\nfour"},
		{"Chinese by display width", "一二三四五六七八九十", 10, "一二三四五\n六七八九十"},
		{"no line starts with a comma", "一二三四，五六七八", 8, "一二三\n四，五六\n七八"},
		{"an opening bracket stays with what follows", "一二三（四五）", 8, "一二三\n（四五）"},
		{"Latin inside Chinese stays whole", "请打开name@example.org链接", 12, "请打开\nname@example.org\n链接"},
		{"mixed with spaces", "链接有效期为 72 小时，到 2026年1月2日 为止。", 20, "链接有效期为 72 小\n时，到 2026年1月2日\n为止。"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := alertmail.Wrap(tt.width, "", tt.in)
			if got != tt.want {
				t.Errorf("Wrap(%d, %q) =\n%s\nwant\n%s", tt.width, tt.in, got, tt.want)
			}
			if strings.ReplaceAll(strings.ReplaceAll(got, "\n", ""), " ", "") != strings.ReplaceAll(tt.in, " ", "") {
				t.Errorf("wrapping lost or changed characters: %q", got)
			}
		})
	}
}

// mailsIn composes every mail in the language of a composer that offers
// English and Chinese, the operators' mails in the first.
func mailsIn(t *testing.T, c *alertmail.Composer, lang string) map[string]alertmail.Message {
	t.Helper()
	reports := []alertd.Report{
		{URL: "https://reports.example.org/r/1", Title: "中国城市化的新阶段", PublishedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
			Abstract: strings.Repeat("本报告分析了城市化进程中的人口流动、土地制度和公共服务，并提出了政策建议。", 4)},
		{URL: "https://reports.example.org/r/2", Title: "Trade Outlook", PublishedAt: time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)},
	}
	must := func(m alertmail.Message, err error) alertmail.Message {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	prepared, err := c.PrepareDigest(alertmail.Digest{Reports: reports, More: 1, ID: 42, Lang: lang})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]alertmail.Message{
		"confirmation": must(c.Confirmation(alertmail.Confirmation{To: "reader@example.com", ConfirmURL: "https://reports.example.org/confirm/tok",
			ExpiresAt: now.Add(72 * time.Hour), Lang: lang}, now)),
		"welcome": must(c.Welcome(alertmail.Welcome{To: "reader@example.com", UnsubscribeURL: "https://reports.example.org/unsubscribe/u1",
			Reports: reports, Lang: lang}, now)),
		"digest":        must(prepared.Message("reader@example.com", "https://reports.example.org/unsubscribe/u1", now)),
		"admin_sign_in": must(c.AdminSignIn(alertmail.AdminSignIn{To: "reader@example.com", SignInURL: "https://reports.example.org/admin/login/tok", ExpiresAt: now.Add(time.Hour)}, now)),
		"admin_test":    must(c.AdminTest("reader@example.com", now)),
	}
}

// TestEveryMailInEachLanguage sends each mail in each language through a
// real SMTP server and reads it back as MIME: the subject decodes to the
// language's words (RFC 2047 encoded UTF-8 when it is not ASCII), the
// message and its HTML say their language, dates are written as the
// language writes them, and the text part's Chinese lines fit.
func TestEveryMailInEachLanguage(t *testing.T) {
	s := testSettings()
	const service = "Research Centre Reports"
	for _, tc := range []struct {
		languages []string
		lang      string // the subscriber mails'
		adminLang string
		subjects  map[string]string
		says      map[string][]string
	}{
		{
			languages: []string{"en", "zh-Hans"}, lang: "en", adminLang: "en",
			subjects: map[string]string{
				"confirmation": "Please confirm your subscription to " + service, "welcome": "Your subscription to " + service + " is active",
				"digest": "New reports: 3 publications", "admin_sign_in": "Sign in to the " + service + " dashboard", "admin_test": "Test e-mail from " + service,
			},
			says: map[string][]string{
				"confirmation":  {"The link works for 3 days, until 5 March 2026, 09:30 UTC.", "https://reports.example.org/confirm/tok?lang=en"},
				"digest":        {"30 November 2026", "…and 1 more:", "https://reports.example.org/digests/42?lang=en", "https://reports.example.org/reports?lang=en"},
				"admin_sign_in": {"The link works once, for 60 minutes"},
			},
		},
		{
			languages: []string{"zh-Hans", "en"}, lang: "zh-Hans", adminLang: "zh-Hans",
			subjects: map[string]string{
				"confirmation": "请确认订阅 " + service, "welcome": "您已成功订阅 " + service,
				"digest": "新报告 3 篇", "admin_sign_in": "登录 " + service + " 管理后台", "admin_test": service + " 测试邮件",
			},
			says: map[string][]string{
				"confirmation":  {"链接有效期为 3 天，到 2026年3月5日 09:30 UTC 为止。", "https://reports.example.org/confirm/tok?lang=zh-Hans"},
				"digest":        {"2026年11月30日", "……另有 1 篇：", "https://reports.example.org/digests/42?lang=zh-Hans", "https://reports.example.org/reports?lang=zh-Hans"},
				"admin_sign_in": {"此链接只能使用一次，有效期为 60 分钟"},
			},
		},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			s.Languages = tc.languages
			for name, m := range mailsIn(t, newComposer(t, s), tc.lang) {
				t.Run(name, func(t *testing.T) {
					got := deliver(t, m)
					p := got.Parse(t)
					lang := tc.lang
					if strings.HasPrefix(name, "admin") {
						lang = tc.adminLang
					}
					if p.Subject != tc.subjects[name] {
						t.Errorf("decoded Subject = %q, want %q", p.Subject, tc.subjects[name])
					}
					if raw := p.Header.Get("Subject"); lang == "zh-Hans" && !strings.HasPrefix(raw, "=?UTF-8?") {
						t.Errorf("raw Subject %q is not RFC 2047 encoded UTF-8", raw)
					}
					if cl := p.Header.Get("Content-Language"); cl != lang {
						t.Errorf("Content-Language = %q, want %s", cl, lang)
					}
					if !strings.Contains(p.HTML, fmt.Sprintf(`<html lang="%s">`, lang)) || !strings.Contains(p.HTML, `<meta charset="utf-8">`) {
						t.Errorf("the HTML part does not declare lang %s and its charset:\n%s", lang, p.HTML)
					}
					for _, want := range tc.says[name] {
						if !strings.Contains(p.Text, want) || !strings.Contains(p.HTML, strings.ReplaceAll(want, "…", "…")) {
							t.Errorf("the mail does not say %q:\n%s\n%s", want, p.Text, p.HTML)
						}
					}
					if (name == "welcome" || name == "digest") && !strings.Contains(p.HTML, `href="https://reports.example.org/unsubscribe/u1"`) {
						t.Errorf("no link to the preferences page:\n%s", p.HTML)
					}
					for i, line := range strings.Split(p.Text, "\n") {
						if !utf8.ValidString(line) {
							t.Errorf("text line %d is not valid UTF-8: %q", i+1, line)
						}
						if alertmail.Columns(line) > 72 && !strings.Contains(line, "https://") && !strings.Contains(line, "@") {
							t.Errorf("text line %d takes %d columns: %q", i+1, alertmail.Columns(line), line)
						}
						if strings.HasPrefix(strings.TrimSpace(line), "，") || strings.HasPrefix(strings.TrimSpace(line), "。") {
							t.Errorf("text line %d starts with punctuation: %q", i+1, line)
						}
					}
				})
			}
		})
	}
}

// TestDigestLinksToItsPublicPage proves that each digest mail carries a
// "View in browser" link to {base_url}/digests/{id}, in both parts, and a
// preview, which is no digest yet, none.
func TestDigestLinksToItsPublicPage(t *testing.T) {
	c := newComposer(t, testSettings())
	reports := []alertd.Report{{URL: "https://reports.example.org/r/1", Title: "Report", PublishedAt: now}}
	m, err := c.Digest(alertmail.Digest{To: "reader@example.com", UnsubscribeURL: "https://reports.example.org/unsubscribe/u1", Reports: reports, ID: 42}, now)
	if err != nil {
		t.Fatal(err)
	}
	p := deliver(t, m).Parse(t)
	if !strings.Contains(p.HTML, `<a href="https://reports.example.org/digests/42" style="color:#1d4ed8;">View in browser</a>`) {
		t.Errorf("the HTML part has no View in browser link:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, "View in browser:\nhttps://reports.example.org/digests/42\n") {
		t.Errorf("the text part has no View in browser link:\n%s", p.Text)
	}
	_, text, html, err := c.PreviewDigest(alertmail.Digest{To: "reader@example.com", UnsubscribeURL: "https://x.example/u", Reports: reports})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text+html, "/digests/") {
		t.Errorf("a preview links to a digest page:\n%s", text)
	}
}
