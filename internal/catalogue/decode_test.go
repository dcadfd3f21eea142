package catalogue_test

import (
	"errors"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// decodeFile imports a file from testdata and returns the accepted reports by
// line and the rejections.
func decodeFile(t *testing.T, name string, format catalogue.Format) (map[int]alertd.Report, []catalogue.Rejection) {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return decode(t, f, format)
}

func decode(t *testing.T, r io.Reader, format catalogue.Format) (map[int]alertd.Report, []catalogue.Rejection) {
	t.Helper()
	accepted := map[int]alertd.Report{}
	rejected, err := catalogue.Decode(r, format, now, func(line int, rep alertd.Report) error {
		if _, seen := accepted[line]; seen {
			t.Errorf("line %d handed over twice", line)
		}
		accepted[line] = rep
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return accepted, rejected
}

func acceptedLines(accepted map[int]alertd.Report) []int {
	var lines []int
	for line := range accepted {
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

func checkLines(t *testing.T, accepted map[int]alertd.Report, rejected []catalogue.Rejection, wantAccepted []int, wantRejected []catalogue.Rejection) {
	t.Helper()
	if got := acceptedLines(accepted); !reflect.DeepEqual(got, wantAccepted) {
		t.Errorf("accepted lines %v; want %v", got, wantAccepted)
	}
	if !reflect.DeepEqual(rejected, wantRejected) {
		t.Errorf("rejected\n%v\nwant\n%v", rejected, wantRejected)
	}
}

func TestDecodeJSONArrayRejectsBadReportsAndKeepsTheOthers(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.json", catalogue.FormatJSON)
	checkLines(t, accepted, rejected, []int{1, 6}, []catalogue.Rejection{
		{2, "title: is required"},
		{3, "url: must be an absolute http(s) URL"},
		{4, `published_at: "01/06/2020" is not an RFC 3339 time like 2026-03-01T09:00:00Z`},
		{5, `unknown field "publised_at" (a report has guid, title, url, published_at, series, number, authors, abstract, keywords, topics)`},
		{7, "authors: must be a list of strings"},
	})
	want := alertd.Report{
		GUID: "rr-26-2020", Title: "Research Report No. 26", URL: "https://reports.example/rr26",
		PublishedAt: time.Date(2020, 6, 1, 0, 0, 0, 0, time.UTC), Series: "Research Report", Number: "No. 26, 2020",
		Authors: []string{"A. Author", "B. Author"}, Abstract: "<p>Markup &amp; entities kept.</p>",
		Keywords: []string{"k1"}, Topics: []string{"economy"},
	}
	if !reflect.DeepEqual(accepted[1], want) {
		t.Errorf("report 1\n%#v\nwant\n%#v", accepted[1], want)
	}
	if got := accepted[6]; got.GUID != "https://reports.example/defaults" || !got.PublishedAt.Equal(now) {
		t.Errorf("report 6 has guid %q, published %v; want the url and now", got.GUID, got.PublishedAt)
	}
}

func TestDecodeJSONLinesCountsLinesIncludingBlankOnes(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.jsonl", catalogue.FormatJSONL)
	checkLines(t, accepted, rejected, []int{1, 7}, []catalogue.Rejection{
		{2, "title: is required"},
		{4, "url: must be an absolute http(s) URL"},
		{5, `published_at: "yesterday" is not an RFC 3339 time like 2026-03-01T09:00:00Z`},
		{6, "not valid JSON"},
	})
	if got, want := accepted[1].PublishedAt, time.Date(2021, 1, 1, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("line 1 published %v; want %v", got, want)
	}
	if got := accepted[7].Keywords; !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("line 7 keywords %q", got)
	}
}

func TestDecodeCSVReportsTheRowsStartingLine(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.csv", catalogue.FormatCSV)
	checkLines(t, accepted, rejected, []int{2, 8}, []catalogue.Rejection{
		{4, "title: is required"},
		{5, "url: must be an absolute http(s) URL"},
		{6, `published_at: "2022-05-32" is not an RFC 3339 time like 2026-03-01T09:00:00Z`},
		{7, "the row has 3 cells; the header has 10"},
	})
	want := alertd.Report{
		GUID: "rr-1", Title: "Research Report One", URL: "https://reports.example/r1",
		PublishedAt: time.Date(2022, 5, 1, 10, 0, 0, 0, time.UTC), Series: "Research Report", Number: "No. 1, 2022",
		Authors: []string{"Ada Lovelace", "Alan Turing"}, Abstract: "A two-line\nabstract, with a comma.",
		Keywords: []string{"computing", "history"}, Topics: []string{"science"},
	}
	if !reflect.DeepEqual(accepted[2], want) {
		t.Errorf("row 2\n%#v\nwant\n%#v", accepted[2], want)
	}
	if got := accepted[8]; got.GUID != "https://reports.example/r6" || !got.PublishedAt.Equal(now) || got.Authors != nil {
		t.Errorf("row 8 = %#v; want guid = url, published now, no authors", got)
	}
}

func TestDecodeCSVTakesColumnsInAnyOrderAndCase(t *testing.T) {
	csv := "URL, Title ,authors\nhttps://r.example/1,One,\"Doe, J.;Roe, R.\"\n"
	accepted, rejected := decode(t, strings.NewReader(csv), catalogue.FormatCSV)
	checkLines(t, accepted, rejected, []int{2}, nil)
	if got := accepted[2]; got.Title != "One" || got.URL != "https://r.example/1" || !reflect.DeepEqual(got.Authors, []string{"Doe, J.", "Roe, R."}) {
		t.Errorf("got %#v", got)
	}
}

func TestDecodeCSVRejectsAMisquotedRowAndGoesOn(t *testing.T) {
	csv := "title,url\nBad \"quote\",https://r.example/1\nGood,https://r.example/2\n"
	accepted, rejected := decode(t, strings.NewReader(csv), catalogue.FormatCSV)
	if got := acceptedLines(accepted); !reflect.DeepEqual(got, []int{3}) {
		t.Errorf("accepted lines %v; want [3]", got)
	}
	if len(rejected) != 1 || rejected[0].Line != 2 || !strings.Contains(rejected[0].Reason, `bare " in non-quoted-field`) {
		t.Errorf("rejected %v; want line 2 for its bare quote", rejected)
	}
}

func TestDecodeFeedRSS(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.rss", catalogue.FormatFeed)
	checkLines(t, accepted, rejected, []int{1, 2, 5}, []catalogue.Rejection{
		{3, "title: is required"},
		{4, `published_at: the feed's date "sometime next week" is not understood`},
	})
	want := alertd.Report{
		GUID:        "https://www.policy-research.example/?p=10412",
		URL:         "https://www.policy-research.example/reports/water-and-power/",
		Title:       "Water & Power: The Region\u2019s Energy Transition",
		PublishedAt: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC),
		Authors:     []string{"Anna Müller", "Jonas Weber"},
		// CDATA is taken literally: its HTML entities are the markup's own.
		Abstract: "<p><b>Research Report No. 26, 2026.</b> How hydropower &amp; grids shape the region&#8217;s future.</p>",
		Keywords: []string{"Energy", "Climate & Environment"},
	}
	if got := accepted[1]; !reflect.DeepEqual(got, want) || !got.PublishedAt.Equal(want.PublishedAt) {
		t.Errorf("item 1\n%#v\nwant\n%#v", got, want)
	}
	second := accepted[2]
	if second.URL != "https://www.policy-research.example/reports/trade-policy-after-the-elections/" {
		t.Errorf("item 2 url %q; want the relative link resolved against the channel's link", second.URL)
	}
	if want := `<p>Policy Brief on tariffs.</p><script>alert("x")</script>`; second.Abstract != want {
		t.Errorf("item 2 abstract %q; want it stored as given: %q", second.Abstract, want)
	}
	if got, want := second.PublishedAt, time.Date(2026, 2, 26, 9, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("item 2 published %v; want %v", got, want)
	}
	last := accepted[5]
	if last.GUID != last.URL || !last.PublishedAt.Equal(now) {
		t.Errorf("item 5 guid %q, published %v; want its link and now", last.GUID, last.PublishedAt)
	}
}

func TestDecodeFeedAtom(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.atom", catalogue.FormatFeed)
	checkLines(t, accepted, rejected, []int{1, 2}, []catalogue.Rejection{{3, "url: is required"}})
	want := alertd.Report{
		GUID:        "tag:institute.example,2026:pub-77",
		URL:         "https://institute.example/publications/77-debt-and-growth",
		Title:       "Debt and Growth",
		PublishedAt: time.Date(2026, 2, 27, 8, 0, 0, 0, time.UTC),
		Authors:     []string{"Maria Rossi", "Kenji Sato"},
		Abstract:    "<p>A short summary.</p>",
		Keywords:    []string{"Economics", "fiscal-policy"},
	}
	if got := accepted[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("entry 1\n%#v\nwant\n%#v", got, want)
	}
	second := accepted[2]
	if got, want := second.PublishedAt, time.Date(2026, 2, 20, 8, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("entry 2 published %v; want its updated time %v", got, want)
	}
	if second.Abstract != "Only content, no summary." {
		t.Errorf("entry 2 abstract %q; want its content when there is no summary", second.Abstract)
	}
}

func TestDecodeFeedJSONFeed(t *testing.T) {
	accepted, rejected := decodeFile(t, "reports.feed.json", catalogue.FormatFeed)
	checkLines(t, accepted, rejected, []int{1, 3}, []catalogue.Rejection{{2, "url: must be an absolute http(s) URL"}})
	want := alertd.Report{
		GUID:        "report-301",
		URL:         "https://thinktank.example/reports/301",
		Title:       "Housing in Crisis",
		PublishedAt: time.Date(2026, 2, 15, 7, 0, 0, 0, time.UTC),
		Authors:     []string{"Sam Lee", "Priya Nair"},
		Abstract:    "Why rents rise <em>faster</em> than wages.",
		Keywords:    []string{"housing", "cities"},
	}
	if got := accepted[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("item 1\n%#v\nwant\n%#v", got, want)
	}
	if got, want := accepted[3].PublishedAt, time.Date(2026, 2, 17, 7, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("item 3 published %v; want its date_modified %v", got, want)
	}
}

func TestDecodeFeedDropsStrayControlsFromTextAndRefusesThemInLinks(t *testing.T) {
	feed := `{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [
		{"id": "r1", "url": "https://r.example/1", "title": "Water\u001b]0;pwned\u0007 \u0092s future\u001b[2J",
		 "summary": "Clean\u0000 text\u009b.", "tags": ["a\u001bb"], "authors": [{"name": "A\u0085n"}],
		 "date_published": "2026-03-01T09:00:00Z"},
		{"id": "r2\u001b", "url": "https://r.example/2", "title": "T2", "date_published": "2026-03-01T09:00:00Z"},
		{"id": "r3", "url": "https://r.example/3\u202e", "title": "T3", "date_published": "2026-03-01T09:00:00Z"}]}`
	accepted, rejected := decode(t, strings.NewReader(feed), catalogue.FormatFeed)
	checkLines(t, accepted, rejected, []int{1}, []catalogue.Rejection{
		{2, "guid: contains the control character U+001B (character 3)"},
		{3, "url: contains the bidirectional formatting character U+202E (character 20)"},
	})
	got := accepted[1]
	if got.Title != "Water]0;pwned s future[2J" || got.Abstract != "Clean text." ||
		!reflect.DeepEqual(got.Keywords, []string{"ab"}) || !reflect.DeepEqual(got.Authors, []string{"An"}) {
		t.Errorf("item 1: title %q, abstract %q, keywords %q, authors %q; want the control characters dropped",
			got.Title, got.Abstract, got.Keywords, got.Authors)
	}
}

func TestDecodeRejectsControlCharactersInJSONAndCSV(t *testing.T) {
	accepted, rejected := decode(t, strings.NewReader(`[{"title": "A", "url": "https://r.example/a"},
		{"title": "\u001b]0;pwned\u0007", "url": "https://r.example/b"}, {"title": "C", "url": "https://bank.example@evil.example/"}]`), catalogue.FormatJSON)
	checkLines(t, accepted, rejected, []int{1}, []catalogue.Rejection{
		{2, "title: contains the control character U+001B (character 1)"},
		{3, "url: must not hold a user name or password (https://name@host/): such a link reads as another site's"},
	})
	accepted, rejected = decode(t, strings.NewReader("title,url\nA,https://r.example/a\n\"B\x1b[2J\",https://r.example/b\n"), catalogue.FormatCSV)
	checkLines(t, accepted, rejected, []int{2}, []catalogue.Rejection{{3, "title: contains the control character U+001B (character 2)"}})
}

func TestDecodeRefusesAFileThatIsNotTheFormat(t *testing.T) {
	tests := []struct {
		name   string
		format catalogue.Format
		input  string
		want   string
	}{
		{"json: not JSON", catalogue.FormatJSON, "title,url\n", "not JSON"},
		{"json: empty", catalogue.FormatJSON, "", "the file is empty"},
		{"json: an object", catalogue.FormatJSON, `{"title": "T"}`, "must be an array of reports"},
		{"json: truncated", catalogue.FormatJSON, `[{"title": "T", "url": "https://r.example/1"}, {"title": `, "report 2: broken JSON"},
		{"json: trailing data", catalogue.FormatJSON, `[] []`, "unexpected data after the closing ]"},
		{"jsonl: a JSON array", catalogue.FormatJSONL, "[\n{\"title\": \"T\"}\n]\n", "line 1 is not JSON"},
		{"jsonl: one enormous line", catalogue.FormatJSONL, strings.Repeat("x", 5<<20), "line 1 is longer than 4 MiB"},
		{"csv: empty", catalogue.FormatCSV, "", "the CSV file is empty"},
		{"csv: unknown columns", catalogue.FormatCSV, "title,url,pubdate,Author\n", `unknown CSV column "pubdate", "author" in the header`},
		{"csv: no url column", catalogue.FormatCSV, "title,guid\n", `the CSV header has no "url" column`},
		{"csv: a column twice", catalogue.FormatCSV, "title,url,title\n", `names the column "title" twice`},
		{"feed: HTML page", catalogue.FormatFeed, "<!DOCTYPE html><html><body>Reports</body></html>", "not an RSS, Atom or JSON feed"},
		{"feed: broken XML", catalogue.FormatFeed, `<?xml version="1.0"?><rss version="2.0"><channel><item><title>T</item>`, "the feed cannot be read"},
		{"unknown format", catalogue.Format("xml"), "", `unknown import format "xml"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := catalogue.Decode(strings.NewReader(tt.input), tt.format, now, func(int, alertd.Report) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want one containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeStopsWhenTheCallbackFails(t *testing.T) {
	full := errors.New("disk full")
	calls := 0
	_, err := catalogue.Decode(strings.NewReader("title,url\nA,https://r.example/a\nB,https://r.example/b\n"), catalogue.FormatCSV, now,
		func(int, alertd.Report) error { calls++; return full })
	if !errors.Is(err, full) || calls != 1 {
		t.Errorf("error %v after %d calls; want the callback's error after 1", err, calls)
	}
}

func TestFormatFromName(t *testing.T) {
	tests := map[string]catalogue.Format{
		"reports.json": catalogue.FormatJSON, "REPORTS.JSON": catalogue.FormatJSON,
		"a.jsonl": catalogue.FormatJSONL, "a.ndjson": catalogue.FormatJSONL,
		"archive.csv": catalogue.FormatCSV,
		"feed.xml":    catalogue.FormatFeed, "r.rss": catalogue.FormatFeed, "r.atom": catalogue.FormatFeed, "r.feed": catalogue.FormatFeed,
	}
	for name, want := range tests {
		if got, err := catalogue.FormatFromName(name); got != want || err != nil {
			t.Errorf("FormatFromName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"reports", "reports.txt", "feed"} {
		if _, err := catalogue.FormatFromName(name); err == nil || !strings.Contains(err.Error(), "--format") {
			t.Errorf("FormatFromName(%q) error %v; want one asking for --format", name, err)
		}
	}
}

func TestPlainTextOfAStoredFeedItem(t *testing.T) {
	accepted, _ := decodeFile(t, "reports.rss", "feed")
	got := alertd.PlainText(accepted[1].Abstract, 60)
	want := "Research Report No. 26, 2026. How hydropower & grids shape…"
	if got != want {
		t.Errorf("got %q; want %q", got, want)
	}
	if got := alertd.PlainText(accepted[2].Abstract, 0); strings.Contains(got, "alert") {
		t.Errorf("%q still holds the script", got)
	}
}

// TestDecodeFeedMakesTitlesAndNamesPlainText proves that what a feed does
// to its short texts (Atom html, xhtml and base64 titles, RSS titles in
// CDATA with their entities, markup in creators and names) reaches the
// catalogue as plain text, decoded once and on one line, while an Atom text
// title keeps the "<" and "&" it means.
func TestDecodeFeedMakesTitlesAndNamesPlainText(t *testing.T) {
	atom, rejected := decodeFile(t, "titles.atom", catalogue.FormatFeed)
	checkLines(t, atom, rejected, []int{1, 2, 3, 4, 5, 6, 7}, nil)
	for line, want := range map[int]string{
		1: "Entry Title",
		2: "Research & Development, a Survey",
		3: "Fiscal Rules & Debt",
		4: "Budget Outlook 2027",
		5: "Why a < b && the <template> Element",
		6: "Plain <i> as Written",
		7: "Text with Elements",
	} {
		if got := atom[line].Title; got != want {
			t.Errorf("atom entry %d: title %q; want %q", line, got, want)
		}
	}
	if got, want := atom[5].Authors, []string{"Li Wei", "Jane Doe"}; !reflect.DeepEqual(got, want) {
		t.Errorf("atom entry 5: authors %q; want %q", got, want)
	}

	rss, rejected := decodeFile(t, "titles.rss", catalogue.FormatFeed)
	checkLines(t, rss, rejected, []int{1, 2}, nil)
	want := alertd.Report{
		GUID:        "https://www.policy-research.example/reports/rd/",
		URL:         "https://www.policy-research.example/reports/rd/",
		Title:       "Research & Development",
		PublishedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC),
		Authors:     []string{"Anna Müller", "Jonas Weber"},
		Keywords:    []string{"Trade & Tariffs"},
	}
	if got := rss[1]; !reflect.DeepEqual(got, want) {
		t.Errorf("rss item 1\n%#v\nwant\n%#v", got, want)
	}
	if got, want := rss[2].Title, "Growth if a < b: New Evidence"; got != want {
		t.Errorf("rss item 2: title %q; want %q", got, want)
	}
}

// TestDecodeKeepsPlainTextInputsAsWritten proves that the inputs that are
// plain text by definition (JSON, CSV, JSON Feed) keep what looks like
// markup or an entity, and only have their white space collapsed.
func TestDecodeKeepsPlainTextInputsAsWritten(t *testing.T) {
	inputs := map[catalogue.Format]string{
		catalogue.FormatJSON: `[{"title": "R&amp;D if a<b \n and <i>", "url": "https://r.example/1", "authors": ["<b>Ann</b>\tLee"]}]`,
		catalogue.FormatCSV:  "title,url,authors\n\"R&amp;D if a<b \n and <i>\",https://r.example/1,<b>Ann</b>\tLee\n",
		catalogue.FormatFeed: `{"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{"id": "1", "url": "https://r.example/1",
			"title": "R&amp;D if a<b \n and <i>", "authors": [{"name": "<b>Ann</b>\tLee"}], "date_published": "2026-03-01T09:00:00Z"}]}`,
	}
	for format, input := range inputs {
		accepted, rejected := decode(t, strings.NewReader(input), format)
		if len(rejected) > 0 || len(accepted) != 1 {
			t.Fatalf("%s: accepted %d, rejected %v", format, len(accepted), rejected)
		}
		for _, got := range accepted {
			if got.Title != "R&amp;D if a<b and <i>" || !reflect.DeepEqual(got.Authors, []string{"<b>Ann</b> Lee"}) {
				t.Errorf("%s: title %q, authors %q; want them as written, on one line", format, got.Title, got.Authors)
			}
		}
	}
}

// TestDecodeAtomReadsTitleTypesOfTheFirstRootOnly proves that entries after
// the end of the feed's root element, which gofeed does not read, do not
// make a text title be taken as markup.
func TestDecodeAtomReadsTitleTypesOfTheFirstRootOnly(t *testing.T) {
	feed := `<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title><entry><title>a &lt;i&gt; b</title><id>1</id>` +
		`<link href="https://r.example/1"/><updated>2026-01-01T00:00:00Z</updated></entry></feed>` +
		`<feed xmlns="http://www.w3.org/2005/Atom"><entry><title>Trailing</title></entry></feed>`
	accepted, rejected := decode(t, strings.NewReader(feed), catalogue.FormatFeed)
	checkLines(t, accepted, rejected, []int{1}, nil)
	if got := accepted[1].Title; got != "a <i> b" {
		t.Errorf("title %q; want the text title as written, %q", got, "a <i> b")
	}
}
