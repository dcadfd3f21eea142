// Package catalogue keeps the publisher's reports: it validates what the API,
// the command line and the importers (JSON, JSON Lines, CSV, RSS/Atom/JSON
// feeds) hand in, and compiles the digests that announce them.
package catalogue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alertd/alertd"
)

// ErrInvalid matches (errors.Is) every error about a report's content; its
// code, Invalid, lets callers answer 400 or exit 2 instead of blaming alertd.
var ErrInvalid = alertd.Errorf(alertd.Invalid, "invalid report")

// ValidationError says which field of a report is wrong and why. Its message
// ("url: must be an absolute http(s) URL") is written for the person who
// sent the report: a 400 body or one line on a terminal.
type ValidationError struct {
	Field   string // the JSON name of the field; empty when the problem is the whole report
	Problem string
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalid) hold for every ValidationError,
// and gives it ErrInvalid's code.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// ValidationErrors are the problems of a report with more than one, in the
// order of its fields, at most one a field, so that a form can show each
// beside its field. errors.As finds the first *ValidationError in them.
type ValidationErrors []error

func (e ValidationErrors) Error() string {
	messages := make([]string, len(e))
	for i, err := range e {
		messages[i] = err.Error()
	}
	return strings.Join(messages, "; ")
}

func (e ValidationErrors) Unwrap() []error { return e }

// problems gathers a report's validation errors, the first one per field.
type problems []error

func (p *problems) add(err error) {
	if err == nil {
		return
	}
	field := ""
	if v, ok := errors.AsType[*ValidationError](err); ok {
		field = v.Field
	}
	for _, have := range *p {
		if v, ok := errors.AsType[*ValidationError](have); ok && field != "" && v.Field == field {
			return
		}
	}
	*p = append(*p, err)
}

// err is nil without problems, the one problem, or all of them.
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return ValidationErrors(p)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Limits on a report's fields, in characters (runes). A report over a limit
// is refused rather than cut, so that nothing is stored other than as given.
const (
	MaxTitle     = 1000
	MaxURL       = 2048
	MaxGUID      = 2048
	MaxSeries    = 200
	MaxNumber    = 200
	MaxAbstract  = 20000
	MaxListItems = 100
	MaxListItem  = 200
)

// Input is a report as a person or a file gives it: the payload of
// POST /api/v1/reports, a row of an import, or the flags of `reports add`.
type Input struct {
	GUID        string     `json:"guid"`
	Title       string     `json:"title"`
	URL         string     `json:"url"`
	PublishedAt *time.Time `json:"published_at"` // nil: now
	Series      string     `json:"series"`
	Number      string     `json:"number"`
	Authors     []string   `json:"authors"`
	Abstract    string     `json:"abstract"`
	Keywords    []string   `json:"keywords"`
	Topics      []string   `json:"topics"`
}

// inputFields are the JSON names of Input, in the order messages list them.
var inputFields = []string{"guid", "title", "url", "published_at", "series", "number", "authors", "abstract", "keywords", "topics"}

// UnmarshalJSON decodes a report object. Unknown fields are refused here, not
// only by a decoder set to DisallowUnknownFields, because a misspelt
// "publised_at" silently ignored would announce an archive as news; and a
// wrong type is reported with the field's name, which encoding/json's own
// error for time values does not give.
func (in *Input) UnmarshalJSON(data []byte) error {
	if bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return invalid("", "a report must be a JSON object like {\"title\": ..., \"url\": ...}")
	}
	var unknown []string
	for name := range fields {
		if !slices.Contains(inputFields, name) {
			unknown = append(unknown, fmt.Sprintf("%q", name))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return invalid("", "unknown field %s (a report has %s)", strings.Join(unknown, ", "), strings.Join(inputFields, ", "))
	}
	var decoded Input
	for _, name := range inputFields {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var err error
		switch name {
		case "guid":
			err = decodeString(raw, &decoded.GUID)
		case "title":
			err = decodeString(raw, &decoded.Title)
		case "url":
			err = decodeString(raw, &decoded.URL)
		case "published_at":
			decoded.PublishedAt, err = decodeTime(raw)
		case "series":
			err = decodeString(raw, &decoded.Series)
		case "number":
			err = decodeString(raw, &decoded.Number)
		case "authors":
			err = decodeList(raw, &decoded.Authors)
		case "abstract":
			err = decodeString(raw, &decoded.Abstract)
		case "keywords":
			err = decodeList(raw, &decoded.Keywords)
		case "topics":
			err = decodeList(raw, &decoded.Topics)
		}
		if err != nil {
			return invalid(name, "%s", err)
		}
	}
	*in = decoded
	return nil
}

func decodeString(raw json.RawMessage, s *string) error {
	if json.Unmarshal(raw, s) != nil {
		return errors.New("must be a string")
	}
	return nil
}

func decodeList(raw json.RawMessage, list *[]string) error {
	if json.Unmarshal(raw, list) != nil {
		return errors.New("must be a list of strings")
	}
	return nil
}

func decodeTime(raw json.RawMessage) (*time.Time, error) {
	var s *string
	if json.Unmarshal(raw, &s) != nil {
		return nil, errors.New("must be a string holding an RFC 3339 time like 2026-03-01T09:00:00Z")
	}
	if s == nil {
		return nil, nil
	}
	return parseTime(*s)
}

// parseTime reads an RFC 3339 time; the empty string means "not given".
func parseTime(s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return nil, fmt.Errorf("%.40q is not an RFC 3339 time like 2026-03-01T09:00:00Z", s)
	}
	return &t, nil
}

// Report validates the input and returns the report to store. Surrounding
// whitespace is trimmed and empty list items dropped. The title, series,
// number, authors and keywords are plain text, shown on one line, so their
// white space is collapsed; "a < b" or "R&amp;D" in them is kept as
// written, because every output escapes it (a feed's markup is made plain
// text before it gets here). The abstract is kept as given, markup
// included, and cleaned where it is shown. A report without a guid is known
// by its url; one without a publication time is published now.
func (in Input) Report(now time.Time) (alertd.Report, error) {
	rep := alertd.Report{
		GUID:     strings.TrimSpace(in.GUID),
		URL:      strings.TrimSpace(in.URL),
		Title:    strings.TrimSpace(in.Title),
		Series:   strings.TrimSpace(in.Series),
		Number:   strings.TrimSpace(in.Number),
		Abstract: strings.TrimSpace(in.Abstract),
	}
	if rep.GUID == "" {
		rep.GUID = rep.URL
	}
	texts := []struct {
		field string
		value string
		max   int
		token bool
	}{
		{"title", rep.Title, MaxTitle, false},
		{"url", rep.URL, MaxURL, true},
		{"guid", rep.GUID, MaxGUID, true},
		{"series", rep.Series, MaxSeries, false},
		{"number", rep.Number, MaxNumber, false},
		{"abstract", rep.Abstract, MaxAbstract, false},
	}
	var found problems
	for _, t := range texts {
		if problem := textProblem(t.value, t.max, t.token); problem != "" {
			found.add(invalid(t.field, "%s", problem))
		}
	}
	if rep.Title == "" {
		found.add(invalid("title", "is required"))
	}
	found.add(checkURL(rep.URL))
	rep.PublishedAt = now
	if in.PublishedAt != nil {
		rep.PublishedAt = *in.PublishedAt
	}
	// Outside these years a time cannot be written back as RFC 3339.
	if y := rep.PublishedAt.UTC().Year(); y < 1 || y > 9999 {
		found.add(invalid("published_at", "the year must be between 1 and 9999"))
	}
	var err error
	rep.Authors, err = cleanList("authors", in.Authors)
	found.add(err)
	rep.Keywords, err = cleanList("keywords", in.Keywords)
	found.add(err)
	rep.Topics, err = cleanList("topics", in.Topics)
	found.add(err)
	if err := found.err(); err != nil {
		return alertd.Report{}, err
	}
	// Collapsed only once valid: U+0085 and the like count as white space
	// to strings.Fields, and a control character must be refused, not
	// turned into a space.
	rep.Title, rep.Series, rep.Number = alertd.OneLine(rep.Title), alertd.OneLine(rep.Series), alertd.OneLine(rep.Number)
	for _, list := range [][]string{rep.Authors, rep.Keywords} {
		for i := range list {
			list[i] = alertd.OneLine(list[i])
		}
	}
	return rep, nil
}

// textProblem says why s cannot be stored and shown faithfully, or "": bytes
// that are not UTF-8, text over its limit, and control characters (C0, DEL,
// C1: NUL ends a string for C-based tools and SMTP, the others are commands
// to a terminal that set its title or clear the screen). Tab, line feed and
// carriage return are whitespace that every listing folds, so free text (a
// title or an abstract wrapped over lines) may hold them; a token, a url or
// a guid, holds no whitespace and no bidirectional formatting character
// either, since those make a link read as another (RFC 3987 forbids them in
// IRIs).
func textProblem(s string, max int, token bool) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for i, r := range []rune(s) {
		if unicode.IsControl(r) && (token || !isFoldedSpace(r)) {
			return fmt.Sprintf("contains the control character %U (character %d)", r, i+1)
		}
		if token && unicode.Is(unicode.Bidi_Control, r) {
			return fmt.Sprintf("contains the bidirectional formatting character %U (character %d)", r, i+1)
		}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("must be at most %d characters (has %d)", max, n)
	}
	return ""
}

// isFoldedSpace reports whether r is one of the control characters that free
// text may hold.
func isFoldedSpace(r rune) bool { return r == '\t' || r == '\n' || r == '\r' }

// withoutStrayControls drops from the free text the control characters that
// textProblem refuses. Feed items arrive with them (text pasted from word
// processors, windows-1252 quotes read as C1 controls), and a feed's
// publisher, not the operator, would have to fix them: refusing the item
// would lose a report over an invisible byte. A url or guid is left as it
// is, to be refused, because dropping characters there changes what it names.
func (in Input) withoutStrayControls() Input {
	stripAll := func(list []string) []string {
		var out []string
		for _, s := range list {
			out = append(out, stripControls(s))
		}
		return out
	}
	in.Title, in.Series, in.Number = stripControls(in.Title), stripControls(in.Series), stripControls(in.Number)
	in.Abstract = stripControls(in.Abstract)
	in.Authors, in.Keywords, in.Topics = stripAll(in.Authors), stripAll(in.Keywords), stripAll(in.Topics)
	return in
}

// asText makes the item's short texts that hold markup plain text: tags
// dropped, entities decoded once, white space collapsed.
func (in Input) asText(markup itemMarkup) Input {
	if markup.title {
		in.Title = alertd.PlainText(in.Title, 0)
	}
	if markup.lists {
		plain := func(list []string) []string {
			var out []string
			for _, s := range list {
				out = append(out, alertd.PlainText(s, 0))
			}
			return out
		}
		in.Authors, in.Keywords = plain(in.Authors), plain(in.Keywords)
	}
	return in
}

// stripControls drops the control characters other than tab, line feed and
// carriage return.
func stripControls(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !isFoldedSpace(r) {
			return -1
		}
		return r
	}, s)
}

// checkURL admits only absolute http(s) links without a user name or
// password: "https://bank.example@evil.example" reads as the bank's and
// leads elsewhere.
func checkURL(s string) error {
	if s == "" {
		return invalid("url", "is required")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("url", "must be an absolute http(s) URL")
	}
	if u.User != nil {
		return invalid("url", "must not hold a user name or password (https://name@host/): such a link reads as another site's")
	}
	return nil
}

func cleanList(field string, items []string) ([]string, error) {
	var out []string
	for i, item := range items {
		item = strings.TrimSpace(item)
		if problem := textProblem(item, MaxListItem, false); problem != "" {
			return nil, invalid(field, "item %d %s", i+1, problem)
		}
		if item != "" {
			out = append(out, item)
		}
	}
	if len(out) > MaxListItems {
		return nil, invalid(field, "must have at most %d items (has %d)", MaxListItems, len(out))
	}
	return out, nil
}
