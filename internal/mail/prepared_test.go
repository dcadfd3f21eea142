package mail_test

import (
	"bytes"
	"errors"
	"fmt"
	"mime"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// TestPreparedDigestMatchesAFreshRendering proves that filling a digest
// rendered once gives every recipient exactly what rendering it for them
// would: the same decoded parts and headers, and the same bytes from go-mail
// but for what go-mail makes random (Date, Message-ID, the MIME boundary,
// the order of some headers). It covers addresses and links that are
// spliced into the prepared message and those that go-mail has to quote,
// encode or fold, with templates that put them where quoted-printable
// breaks lines.
func TestPreparedDigestMatchesAFreshRendering(t *testing.T) {
	recipients := []string{
		"reader@example.com",
		"o'brien&sons@example.com",
		"a=b=c@example.com",
		strings.Repeat("r", 66-len("@example.com")) + "@example.com", // the longest To that go-mail does not fold
		strings.Repeat("r", 67-len("@example.com")) + "@example.com",
		strings.Repeat("l", 64) + "@example.com",
		`"john doe"@example.com`,
		"jöhn@exämple.com",
		"Reader <reader@example.com>",
		"not an address",
	}
	links := []struct{ name, url string }{
		{"short link", "https://reports.example.org/unsubscribe/42.Ab-_c"},
		{"long link", "https://reports.example.org/unsubscribe/" + strings.Repeat("Ab9-_", 24) + "?sig=a%2Fb%3D=="},
		{"link with = and %", "https://reports.example.org/u?id=42&sig=a=b%20c"},
	}
	longDomain := testSettings()
	longDomain.From = "Report Alerts <alerts@" + strings.Repeat("sub.", 10) + "reports.example.org>" // go-mail folds the Message-ID
	composers := []struct {
		name      string
		settings  mail.Settings
		templates fstest.MapFS // over the embedded ones
	}{
		{"embedded templates", testSettings(), nil},
		{"hostile templates", testSettings(), hostileDigestTemplates()},
		{"long From domain", longDomain, nil},
	}
	for _, composer := range composers {
		c, err := mail.NewComposer(composer.settings, alertd.Overlay(composer.templates, alertd.Templates()))
		if err != nil {
			t.Fatal(err)
		}
		d := mail.Digest{Subject: "New reports: 5 publications", Reports: hostileReports(), More: 3}
		prepared, err := c.PrepareDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, to := range recipients {
			for _, link := range links {
				t.Run(composer.name+"/"+to+"/"+link.name, func(t *testing.T) {
					fresh := d
					fresh.To, fresh.UnsubscribeURL = to, link.url
					want, wantErr := c.Digest(fresh, now)
					got, err := prepared.Message(to, link.url, now)
					if wantErr != nil || err != nil {
						if !errors.Is(wantErr, mail.ErrBadAddress) || !errors.Is(err, mail.ErrBadAddress) {
							t.Fatalf("err = %v, want ErrBadAddress as a fresh rendering gives (%v)", err, wantErr)
						}
						return
					}
					assertSameCopy(t, got, want)
				})
			}
		}
	}
}

// assertSameCopy compares a prepared copy with a fresh rendering.
func assertSameCopy(t *testing.T, got, want mail.Message) {
	t.Helper()
	if got.From != want.From || got.To != want.To {
		t.Errorf("envelope = %s → %s, want %s → %s", got.From, got.To, want.From, want.To)
	}
	assertWellFormedLines(t, got.Data)
	g, w := mailtest.Message{Data: got.Data}.Parse(t), mailtest.Message{Data: want.Data}.Parse(t)
	if g.Subject != w.Subject {
		t.Errorf("Subject = %q, want %q", g.Subject, w.Subject)
	}
	if g.Text != w.Text {
		t.Errorf("text part differs:\n%s\nwant:\n%s", g.Text, w.Text)
	}
	if g.HTML != w.HTML {
		t.Errorf("HTML part differs:\n%s\nwant:\n%s", g.HTML, w.HTML)
	}
	for _, h := range []string{"To", "From", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post", "List-Id", "Precedence", "Auto-Submitted", "MIME-Version"} {
		if g.Header.Get(h) != w.Header.Get(h) {
			t.Errorf("%s = %q, want %q", h, g.Header.Get(h), w.Header.Get(h))
		}
	}
	if date, err := g.Header.Date(); err != nil || !date.Equal(now) {
		t.Errorf("Date = %q (%v), want %v", g.Header.Get("Date"), err, now)
	}
	if id, wantID := g.Header.Get("Message-ID"), w.Header.Get("Message-ID"); messageIDDomain(id) == "" || messageIDDomain(id) != messageIDDomain(wantID) || id == wantID {
		t.Errorf("Message-ID = %q, want one of its own like %q", id, wantID)
	}
	if gc, wc := canonical(got.Data, g), canonical(want.Data, w); gc != wc {
		t.Errorf("go-mail writes the copy differently:\n%s\nwant:\n%s", gc, wc)
	}
}

func TestPreparedDigestCopiesHaveTheirOwnMessageID(t *testing.T) {
	c := newComposer(t, testSettings())
	prepared, err := c.PrepareDigest(mail.Digest{Reports: hostileReports()})
	if err != nil {
		t.Fatal(err)
	}
	ids := make(map[string]bool)
	for range 3 {
		m, err := prepared.Message("reader@example.com", "https://reports.example.org/unsubscribe/42", now)
		if err != nil {
			t.Fatal(err)
		}
		id := mailtest.Message{Data: m.Data}.Parse(t).Header.Get("Message-ID")
		if messageIDDomain(id) != "reports.example.org" || ids[id] {
			t.Fatalf("Message-ID %q is malformed or repeated", id)
		}
		ids[id] = true
	}
}

// TestPreparedDigestCopyIsSpliced proves that an ordinary copy takes the
// fast road: go-mail's writing of a message alone allocates some 200 times.
func TestPreparedDigestCopyIsSpliced(t *testing.T) {
	c := newComposer(t, testSettings())
	prepared, err := c.PrepareDigest(mail.Digest{Reports: hostileReports()})
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := prepared.Message("reader@example.com", "https://reports.example.org/unsubscribe/42", now); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 20 {
		t.Errorf("a copy allocates %v times, want at most 20", allocs)
	}
}

// hostileDigestTemplates put the stand-ins where quoted-printable has the
// most to do: around the 76th column, among "=" signs, before trailing
// white space, beside non-ASCII text, on lines that SMTP or mbox treat
// specially, twice on one line, and on an HTML last line without a line
// break.
func hostileDigestTemplates() fstest.MapFS {
	var text, html strings.Builder
	text.WriteString("{{define \"subject\"}}Hostile digest{{end}}\n")
	for column := 60; column <= 80; column++ {
		fmt.Fprintf(&text, "%s{{.To}} at column %d, then enough text to break the line again\n", strings.Repeat("x", column), column)
		fmt.Fprintf(&text, "%s{{.UnsubscribeURL}}=%d\n", strings.Repeat("=", column/3), column)
		fmt.Fprintf(&html, "<p>%s<a href=\"{{.UnsubscribeURL}}\">{{.To}}</a> \t</p>\n", strings.Repeat("é", column/2))
	}
	text.WriteString("trailing spaces after {{.To}}   \n" +
		".\n. {{.To}}\n.{{.UnsubscribeURL}}\nFrom {{.To}}\nFrom the start of a line\n" +
		"Grüße, naïve café — {{.UnsubscribeURL}} — ünïcödé\n" +
		"{{.To}}{{.UnsubscribeURL}}{{.To}}\n" +
		"{{template \"reports\" .}}\n\n\n")
	html.WriteString("<table>{{template \"reports\" .}}</table>\n\n" +
		"<p>ends without a line break: {{.To}} ")
	return fstest.MapFS{
		"mail/digest.txt":  {Data: []byte(text.String())},
		"mail/digest.html": {Data: []byte(html.String())},
	}
}

// assertWellFormedLines checks the limits of RFC 5322 and, in the body,
// of quoted-printable (RFC 2045).
func assertWellFormedLines(t *testing.T, data []byte) {
	t.Helper()
	if !bytes.HasSuffix(data, []byte("\r\n")) {
		t.Error("the message does not end in CRLF")
	}
	header, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for i, line := range bytes.Split(header, []byte("\r\n")) {
		if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
			t.Errorf("header line %d is %d octets long or has a bare CR or LF: %q", i+1, len(line), line)
		}
	}
	for i, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\r\n")), []byte("\r\n")) {
		if len(line) > 76 || bytes.ContainsAny(line, "\r\n") {
			t.Errorf("body line %d is %d octets long or has a bare CR or LF: %q", i+1, len(line), line)
		}
	}
}

// messageIDPattern is the shape of the composer's Message-IDs: rand.Text
// at the domain of From.
var messageIDPattern = regexp.MustCompile(`<[A-Z2-7]{26}@([^@<>\s]+)>`)

// messageIDDomain returns the domain of a Message-ID of the composer's
// shape, else "".
func messageIDDomain(id string) string {
	if m := messageIDPattern.FindStringSubmatch(id); m != nil && m[0] == id {
		return m[1]
	}
	return ""
}

// canonical is a message with go-mail's randomness taken out: its header
// fields, folding kept, in sorted order, the random part of the Message-ID
// and the MIME boundary replaced by fixed text.
func canonical(data []byte, p mailtest.Parsed) string {
	header, body, _ := strings.Cut(string(data), "\r\n\r\n")
	var fields []string
	for line := range strings.SplitSeq(header, "\r\n") {
		if strings.HasPrefix(line, " ") && len(fields) > 0 {
			fields[len(fields)-1] += "\r\n" + line
			continue
		}
		fields = append(fields, line)
	}
	slices.Sort(fields)
	_, params, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
	message := strings.Join(fields, "\r\n") + "\r\n\r\n" + body
	message = messageIDPattern.ReplaceAllString(message, "<RANDOM@$1>")
	return strings.ReplaceAll(message, params["boundary"], "BOUNDARY")
}

// FuzzPreparedDigestReportText proves that report text, which comes from
// feeds that can be tampered with, never changes a prepared copy outside
// itself: whatever bytes a report's fields hold, even the stand-ins an
// earlier alertd used, each recipient's copy is exactly what composing the
// digest for them gives, so their address and link appear only where the
// template puts them and the report text comes out as published. The
// templates list the reports as the embedded ones do, and also put report
// text on the lines that hold the recipient's parts, where the copies are
// cut and encoded.
func FuzzPreparedDigestReportText(f *testing.F) {
	f.Add("Trade & \"Tariffs\"", "https://reports.example.org/r/26", "<p>First <b>bold</b>.</p>", "Ana Müller")
	f.Add("alertd-recipient@recipient.invalid https://unsubscribe.invalid/alertd-unsubscribe-link",
		"https://evil.example/r?u=https://unsubscribe.invalid/alertd-unsubscribe-link&e=alertd-recipient@recipient.invalid",
		"alertd-recipient@recipient.invalid=\r\n.\r\nFrom https://unsubscribe.invalid/alertd-unsubscribe-link",
		"reader@example.com")
	f.Add(strings.Repeat("=", 80)+" \t", "https://reports.example.org/u?id=42&sig=a=b%20c", "\xff\xfe naïve \x00 "+strings.Repeat("é", 40), "")
	sideBySide := fstest.MapFS{
		"mail/digest.txt": {Data: []byte("{{define \"subject\"}}Fuzzed digest{{end}}\n" +
			"{{range .Reports}}{{.Title}}{{$.To}}{{.URL}}{{$.UnsubscribeURL}}{{join .Authors \",\"}}{{$.To}}{{.Abstract}}\n{{end}}" +
			"{{template \"reports\" .}}\n{{.UnsubscribeURL}}\n")},
		"mail/digest.html": {Data: []byte("{{range .Reports}}<p>{{.Title}}{{$.To}}<a href=\"{{.URL}}\">{{$.UnsubscribeURL}}</a>{{.Abstract}}" +
			"<a href=\"{{$.UnsubscribeURL}}\">{{join .Authors \",\"}}</a></p>\n{{end}}" +
			"<table>{{template \"reports\" .}}</table>\n")},
	}
	c, err := mail.NewComposer(testSettings(), alertd.Overlay(sideBySide, alertd.Templates()))
	if err != nil {
		f.Fatal(err)
	}
	const link = "https://reports.example.org/unsubscribe/42.Ab-_c"
	f.Fuzz(func(t *testing.T, title, url, abstract, author string) {
		d := mail.Digest{Subject: "Fuzzed digest", More: 1, Reports: []alertd.Report{{
			Title: title, URL: url, Abstract: abstract, Authors: []string{author},
			Series: title, Number: abstract, PublishedAt: now,
		}}}
		prepared, err := c.PrepareDigest(d)
		if err != nil {
			t.Fatal(err)
		}
		// Spliced into the prepared message, and written by go-mail.
		for _, to := range []string{"reader@example.com", `"john doe"@example.com`} {
			fresh := d
			fresh.To, fresh.UnsubscribeURL = to, link
			want, err := c.Digest(fresh, now)
			if err != nil {
				t.Fatal(err)
			}
			got, err := prepared.Message(to, link, now)
			if err != nil {
				t.Fatal(err)
			}
			assertSameCopy(t, got, want)
		}
	})
}
