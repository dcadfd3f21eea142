package mail

import (
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"golang.org/x/net/html"
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
			if a = oneLine(a); a != "" {
				authors = append(authors, a)
			}
		}
		views = append(views, reportView{
			Title:       oneLine(r.Title),
			URL:         webURL(r.URL),
			PublishedAt: r.PublishedAt,
			Series:      oneLine(r.Series),
			Number:      oneLine(r.Number),
			Authors:     authors,
			Abstract:    shortText(plainText(r.Abstract), abstractLimit),
		})
	}
	return views
}

var templateFuncs = map[string]any{
	"date":     func(t time.Time) string { return t.Format("2 January 2006") },
	"datetime": func(t time.Time) string { return t.Format("2 January 2006, 15:04 MST") },
	"join":     strings.Join,
	"wrap":     wrap,
}

// oneLine collapses every run of white space, line breaks included, into a
// single space.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
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

// plainText returns the text of s with any HTML markup removed and entities
// decoded; script and style contents are dropped. Abstracts arrive both as
// plain text and as HTML fragments, and both read well after this.
func plainText(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside <script> or <style>
	for {
		switch z.Next() {
		case html.ErrorToken:
			return oneLine(b.String())
		case html.StartTagToken:
			if name, _ := z.TagName(); isHidden(name) {
				skip++
			}
			b.WriteByte(' ') // a tag separates words: "<p>a</p><p>b</p>"
		case html.EndTagToken:
			if name, _ := z.TagName(); isHidden(name) && skip > 0 {
				skip--
			}
			b.WriteByte(' ')
		case html.SelfClosingTagToken:
			b.WriteByte(' ')
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}

func isHidden(tag []byte) bool {
	return string(tag) == "script" || string(tag) == "style"
}

// shortText cuts s to at most limit characters at a word boundary and marks
// the cut with an ellipsis.
func shortText(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	runes := []rune(s)
	cut := string(runes[:limit])
	if i := strings.LastIndexByte(cut, ' '); i > 0 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:.-") + "…"
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
