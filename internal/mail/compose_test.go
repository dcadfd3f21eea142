package mail_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
	alertmail "github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// deliverWellFormed sends m, composed with err, through a real SMTP server,
// checks it is well formed for to and returns it parsed.
func deliverWellFormed(t *testing.T, m alertmail.Message, err error, to string) mailtest.Parsed {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	got := deliver(t, m)
	p := got.Parse(t)
	assertWellFormed(t, got, p, to)
	return p
}

// assertWellFormed checks what every message must be: lines within RFC
// 5322's 998 octets, From, To, Date and Message-ID in our domain, MIME 1.0
// multipart/alternative with a UTF-8 quoted-printable text part then HTML
// part, the HTML with a lang attribute and no script.
func assertWellFormed(t *testing.T, got mailtest.Message, p mailtest.Parsed, to string) {
	t.Helper()
	for i, line := range bytes.Split(got.Data, []byte("\r\n")) {
		if len(line) > 998 {
			t.Errorf("line %d is %d octets long, RFC 5322 allows 998", i+1, len(line))
		}
	}
	from, err := mail.ParseAddress(p.Header.Get("From"))
	if err != nil || from.Address != "alerts@reports.example.org" || from.Name != "Report Alerts" {
		t.Errorf("From = %q (%v), want Report Alerts <alerts@reports.example.org>", p.Header.Get("From"), err)
	}
	if rcpt, err := mail.ParseAddress(p.Header.Get("To")); err != nil || rcpt.Address != to {
		t.Errorf("To = %q (%v), want %s", p.Header.Get("To"), err, to)
	}
	if !slices.Equal(got.To, []string{to}) {
		t.Errorf("RCPT TO = %v, want [%s]", got.To, to)
	}
	if date, err := p.Header.Date(); err != nil || !date.Equal(now) {
		t.Errorf("Date = %q (%v), want %v", p.Header.Get("Date"), err, now)
	}
	if id := p.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@reports.example.org>") {
		t.Errorf("Message-ID = %q, want <...@reports.example.org>", id)
	}
	if v := p.Header.Get("MIME-Version"); v != "1.0" {
		t.Errorf("MIME-Version = %q, want 1.0", v)
	}
	if ct := p.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative;") {
		t.Errorf("Content-Type = %q, want multipart/alternative", ct)
	}
	if !slices.Equal(p.PartTypes, []string{"text/plain", "text/html"}) {
		t.Errorf("parts = %v, want text/plain then text/html", p.PartTypes)
	}
	if n := bytes.Count(got.Data, []byte("charset=UTF-8")); n != 2 {
		t.Errorf("charset=UTF-8 appears %d times, want once per part", n)
	}
	if n := bytes.Count(got.Data, []byte("Content-Transfer-Encoding: quoted-printable")); n != 2 {
		t.Errorf("quoted-printable appears %d times, want once per part", n)
	}
	if !strings.Contains(p.HTML, `<html lang="en">`) || strings.Contains(strings.ToLower(p.HTML), "<script") {
		t.Errorf("HTML part needs a lang attribute and no script:\n%s", p.HTML)
	}
}

// TestConfirmationSaysHowLongTheLinkWorksInWordsThatAgree proves that
// the expiry reads "1 minute" but "2 hours", in both parts.
func TestConfirmationSaysHowLongTheLinkWorksInWordsThatAgree(t *testing.T) {
	c := newComposer(t, testSettings())
	for ttl, want := range map[time.Duration]string{
		time.Minute: "works for 1 minute,", 90 * time.Minute: "works for 90 minutes,",
		2 * time.Hour: "works for 2 hours,", 24 * time.Hour: "works for 24 hours,", 48 * time.Hour: "works for 2 days,",
	} {
		m, err := c.Confirmation(alertmail.Confirmation{
			To: "reader@example.com", ConfirmURL: "https://reports.example.org/confirm/tok", ExpiresAt: now.Add(ttl),
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		p := mailtest.Message{Data: m.Data}.Parse(t)
		for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
			if !strings.Contains(body, want) {
				t.Errorf("%v: the %s part does not say %q:\n%s", ttl, part, want, body)
			}
		}
	}
}

func TestConfirmationHoldsExactlyOneLinkAndNoListHeaders(t *testing.T) {
	c := newComposer(t, testSettings())
	const confirmURL = "https://reports.example.org/confirm/AbC123.xyz"
	m, err := c.Confirmation(alertmail.Confirmation{
		To: "Reader@Example.com", ConfirmURL: confirmURL, ExpiresAt: now.Add(72 * time.Hour),
	}, now)
	p := deliverWellFormed(t, m, err, "Reader@Example.com")

	if p.Subject != "Please confirm your subscription to Research Centre Reports" {
		t.Errorf("Subject = %q", p.Subject)
	}
	for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		if links := urls(body); len(links) != 1 || links[0] != confirmURL {
			t.Errorf("%s part links = %v, want exactly [%s]", part, links, confirmURL)
		}
		for _, want := range []string{"Research Centre Reports", "Reader@Example.com", "3 days", "5 March 2026", "ignore this message"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s part does not say %q:\n%s", part, want, body)
			}
		}
	}
	if n := strings.Count(p.HTML, "<a "); n != 1 {
		t.Errorf("HTML part has %d anchors, want 1", n)
	}
	for _, h := range []string{"List-Unsubscribe", "List-Unsubscribe-Post", "Precedence"} {
		if v := p.Header.Get(h); v != "" {
			t.Errorf("transactional mail has %s: %q", h, v)
		}
	}
	if v := p.Header.Get("Auto-Submitted"); v != "auto-generated" {
		t.Errorf("Auto-Submitted = %q, want auto-generated", v)
	}
}

func TestSubjectWithNonASCIIIsEncodedPerRFC2047(t *testing.T) {
	s := testSettings()
	s.ServiceName = "Zentrum für Europäische Wirtschaftsforschung – Berichte und Analysen"
	m := confirmation(t, newComposer(t, s), "reader@example.com")
	got := deliver(t, m)
	p := got.Parse(t)

	if want := "Please confirm your subscription to " + s.ServiceName; p.Subject != want {
		t.Errorf("decoded Subject = %q, want %q", p.Subject, want)
	}
	raw := p.Header.Get("Subject")
	if !strings.Contains(raw, "=?UTF-8?q?") {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
	}
	headers, _, _ := bytes.Cut(got.Data, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(headers), "\r\n") {
		if len(line) > 998 {
			t.Errorf("header line of %d octets", len(line))
		}
		for _, r := range line {
			if r > 127 {
				t.Fatalf("raw header line holds non-ASCII: %q", line)
			}
		}
	}
}

func hostileReports() []alertd.Report {
	long := strings.Repeat("Productivity growth in the euro area slowed markedly. ", 20)
	return []alertd.Report{
		{
			Title:       `<script>alert("title")</script> Trade & "Tariffs"`,
			URL:         "https://reports.example.org/r/26",
			PublishedAt: time.Date(2026, 2, 27, 0, 0, 0, 0, time.UTC),
			Series:      "Research Report",
			Number:      "No. 26, 2026",
			Authors:     []string{"Ana Müller", "Bo\nChen"},
			Abstract:    "<p>First <b>bold</b> paragraph &amp; more.</p><script>evil()</script><p>" + long + "</p>",
		},
		{
			Title:       "A report with a bad link",
			URL:         "javascript:alert(1)",
			PublishedAt: time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC),
		},
	}
}

func TestWelcomeListsReportsEscapedWithUnsubscribeLinkAndListHeaders(t *testing.T) {
	c := newComposer(t, testSettings())
	const unsubscribeURL = "https://reports.example.org/unsubscribe/tok.sig"
	m, err := c.Welcome(alertmail.Welcome{
		To: "reader@example.com", UnsubscribeURL: unsubscribeURL, Reports: hostileReports(),
	}, now)
	p := deliverWellFormed(t, m, err, "reader@example.com")

	if p.Subject != "Your subscription to Research Centre Reports is active" {
		t.Errorf("Subject = %q", p.Subject)
	}
	headers := map[string]string{
		"List-Unsubscribe":      "<" + unsubscribeURL + ">, <mailto:unsubscribe@reports.example.org>",
		"List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
		"List-Id":               "Report alerts <alerts.reports.example.org>",
		"Precedence":            "bulk",
		"Auto-Submitted":        "auto-generated",
	}
	for h, want := range headers {
		if v := p.Header.Get(h); v != want {
			t.Errorf("%s = %q, want %q", h, v, want)
		}
	}

	for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		if !slices.Contains(urls(body), unsubscribeURL) {
			t.Errorf("%s part has no visible unsubscribe link", part)
		}
		if !slices.Contains(urls(body), "https://reports.example.org/r/26") {
			t.Errorf("%s part does not link the report", part)
		}
		for _, want := range []string{"27 February 2026", "Research Report", "No. 26, 2026", "Ana Müller, Bo Chen", "First bold paragraph & more.", "A report with a bad link"} {
			if !strings.Contains(strings.ReplaceAll(body, "&amp;", "&"), want) {
				t.Errorf("%s part does not show %q", part, want)
			}
		}
		for _, bad := range []string{"javascript:", "evil()", "<b>", "<p>First"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s part contains %q from the hostile report", part, bad)
			}
		}
	}
	if !strings.Contains(p.HTML, "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; Trade &amp; &#34;Tariffs&#34;") {
		t.Errorf("HTML part does not escape the report title:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, `<script>alert("title")</script> Trade & "Tariffs"`) {
		t.Errorf("text part should show the title as plain text:\n%s", p.Text)
	}

	abstract := textAbstract(t, p.Text)
	if n := utf8.RuneCountInString(abstract); n > 301 || n < 200 {
		t.Errorf("plain abstract is %d characters, want about 300:\n%s", n, abstract)
	}
	if !strings.HasSuffix(abstract, "…") || strings.HasSuffix(abstract, " …") {
		t.Errorf("plain abstract should end on a whole word and an ellipsis: %q", abstract)
	}
}

// textAbstract returns the first report's abstract as shown in the text
// part: the indented lines after the first blank line of the report.
func textAbstract(t *testing.T, text string) string {
	t.Helper()
	_, after, ok := strings.Cut(text, "First bold")
	if !ok {
		t.Fatalf("no abstract in:\n%s", text)
	}
	block, _, _ := strings.Cut("First bold"+after, "\n\n")
	return strings.Join(strings.Fields(block), " ")
}

func TestDigestListsReportsAndLinksTheRest(t *testing.T) {
	c := newComposer(t, testSettings())
	m, err := c.Digest(alertmail.Digest{
		To: "reader@example.com", UnsubscribeURL: "https://reports.example.org/unsubscribe/t",
		Subject: "New reports: 5 publications", Reports: hostileReports(), More: 3,
	}, now)
	p := deliverWellFormed(t, m, err, "reader@example.com")

	if p.Subject != "New reports: 5 publications" {
		t.Errorf("Subject = %q", p.Subject)
	}
	if p.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
		t.Errorf("digest lacks List-Unsubscribe-Post")
	}
	for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
		if !strings.Contains(body, "and 3 more") || !slices.Contains(urls(body), "https://reports.example.org/reports") {
			t.Errorf("%s part does not link the 3 further reports to the catalogue:\n%s", part, body)
		}
	}
}

func TestComposeRejectsAnUnparsableAddressAsBadAddress(t *testing.T) {
	c := newComposer(t, testSettings())
	_, err := c.Welcome(alertmail.Welcome{To: "not an address", UnsubscribeURL: "https://x.example/u"}, now)
	if !errors.Is(err, alertmail.ErrBadAddress) || alertmail.Classify(err) != alertmail.BadAddress {
		t.Fatalf("err = %v, want ErrBadAddress classified as BadAddress", err)
	}
}

// overlay serves files from over first, then from base, as a templates.dir
// does over the embedded templates.
type overlay struct{ over, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	if f, err := o.over.Open(name); err == nil {
		return f, nil
	}
	return o.base.Open(name)
}

func TestTemplateOverriddenByFileNameIsUsed(t *testing.T) {
	templates := overlay{
		over: fstest.MapFS{"mail/welcome.html": {Data: []byte(
			`<!DOCTYPE html><html lang="de"><body><p>Willkommen bei {{.ServiceName}}.</p>` +
				`{{template "reports" .}}<a href="{{.UnsubscribeURL}}">Abmelden</a></body></html>`)}},
		base: alertd.Templates(),
	}
	c, err := alertmail.NewComposer(testSettings(), templates)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Welcome(alertmail.Welcome{To: "r@example.com", UnsubscribeURL: "https://x.example/u", Reports: hostileReports()}, now)
	if err != nil {
		t.Fatal(err)
	}
	p := deliver(t, m).Parse(t)
	if !strings.Contains(p.HTML, "Willkommen bei Research Centre Reports.") || !strings.Contains(p.HTML, "Research Report") {
		t.Errorf("override not used:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, "your subscription is active") {
		t.Errorf("the text part should still come from the embedded welcome.txt:\n%s", p.Text)
	}
}

func TestNewComposerNamesTheBrokenTemplate(t *testing.T) {
	tests := []struct {
		name, file, src string
	}{
		{"syntax error", "mail/confirmation.txt", "{{if}}"},
		{"unknown field", "mail/welcome.html", "{{.NoSuchField}}"},
		{"unknown function", "mail/reports.txt", `{{define "reports"}}{{shout .}}{{end}}`},
		{"missing subject", "mail/welcome.txt", "only a body"},
		{"unknown message id", "mail/digest.html", `{{define "content"}}{{.T "digest_intor"}}{{end}}{{template "layout" .}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			templates := overlay{over: fstest.MapFS{tt.file: {Data: []byte(tt.src)}}, base: alertd.Templates()}
			_, err := alertmail.NewComposer(testSettings(), templates)
			if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(tt.file, "mail/")) {
				t.Fatalf("err = %v, want it to name %s", err, tt.file)
			}
		})
	}
}

func TestNewComposerRejectsABadFromAddress(t *testing.T) {
	s := testSettings()
	s.From = "alerts at example"
	if _, err := alertmail.NewComposer(s, alertd.Templates()); err == nil || !strings.Contains(err.Error(), "mail.from") {
		t.Fatalf("err = %v, want one naming mail.from", err)
	}
}

func TestMessageIDsAreUnique(t *testing.T) {
	c := newComposer(t, testSettings())
	seen := make(map[string]bool)
	for range 50 {
		id := mailtest.Message{Data: confirmation(t, c, "r@example.com").Data}.Parse(t).Header.Get("Message-Id")
		if seen[id] {
			t.Fatalf("Message-ID %s repeated", id)
		}
		seen[id] = true
	}
}

// TestDatesAreWrittenInTheReadersZone proves that a digest lists a report
// published at 01:04 +02:00 on 22 December under that day in a zone two
// hours ahead of UTC and under the 21st in UTC, and that a link's expiry is
// given in the same zone.
func TestDatesAreWrittenInTheReadersZone(t *testing.T) {
	helsinki, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2026, 12, 22, 1, 4, 0, 0, time.FixedZone("", 2*60*60))
	report := alertd.Report{Title: "Late Night Report", URL: "https://reports.example.org/r/1", PublishedAt: published}
	for _, tc := range []struct {
		loc              *time.Location
		day, otherDay    string
		until, otherZone string
	}{
		{helsinki, "22 December 2026", "21 December 2026", "22 December 2026, 01:04 EET", "23:04 UTC"},
		{nil, "21 December 2026", "22 December 2026", "21 December 2026, 23:04 UTC", "EET"},
	} {
		s := testSettings()
		s.Location = tc.loc
		c := newComposer(t, s)
		m, err := c.Digest(alertmail.Digest{
			To: "reader@example.com", UnsubscribeURL: "https://reports.example.org/unsubscribe/t",
			Subject: "New reports: 1 publication", Reports: []alertd.Report{report},
		}, now)
		p := deliverWellFormed(t, m, err, "reader@example.com")
		for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
			if !strings.Contains(body, tc.day) || strings.Contains(body, tc.otherDay) {
				t.Errorf("in %v the digest's %s part does not list the report under %s:\n%s", tc.loc, part, tc.day, body)
			}
		}
		m, err = c.Confirmation(alertmail.Confirmation{
			To: "reader@example.com", ConfirmURL: "https://reports.example.org/confirm/tok", ExpiresAt: published,
		}, published.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		p = mailtest.Message{Data: m.Data}.Parse(t)
		for part, body := range map[string]string{"text": p.Text, "html": p.HTML} {
			if !strings.Contains(body, tc.until) || strings.Contains(body, tc.otherZone) {
				t.Errorf("in %v the confirmation's %s part does not say the link works until %s:\n%s", tc.loc, part, tc.until, body)
			}
		}
	}
}
