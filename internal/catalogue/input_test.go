package catalogue_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

var now = time.Date(2026, 3, 3, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

func TestReportBuildsTheReportAsGiven(t *testing.T) {
	published := time.Date(2020, 6, 1, 9, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	in := catalogue.Input{
		GUID:        " rr-26 ",
		Title:       "  Water &amp; Power: <b>the</b> Region&#8217;s Future\n",
		URL:         "https://reports.example/rr26?x=1&y=2",
		PublishedAt: &published,
		Series:      "Research Report",
		Number:      "No. 26, 2020",
		Authors:     []string{" A. Author ", "", "B. Author"},
		Abstract:    "<p>Markup <script>kept</script> as given.</p>",
		Keywords:    []string{"k1", " "},
		Topics:      []string{"economy"},
	}
	got, err := in.Report(now)
	if err != nil {
		t.Fatal(err)
	}
	want := alertd.Report{
		GUID:        "rr-26",
		Title:       "Water &amp; Power: <b>the</b> Region&#8217;s Future",
		URL:         "https://reports.example/rr26?x=1&y=2",
		PublishedAt: published,
		Series:      "Research Report",
		Number:      "No. 26, 2020",
		Authors:     []string{"A. Author", "B. Author"},
		Abstract:    "<p>Markup <script>kept</script> as given.</p>",
		Keywords:    []string{"k1"},
		Topics:      []string{"economy"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}
}

func TestReportDefaultsGUIDToURLAndPublishedToNow(t *testing.T) {
	got, err := catalogue.Input{Title: "T", URL: " http://reports.example/1 "}.Report(now)
	if err != nil {
		t.Fatal(err)
	}
	if got.GUID != "http://reports.example/1" || !got.PublishedAt.Equal(now) {
		t.Errorf("guid %q, published %v; want the url and %v", got.GUID, got.PublishedAt, now)
	}
}

func TestReportRefusesInvalidInput(t *testing.T) {
	valid := func(change func(*catalogue.Input)) catalogue.Input {
		in := catalogue.Input{Title: "Title", URL: "https://reports.example/r"}
		change(&in)
		return in
	}
	many := func(n int) []string { return strings.Split(strings.Repeat("x,", n-1)+"x", ",") }
	tests := []struct {
		name string
		in   catalogue.Input
		want string
	}{
		{"no title", valid(func(in *catalogue.Input) { in.Title = "" }), "title: is required"},
		{"blank title", valid(func(in *catalogue.Input) { in.Title = " \t\n " }), "title: is required"},
		{"title too long", valid(func(in *catalogue.Input) { in.Title = strings.Repeat("é", 1001) }), "title: must be at most 1000 characters (has 1001)"},
		{"no url", valid(func(in *catalogue.Input) { in.URL = "" }), "url: is required"},
		{"relative url", valid(func(in *catalogue.Input) { in.URL = "/reports/1" }), "url: must be an absolute http(s) URL"},
		{"url without host", valid(func(in *catalogue.Input) { in.URL = "https:///reports/1" }), "url: must be an absolute http(s) URL"},
		{"javascript url", valid(func(in *catalogue.Input) { in.URL = "javascript:alert(1)" }), "url: must be an absolute http(s) URL"},
		{"ftp url", valid(func(in *catalogue.Input) { in.URL = "ftp://reports.example/r" }), "url: must be an absolute http(s) URL"},
		{"unparseable url", valid(func(in *catalogue.Input) { in.URL = "http://[::1" }), "url: must be an absolute http(s) URL"},
		{"url too long", valid(func(in *catalogue.Input) { in.URL = "https://reports.example/" + strings.Repeat("a", 2048) }), "url: must be at most 2048 characters"},
		{"guid too long", valid(func(in *catalogue.Input) { in.GUID = strings.Repeat("g", 2049) }), "guid: must be at most 2048 characters (has 2049)"},
		{"series too long", valid(func(in *catalogue.Input) { in.Series = strings.Repeat("s", 201) }), "series: must be at most 200 characters (has 201)"},
		{"number too long", valid(func(in *catalogue.Input) { in.Number = strings.Repeat("n", 201) }), "number: must be at most 200 characters (has 201)"},
		{"abstract too long", valid(func(in *catalogue.Input) { in.Abstract = strings.Repeat("a", 20001) }), "abstract: must be at most 20000 characters (has 20001)"},
		{"too many authors", valid(func(in *catalogue.Input) { in.Authors = many(101) }), "authors: must have at most 100 items (has 101)"},
		{"author too long", valid(func(in *catalogue.Input) { in.Authors = []string{"a", strings.Repeat("b", 201)} }), "authors: item 2 must be at most 200 characters (has 201)"},
		{"too many keywords", valid(func(in *catalogue.Input) { in.Keywords = many(101) }), "keywords: must have at most 100 items (has 101)"},
		{"topic too long", valid(func(in *catalogue.Input) { in.Topics = []string{strings.Repeat("t", 201)} }), "topics: item 1 must be at most 200 characters (has 201)"},
		{"invalid UTF-8", valid(func(in *catalogue.Input) { in.Abstract = "caf\xe9" }), "abstract: is not valid UTF-8"},
		{"NUL byte", valid(func(in *catalogue.Input) { in.Title = "a\x00b" }), "title: contains the control character U+0000 (character 2)"},
		{"NUL in a keyword", valid(func(in *catalogue.Input) { in.Keywords = []string{"a\x00"} }), "keywords: item 1 contains the control character U+0000 (character 2)"},
		{"terminal escape in the title", valid(func(in *catalogue.Input) { in.Title = "\x1b]0;pwned\a\x1b[2J" }), "title: contains the control character U+001B (character 1)"},
		{"C1 control in the abstract", valid(func(in *catalogue.Input) { in.Abstract = "é\u009b2J" }), "abstract: contains the control character U+009B (character 2)"},
		{"DEL in the series", valid(func(in *catalogue.Input) { in.Series = "S\x7f" }), "series: contains the control character U+007F (character 2)"},
		{"escape in the number", valid(func(in *catalogue.Input) { in.Number = "\x1b[31mN" }), "number: contains the control character U+001B (character 1)"},
		{"escape in an author", valid(func(in *catalogue.Input) { in.Authors = []string{"A", "B\x1b"} }), "authors: item 2 contains the control character U+001B (character 2)"},
		{"escape in a topic", valid(func(in *catalogue.Input) { in.Topics = []string{"\u009b"} }), "topics: item 1 contains the control character U+009B (character 1)"},
		{"tab inside the url", valid(func(in *catalogue.Input) { in.URL = "https://reports.example/a\tb" }), "url: contains the control character U+0009 (character 26)"},
		{"newline inside the guid", valid(func(in *catalogue.Input) { in.GUID = "g\n1" }), "guid: contains the control character U+000A (character 2)"},
		{"C1 control in the url", valid(func(in *catalogue.Input) { in.URL = "https://reports.example/a\u0085b" }), "url: contains the control character U+0085 (character 26)"},
		{"bidi override in the url", valid(func(in *catalogue.Input) { in.URL = "https://reports.example/\u202egnp.exe" }), "url: contains the bidirectional formatting character U+202E (character 25)"},
		{"bidi isolate in the guid", valid(func(in *catalogue.Input) { in.GUID = "g\u2066" }), "guid: contains the bidirectional formatting character U+2066 (character 2)"},
		{"user name in the url", valid(func(in *catalogue.Input) { in.URL = "https://bank.example@evil.example/login" }), "url: must not hold a user name or password"},
		{"password in the url", valid(func(in *catalogue.Input) { in.URL = "http://user:secret@reports.example/r" }), "url: must not hold a user name or password"},
		{"year out of range", valid(func(in *catalogue.Input) { in.PublishedAt = ptr(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) }), "published_at: the year must be between 1 and 9999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.in.Report(now)
			if err == nil {
				t.Fatalf("no error; want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error %q; want %q", err, tt.want)
			}
			if !errors.Is(err, catalogue.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var v *catalogue.ValidationError
			if !errors.As(err, &v) || v.Field == "" {
				t.Errorf("error %v is not a ValidationError naming a field", err)
			}
		})
	}
}

// TestReportKeepsWhitespaceAndBidiInFreeText proves that the abstract keeps
// its line breaks and that bidirectional marks stay, while a title, shown on
// one line, has its white space collapsed.
func TestReportKeepsWhitespaceAndBidiInFreeText(t *testing.T) {
	in := catalogue.Input{
		Title:    "Water\tand\r\npower",
		URL:      "https://reports.example/r",
		Abstract: "First paragraph.\n\nSecond, in Arabic: \u202bالمياه\u202c.",
		Authors:  []string{"\u2067مؤلف\u2069"},
	}
	got, err := in.Report(now)
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != "Water and power" || got.Abstract != in.Abstract || !reflect.DeepEqual(got.Authors, in.Authors) {
		t.Errorf("got title %q, abstract %q, authors %q; want the title on one line and the rest as given", got.Title, got.Abstract, got.Authors)
	}
}

func TestReportAcceptsFieldsAtTheirLimits(t *testing.T) {
	in := catalogue.Input{
		Title:    strings.Repeat("é", catalogue.MaxTitle),
		URL:      "https://reports.example/" + strings.Repeat("a", catalogue.MaxURL-len("https://reports.example/")),
		Abstract: strings.Repeat("a", catalogue.MaxAbstract),
		Authors:  strings.Split(strings.Repeat(strings.Repeat("b", catalogue.MaxListItem)+";", catalogue.MaxListItems-1)+"b", ";"),
	}
	if _, err := in.Report(now); err != nil {
		t.Fatal(err)
	}
}

func TestInputDecodesTheAPIPayload(t *testing.T) {
	body := `{"guid": "g", "title": "T", "url": "https://r.example/1", "published_at": "2026-03-01T09:00:00+01:00",
		"series": "S", "number": "N", "authors": ["A"], "abstract": "X", "keywords": ["K"], "topics": ["t1"]}`
	var in catalogue.Input
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	want := catalogue.Input{
		GUID: "g", Title: "T", URL: "https://r.example/1",
		PublishedAt: ptr(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)),
		Series:      "S", Number: "N", Authors: []string{"A"}, Abstract: "X", Keywords: []string{"K"}, Topics: []string{"t1"},
	}
	if !in.PublishedAt.Equal(*want.PublishedAt) {
		t.Errorf("published_at %v; want %v", in.PublishedAt, want.PublishedAt)
	}
	in.PublishedAt = want.PublishedAt
	if !reflect.DeepEqual(in, want) {
		t.Errorf("got  %#v\nwant %#v", in, want)
	}
}

func TestInputDecodingTreatsNullAndEmptyTimeAsNotGiven(t *testing.T) {
	for _, body := range []string{`{"published_at": null}`, `{"published_at": ""}`, `{"title": null}`} {
		var in catalogue.Input
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Errorf("%s: %v", body, err)
		}
		if in.PublishedAt != nil || in.Title != "" {
			t.Errorf("%s: decoded %#v", body, in)
		}
	}
}

func TestInputDecodingNamesTheWrongField(t *testing.T) {
	tests := []struct {
		body string
		want string
	}{
		{`{"title": "T", "tilte": "T", "Url": "u"}`, `unknown field "Url", "tilte" (a report has guid, title, url, published_at, series, number, authors, abstract, keywords, topics)`},
		{`{"title": 42}`, "title: must be a string"},
		{`{"url": ["https://r.example"]}`, "url: must be a string"},
		{`{"authors": "A, B"}`, "authors: must be a list of strings"},
		{`{"topics": [1, 2]}`, "topics: must be a list of strings"},
		{`{"published_at": 1717200000}`, "published_at: must be a string holding an RFC 3339 time like 2026-03-01T09:00:00Z"},
		{`{"published_at": "2026-03-01"}`, `published_at: "2026-03-01" is not an RFC 3339 time like 2026-03-01T09:00:00Z`},
		{`["T"]`, `a report must be a JSON object like {"title": ..., "url": ...}`},
	}
	for _, tt := range tests {
		var in catalogue.Input
		dec := json.NewDecoder(bytes.NewReader([]byte(tt.body)))
		dec.DisallowUnknownFields()
		err := dec.Decode(&in)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v; want %q", tt.body, err, tt.want)
		}
		if !errors.Is(err, catalogue.ErrInvalid) {
			t.Errorf("%s: errors.Is(%v, ErrInvalid) = false", tt.body, err)
		}
	}
}
