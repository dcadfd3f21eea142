package alertd

import (
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// PlainText turns text that is markup into plain words: a report's stored
// abstract, for e-mail and listings, and a source's title, authors and
// keywords as they are taken in (where the source's text is already plain,
// OneLine is the one to use, so that "a < b" stays). Tags are dropped
// (scripts and styles with their content), entities decoded, whitespace
// collapsed, and at most max characters kept, cut between words and ended
// with "…". A max of 0 or less means no limit. Control characters are
// dropped: stored text holds none, but an entity such as "&#27;" decodes to
// one, and a mail read in a terminal must not carry its commands.
func PlainText(s string, max int) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0 // depth inside elements whose text is not for reading
	// The tokenizer only stops at the end of s: malformed markup still
	// yields its text.
	for tt := z.Next(); tt != html.ErrorToken; tt = z.Next() {
		switch tt {
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case html.StartTagToken, html.EndTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			tag := string(name)
			if hidden(tag) && tt != html.SelfClosingTagToken {
				if tt == html.StartTagToken {
					skip++
				} else if skip > 0 {
					skip--
				}
			}
			// Words either side of a block or a break must not run together.
			if !inline(tag) {
				b.WriteByte(' ')
			}
		}
	}
	return cut(OneLine(withoutControls(b.String())), max)
}

func hidden(tag string) bool {
	switch tag {
	case "script", "style", "template", "noscript", "head", "title", "iframe", "noembed", "noframes":
		return true
	}
	return false
}

// inline reports whether tag sits inside a line of text, so that
// "<b>Re</b>port" stays one word.
func inline(tag string) bool {
	switch tag {
	case "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "i", "kbd", "mark",
		"q", "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr", "font":
		return true
	}
	return false
}

// cut shortens s to at most max runes, ellipsis included, at the last space
// that fits; a single word longer than max is cut inside.
func cut(s string, max int) string {
	runes := []rune(s)
	if max <= 0 || len(runes) <= max {
		return s
	}
	keep := runes[:max-1]
	if !unicode.IsSpace(runes[max-1]) {
		for i := len(keep) - 1; i > 0; i-- {
			if unicode.IsSpace(keep[i]) {
				keep = keep[:i]
				break
			}
		}
	}
	return strings.TrimRightFunc(string(keep), func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(",;:-–—", r)
	}) + "…"
}

// OneLine collapses every run of white space in s, line breaks included,
// into a single space, and trims the ends: for text shown on one line,
// such as a subject, a listing's row or an error message.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Plural writes n with the noun that agrees with it: Plural(1, "report",
// "reports") is "1 report", and any other count takes the plural form.
func Plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// withoutControls drops the control characters other than tab, line feed
// and carriage return, which the caller folds into spaces.
func withoutControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return -1
		}
		return r
	}, s)
}
