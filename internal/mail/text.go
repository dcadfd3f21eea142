package mail

import (
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"

	"golang.org/x/text/width"

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

// templateFuncs are the functions of the mail templates; dates are written
// by the language's Date and DateTime, as on the pages.
var templateFuncs = map[string]any{
	"join":   strings.Join,
	"plural": alertd.Plural,
	"wrap":   wrap,
}

// ParseSubject parses a subject template set in the configuration, such as
// digest.subject, with the functions the mail templates have: plural
// among them, so that the subject agrees in number with its count.
func ParseSubject(name, text string) (*texttemplate.Template, error) {
	return texttemplate.New(name).Funcs(texttemplate.FuncMap(templateFuncs)).Parse(text)
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

// wrap breaks s into lines of at most width columns (a longer word gets a
// line of its own), each starting with indent. A line breaks at a space,
// or between two characters of a script written without spaces, such as
// Chinese; never inside a character, never before closing punctuation
// ("，", "。") nor after opening punctuation ("（"). A wide character takes
// two columns, as mail clients show it in a fixed-width font.
func wrap(width int, indent, s string) string {
	var b strings.Builder
	indentCols := columns(indent)
	lineLen := 0
	for _, word := range strings.Fields(s) {
		for i, unit := range unbreakable(word) {
			n := columns(unit)
			sep := 0
			if i == 0 {
				sep = 1 // the space between words
			}
			switch {
			case lineLen == 0:
				b.WriteString(indent)
				lineLen = indentCols
			case lineLen+sep+n > width:
				b.WriteString("\n" + indent)
				lineLen = indentCols
			case sep == 1:
				b.WriteByte(' ')
				lineLen++
			}
			b.WriteString(unit)
			lineLen += n
		}
	}
	return b.String()
}

// Punctuation that must not start a line, and that must not end one.
const (
	closingPunctuation = "，。、；：！？）」』》〉”’…％．,.;:!?)]}%"
	openingPunctuation = "（「『《〈“‘"
)

// unbreakable cuts a word (no spaces) into the pieces a line may break
// between: each wide character on its own, with the punctuation that
// clings to it, and each run of other characters whole.
func unbreakable(word string) []string {
	var units []string
	glue := false // the next character joins the last unit
	lastWide := false
	for rest := word; rest != ""; {
		r, size := utf8.DecodeRuneInString(rest)
		char := rest[:size] // as written, even when not valid UTF-8
		rest = rest[size:]
		wide := isWide(r)
		switch {
		case len(units) == 0:
			units = append(units, "")
		case glue, strings.ContainsRune(closingPunctuation, r):
		case !wide && !lastWide:
		default:
			units = append(units, "")
		}
		units[len(units)-1] += char
		glue = strings.ContainsRune(openingPunctuation, r)
		lastWide = wide
	}
	return units
}

// isWide reports whether r takes two columns in a fixed-width font.
func isWide(r rune) bool {
	switch width.LookupRune(r).Kind() {
	case width.EastAsianWide, width.EastAsianFullwidth:
		return true
	}
	return false
}

// columns is how many columns s takes in a fixed-width font.
func columns(s string) int {
	n := 0
	for _, r := range s {
		n++
		if isWide(r) {
			n++
		}
	}
	return n
}
