// Package mail builds alertd's e-mails from templates and hands them to a
// transport: an SMTP relay, or .eml files in a directory for development.
// It also classifies a relay's replies so the delivery worker knows whether
// to retry, give up, or mark the address as bounced.
package mail

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"mime"
	netmail "net/mail"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/lang"
)

// ErrBadAddress reports a recipient address that cannot be parsed. Classify
// maps it to BadAddress, the same as a relay's 5.1.x reply.
var ErrBadAddress = errors.New("invalid recipient address")

// Settings are the parts of every message that come from configuration.
type Settings struct {
	// ServiceName is how the mails name the service; empty = the display
	// name of From, else its address.
	ServiceName string
	// From is the From address, e.g. "Report Alerts <alerts@example.org>".
	// Its domain is also the domain of every Message-ID.
	From string
	// ReplyTo is an optional Reply-To address.
	ReplyTo string
	// ListID is the List-Id header, e.g. "Report alerts <alerts.example.org>";
	// empty = derived from From.
	ListID string
	// UnsubscribeMailto is an optional address ("x@y" or "mailto:x@y")
	// also listed in List-Unsubscribe.
	UnsubscribeMailto string
	// BaseURL is the public origin, used for the catalogue link.
	BaseURL string
	// Location is the zone the mails' dates are written in, that of
	// digest.timezone; nil = UTC.
	Location *time.Location
	// Languages are the language tags readers may choose; the operators'
	// mails are in the first. Empty = English alone.
	Languages []string
}

// The mails a Composer knows, each made of name+".txt" and name+".html"
// under mail/, which can use the shared files below.
const (
	confirmationMail = "confirmation"
	welcomeMail      = "welcome"
	digestMail       = "digest"
	adminSignInMail  = "admin_sign_in"
	adminTestMail    = "admin_test"
)

var sharedTemplates = []string{"layout", "reports"}

// Composer turns the data of one mail into a Message. It is safe for
// concurrent use.
type Composer struct {
	settings     Settings
	from         *netmail.Address
	replyTo      *netmail.Address
	messageIDDom string
	listID       string
	langs        *lang.Catalogue
	text         map[string]*texttemplate.Template
	html         map[string]*htmltemplate.Template
}

// NewComposer parses every mail template in templates (an fs.FS rooted at the
// templates/ folder, such as alertd.Templates() or an overlay of it) and
// renders each once with sample data, so that a broken template, even an
// operator's override, stops the program at start-up rather than at the
// first send, in every offered language; so does a message id that the
// language files lack. Errors name the file at fault.
func NewComposer(s Settings, templates fs.FS) (*Composer, error) {
	from, err := netmail.ParseAddress(s.From)
	if err != nil {
		return nil, fmt.Errorf("mail.from %q is not an e-mail address: %w", s.From, err)
	}
	c := &Composer{
		settings:     s,
		from:         from,
		messageIDDom: domainOf(from.Address),
		text:         make(map[string]*texttemplate.Template),
		html:         make(map[string]*htmltemplate.Template),
	}
	if s.ReplyTo != "" {
		if c.replyTo, err = netmail.ParseAddress(s.ReplyTo); err != nil {
			return nil, fmt.Errorf("mail.reply_to %q is not an e-mail address: %w", s.ReplyTo, err)
		}
	}
	if c.settings.ServiceName == "" {
		c.settings.ServiceName = from.Name
		if c.settings.ServiceName == "" {
			c.settings.ServiceName = from.Address
		}
	}
	c.settings.BaseURL = strings.TrimRight(s.BaseURL, "/")
	if c.settings.Location == nil {
		c.settings.Location = time.UTC
	}
	c.listID = formatListID(s.ListID, from.Address)
	if c.langs, err = lang.Load(templates, s.Languages, c.settings.Location); err != nil {
		return nil, err
	}
	for _, ext := range []string{"txt", "html"} {
		for _, name := range append([]string{confirmationMail, welcomeMail, digestMail, adminSignInMail, adminTestMail}, sharedTemplates...) {
			file := "mail/" + name + "." + ext
			src, err := fs.ReadFile(templates, file)
			if err != nil {
				return nil, fmt.Errorf("read mail template: %w", err)
			}
			if err := c.langs.Check(file, string(src)); err != nil {
				return nil, err
			}
		}
	}

	for _, name := range []string{confirmationMail, welcomeMail, digestMail, adminSignInMail, adminTestMail} {
		if c.text[name], err = parseText(templates, name); err != nil {
			return nil, err
		}
		if c.html[name], err = parseHTML(templates, name); err != nil {
			return nil, err
		}
		for _, printer := range c.langs.Offered() {
			sample := sampleData(c.settings.ServiceName, printer)
			if sample.Subject, err = c.subject(name, sample); err != nil {
				return nil, err
			}
			if _, _, err := c.render(name, sample); err != nil {
				return nil, fmt.Errorf("%w (in %s)", err, printer.Lang)
			}
		}
	}
	return c, nil
}

// Confirmation is the data of a double opt-in mail.
type Confirmation struct {
	To         string
	ConfirmURL string
	ExpiresAt  time.Time
	// Lang is the reader's language; an unknown one = the first offered.
	Lang string
}

// AdminSignIn is the data of a dashboard sign-in mail.
type AdminSignIn struct {
	To        string
	SignInURL string
	ExpiresAt time.Time
}

// Welcome is the data of the mail sent once a subscription is confirmed.
type Welcome struct {
	To             string
	UnsubscribeURL string
	Reports        []alertd.Report
	Lang           string
}

// Digest is the data of a scheduled catalogue mail.
type Digest struct {
	To             string
	UnsubscribeURL string
	// Subject is the rendered digest.subject; empty = the "subject" defined
	// in mail/digest.txt.
	Subject string
	// Reports are the ones listed (already cut to digest.max_reports).
	Reports []alertd.Report
	// More is how many further reports the digest holds but does not list;
	// when positive the mail links to the catalogue page.
	More int
	// ID is the digest's, whose public page the mail links to; 0 (a
	// preview) = no link.
	ID   int64
	Lang string
}

// Confirmation composes the double opt-in mail. It is transactional, so it
// carries no List-* headers.
func (c *Composer) Confirmation(d Confirmation, now time.Time) (Message, error) {
	data := c.data(d.To, d.Lang)
	data.ConfirmURL = c.inLang(d.ConfirmURL, data.Lang)
	data.ExpiresAt = d.ExpiresAt
	expiresIn, err := humanDuration(data.Printer, d.ExpiresAt.Sub(now))
	if err != nil {
		return Message{}, err
	}
	data.ExpiresIn = expiresIn
	m, err := c.compose(confirmationMail, d.To, data, now)
	if err != nil {
		return Message{}, err
	}
	return encode(m)
}

// AdminSignIn composes the mail with a one-time dashboard sign-in link, in
// the first offered language. It is transactional, so it carries no List-*
// headers.
func (c *Composer) AdminSignIn(d AdminSignIn, now time.Time) (Message, error) {
	data := c.data(d.To, "")
	data.SignInURL = d.SignInURL
	data.ExpiresAt = d.ExpiresAt
	expiresIn, err := humanDuration(data.Printer, d.ExpiresAt.Sub(now))
	if err != nil {
		return Message{}, err
	}
	data.ExpiresIn = expiresIn
	m, err := c.compose(adminSignInMail, d.To, data, now)
	if err != nil {
		return Message{}, err
	}
	return encode(m)
}

// AdminTest composes the test mail an operator asks for from the
// dashboard, to see that mail leaves alertd and arrives, in the first
// offered language. It goes to one
// operator, not to a list, so it carries no List-* headers: a one-click
// unsubscribe in it would name no subscriber.
func (c *Composer) AdminTest(to string, now time.Time) (Message, error) {
	m, err := c.compose(adminTestMail, to, c.data(to, ""), now)
	if err != nil {
		return Message{}, err
	}
	return encode(m)
}

// Welcome composes the mail that says a subscription is active and lists
// the current catalogue. It carries the same list headers as a digest.
func (c *Composer) Welcome(d Welcome, now time.Time) (Message, error) {
	data := c.data(d.To, d.Lang)
	data.UnsubscribeURL = d.UnsubscribeURL
	data.Reports = reportViews(d.Reports)
	m, err := c.compose(welcomeMail, d.To, data, now)
	if err != nil {
		return Message{}, err
	}
	c.setListHeaders(m, d.UnsubscribeURL)
	return encode(m)
}

// Digest composes one subscriber's copy of a digest.
func (c *Composer) Digest(d Digest, now time.Time) (Message, error) {
	m, err := c.compose(digestMail, d.To, c.digestData(d), now)
	if err != nil {
		return Message{}, err
	}
	c.setListHeaders(m, d.UnsubscribeURL)
	return encode(m)
}

// PreviewDigest renders a digest's subject and its text and HTML parts
// without building a message, for operators to look at.
func (c *Composer) PreviewDigest(d Digest) (subject, text, html string, err error) {
	data := c.digestData(d)
	if subject, err = c.subject(digestMail, data); err != nil {
		return "", "", "", err
	}
	data.Subject = subject
	text, html, err = c.render(digestMail, data)
	return subject, text, html, err
}

func (c *Composer) digestData(d Digest) templateData {
	data := c.data(d.To, d.Lang)
	data.Subject = d.Subject
	data.UnsubscribeURL = d.UnsubscribeURL
	data.Reports = reportViews(d.Reports)
	data.More = d.More
	data.Count = len(d.Reports) + d.More
	if d.ID > 0 {
		data.ArchiveURL = c.inLang(fmt.Sprintf("%s/digests/%d", c.settings.BaseURL, d.ID), data.Lang)
	}
	return data
}

// templateData is what every mail template sees; each mail fills the fields
// it needs. Its Printer writes the messages ({{.T "id"}}) and dates in the
// reader's language.
type templateData struct {
	*lang.Printer
	ServiceName  string
	BaseURL      string
	CatalogueURL string
	To           string
	Subject      string

	ConfirmURL string
	ExpiresAt  time.Time
	ExpiresIn  string

	SignInURL string

	UnsubscribeURL string
	Reports        []reportView
	More           int
	// Count is how many reports a digest holds, listed or not.
	Count int
	// ArchiveURL is the digest's public page.
	ArchiveURL string
}

// data starts the data of a mail to the address in the language, or in
// the first offered one when the language is not offered.
func (c *Composer) data(to, language string) templateData {
	p := c.langs.Printer(language)
	return templateData{
		Printer:      p,
		ServiceName:  c.settings.ServiceName,
		BaseURL:      c.settings.BaseURL,
		CatalogueURL: c.inLang(c.settings.BaseURL+"/reports", p.Lang),
		To:           to,
	}
}

// inLang is the public page's link with ?lang= naming the reader's
// language when there is a choice, so that the page opens in the mail's
// language whatever the browser asks for.
func (c *Composer) inLang(pageURL, language string) string {
	if len(c.langs.Offered()) < 2 {
		return pageURL
	}
	return pageURL + "?lang=" + url.QueryEscape(language)
}

func (c *Composer) compose(name, to string, data templateData, now time.Time) (*gomail.Msg, error) {
	rcpt, err := netmail.ParseAddress(to)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadAddress, to, err)
	}
	subject, err := c.subject(name, data)
	if err != nil {
		return nil, err
	}
	data.Subject = subject
	text, html, err := c.render(name, data)
	if err != nil {
		return nil, err
	}
	return c.build(rcpt, data.Lang, subject, text, html, now), nil
}

// build makes the message from its rendered parts, in the language tag.
func (c *Composer) build(rcpt *netmail.Address, language, subject, text, html string, now time.Time) *gomail.Msg {
	m := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	m.FromMailAddress(c.from)
	m.ToMailAddress(rcpt)
	if c.replyTo != nil {
		m.ReplyToMailAddress(c.replyTo)
	}
	m.Subject(subject)
	m.SetDateWithValue(now)
	m.SetMessageIDWithValue(rand.Text() + "@" + c.messageIDDom)
	// RFC 3834: keeps vacation responders from answering an automatic mail.
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	// RFC 3282: the language the reader reads the mail in.
	m.SetGenHeader("Content-Language", language)
	m.SetBodyString(gomail.TypeTextPlain, text)
	m.AddAlternativeString(gomail.TypeTextHTML, html)
	return m
}

// subject is the caller's subject when given, else the "subject" template
// of the mail's .txt file, always reduced to one line.
func (c *Composer) subject(name string, data templateData) (string, error) {
	if s := alertd.OneLine(data.Subject); s != "" {
		return s, nil
	}
	var b strings.Builder
	if err := c.text[name].ExecuteTemplate(&b, "subject", data); err != nil {
		return "", fmt.Errorf("render the subject of mail/%s.txt: %w", name, err)
	}
	return alertd.OneLine(b.String()), nil
}

func (c *Composer) render(name string, data templateData) (text, html string, err error) {
	var t, h bytes.Buffer
	if err := c.text[name].ExecuteTemplate(&t, name+".txt", data); err != nil {
		return "", "", fmt.Errorf("render mail/%s.txt: %w", name, err)
	}
	if err := c.html[name].ExecuteTemplate(&h, name+".html", data); err != nil {
		return "", "", fmt.Errorf("render mail/%s.html: %w", name, err)
	}
	// Templates tend to end in stray blank lines; one final line break is right.
	return strings.TrimRight(t.String(), "\n") + "\n", h.String(), nil
}

// setListHeaders marks a mail as sent to a list: RFC 2369 / 8058 unsubscribe
// headers so clients offer a one-click button, and RFC 2076 / 3834 headers
// so auto-responders stay quiet.
func (c *Composer) setListHeaders(m *gomail.Msg, unsubscribeURL string) {
	uris := []string{unsubscribeURL}
	if mailto := c.settings.UnsubscribeMailto; mailto != "" {
		if !strings.HasPrefix(strings.ToLower(mailto), "mailto:") {
			mailto = "mailto:" + mailto
		}
		uris = append(uris, mailto)
	}
	// Not SetListUnsubscribeOneClick: it refuses http URLs, and the
	// development default base_url is http://localhost.
	m.SetListUnsubscribe(uris...)
	m.SetListUnsubscribePost()
	m.SetGenHeaderPreformatted("List-Id", c.listID)
	m.SetBulk()
}

// formatListID returns the List-Id value with a non-ASCII phrase encoded per
// RFC 2047, leaving the <list-id> itself as it is.
func formatListID(listID, from string) string {
	listID = strings.TrimSpace(listID)
	if listID == "" {
		local, _, _ := strings.Cut(from, "@")
		return "<" + local + "." + domainOf(from) + ">"
	}
	phrase, id, found := strings.Cut(listID, "<")
	if !found {
		return "<" + listID + ">"
	}
	phrase = strings.TrimSpace(phrase)
	if phrase == "" {
		return "<" + id
	}
	return mime.QEncoding.Encode("UTF-8", phrase) + " <" + id
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}

// humanDuration says how long a link lasts in the words a reader of the
// language expects ("72 hours", "3 days", "30 minutes").
func humanDuration(p *lang.Printer, d time.Duration) (string, error) {
	d = d.Round(time.Minute)
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return p.T("duration_days", "Count", int(d/(24*time.Hour)))
	case d >= 2*time.Hour:
		return p.T("duration_hours", "Count", int(d.Round(time.Hour)/time.Hour))
	default:
		return p.T("duration_minutes", "Count", int(d/time.Minute))
	}
}

// sampleData exercises every field and branch of the templates, so that
// NewComposer finds a mistake before any real mail is built.
func sampleData(service string, p *lang.Printer) templateData {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return templateData{
		Printer:        p,
		ServiceName:    service,
		BaseURL:        "https://example.org",
		CatalogueURL:   "https://example.org/reports",
		To:             "reader@example.org",
		ConfirmURL:     "https://example.org/confirm/token",
		ExpiresAt:      at,
		ExpiresIn:      "72 hours",
		SignInURL:      "https://example.org/admin/login/token",
		UnsubscribeURL: "https://example.org/unsubscribe/token",
		Reports: reportViews([]alertd.Report{{
			URL: "https://example.org/r/1", Title: "Sample report", PublishedAt: at,
			Series: "Research Report", Number: "No. 1", Authors: []string{"A. Author"},
			Abstract: "A sample abstract.",
		}}),
		More:       1,
		Count:      2,
		ArchiveURL: "https://example.org/digests/1",
	}
}

func parseText(templates fs.FS, name string) (*texttemplate.Template, error) {
	return parseFiles(texttemplate.New(name).Funcs(texttemplate.FuncMap(templateFuncs)), templates, name, "txt")
}

func parseHTML(templates fs.FS, name string) (*htmltemplate.Template, error) {
	return parseFiles(htmltemplate.New(name).Funcs(htmltemplate.FuncMap(templateFuncs)), templates, name, "html")
}

// template is what text/template and html/template have in common for
// parsing one mail's files into a set.
type template[T any] interface {
	New(name string) T
	Parse(text string) (T, error)
}

// parseFiles parses the files of one mail into t, each under its name
// below mail/.
func parseFiles[T template[T]](t T, templates fs.FS, name, ext string) (T, error) {
	for _, file := range templateFiles(name, ext) {
		src, err := fs.ReadFile(templates, file)
		if err != nil {
			return t, fmt.Errorf("read mail template: %w", err)
		}
		if _, err := t.New(strings.TrimPrefix(file, "mail/")).Parse(string(src)); err != nil {
			return t, fmt.Errorf("parse %s: %w", file, err)
		}
	}
	return t, nil
}

// templateFiles lists the files of one mail: the shared ones first, so the
// mail's own file may redefine any of their blocks.
func templateFiles(name, ext string) []string {
	files := make([]string, 0, len(sharedTemplates)+1)
	for _, shared := range sharedTemplates {
		files = append(files, "mail/"+shared+"."+ext)
	}
	return append(files, "mail/"+name+"."+ext)
}
