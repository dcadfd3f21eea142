package mail

import (
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

// abstractLimit is roughly how many characters of an abstract a mail shows:
// enough to tell what a report is about, short enough to scan a list.
const abstractLimit = 300

// reportView is a report as the mail templates show it. Report text comes
// from feeds and imports and may hold markup, line breaks or a javascript:
// link, so every field is reduced to plain one-line text here; the HTML
// templates escape it on top.
type reportView struct {
	Title       string
	URL         string // empty unless http or https
	PublishedAt time.Time
	Series      string
	Number      string
	Authors     []string
	Abstract    string // plain text, at most about abstractLimit characters
}

func reportViews(reports []alertd.Report) []reportView {
	views := make([]reportView, 0, len(reports))
	for _, r := range reports {
		authors := make([]string, 0, len(r.Authors))
		for _, a := range r.Authors {
			if a = alertd.OneLine(a); a != "" {
				authors = append(authors, a)
			}
		}
		views = append(views, reportView{
			Title:       alertd.OneLine(r.Title),
			URL:         webURL(r.URL),
			PublishedAt: r.PublishedAt,
			Series:      alertd.OneLine(r.Series),
			Number:      alertd.OneLine(r.Number),
			Authors:     authors,
			Abstract:    alertd.PlainText(r.Abstract, abstractLimit),
		})
	}
	return views
}

// templateFuncs are the functions of the mail templates; their dates and
// times are written in loc, the zone readers are in (digest.timezone).
func templateFuncs(loc *time.Location) map[string]any {
	return map[string]any{
		"date":     func(t time.Time) string { return alertd.Date(t, loc) },
		"datetime": func(t time.Time) string { return t.In(loc).Format("2 January 2006, 15:04 MST") },
		"join":     strings.Join,
		"plural":   alertd.Plural,
		"wrap":     wrap,
	}
}

// ParseSubject parses a subject template set in the configuration, such as
// digest.subject, with the functions the mail templates have: plural
// among them, so that the subject agrees in number with its count. A
// subject is given no time, so its zone is UTC for want of any other.
func ParseSubject(name, text string) (*texttemplate.Template, error) {
	return texttemplate.New(name).Funcs(texttemplate.FuncMap(templateFuncs(time.UTC))).Parse(text)
}

// webURL returns u when it is an absolute http(s) URL, else "": a mail must
// not offer a javascript: or file: link taken from a feed.
func webURL(u string) string {
	u = strings.TrimSpace(u)
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host == "" || (parsed.Scheme != "http" && parsed.Scheme != "https") {
		return ""
	}
	return parsed.String()
}

// wrap breaks s into lines of at most width characters (a longer word gets
// a line of its own), each starting with indent.
func wrap(width int, indent, s string) string {
	var b strings.Builder
	lineLen := 0
	for _, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		switch {
		case lineLen == 0:
			b.WriteString(indent)
			lineLen = utf8.RuneCountInString(indent)
		case lineLen+1+n > width:
			b.WriteString("\n" + indent)
			lineLen = utf8.RuneCountInString(indent)
		default:
			b.WriteByte(' ')
			lineLen++
		}
		b.WriteString(word)
		lineLen += n
	}
	return b.String()
}
