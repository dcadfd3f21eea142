package catalogue_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// checkAccepted fails the test unless rep is a report the catalogue may
// store: its own rules, written out here rather than borrowed from the code
// under test.
func checkAccepted(t *testing.T, rep alertd.Report) {
	t.Helper()
	free := append([]string{rep.Title, rep.Series, rep.Number, rep.Abstract}, slices.Concat(rep.Authors, rep.Keywords, rep.Topics)...)
	for _, s := range free {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
		}) {
			t.Fatalf("accepted %+v: %q holds a control character or is not UTF-8", rep, s)
		}
	}
	for _, s := range []string{rep.URL, rep.GUID} {
		if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
		}) {
			t.Fatalf("accepted %+v: %q holds a control or bidirectional formatting character", rep, s)
		}
	}
	u, err := url.Parse(rep.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		t.Fatalf("accepted %+v: the url is not an http(s) URL without a user name (%v)", rep, err)
	}
	if strings.TrimSpace(rep.Title) == "" || rep.GUID == "" {
		t.Fatalf("accepted %+v without a title or guid", rep)
	}
	// What was accepted is accepted again unchanged: nothing is stored
	// other than as the rules admit it.
	published := rep.PublishedAt
	again, err := catalogue.Input{
		GUID: rep.GUID, Title: rep.Title, URL: rep.URL, PublishedAt: &published, Series: rep.Series, Number: rep.Number,
		Authors: rep.Authors, Abstract: rep.Abstract, Keywords: rep.Keywords, Topics: rep.Topics,
	}.Report(now)
	if err != nil || !reflect.DeepEqual(again, rep) {
		t.Fatalf("accepted %+v, but not again: %+v, %v", rep, again, err)
	}
}

// decodeAll decodes data in format f, checking every accepted report, and
// returns the accepted guids and how many reports were rejected; err is a
// refusal of the whole file.
func decodeAll(t *testing.T, data []byte, f catalogue.Format) (guids []string, rejected int, err error) {
	t.Helper()
	bad, err := catalogue.Decode(bytes.NewReader(data), f, now, func(line int, rep alertd.Report) error {
		checkAccepted(t, rep)
		guids = append(guids, rep.GUID)
		return nil
	})
	return guids, len(bad), err
}

// checkGoodKept fails the test unless decoding data, which holds the good
// reports "good-1" and "good-2" around one other, kept both and accounted
// for the third.
func checkGoodKept(t *testing.T, data []byte, f catalogue.Format) {
	t.Helper()
	guids, rejected, err := decodeAll(t, data, f)
	if err != nil {
		t.Fatalf("%s around a bad report: %v\n%q", f, err, data)
	}
	if !slices.Contains(guids, "good-1") || !slices.Contains(guids, "good-2") || len(guids)+rejected != 3 {
		t.Fatalf("%s: accepted %q and rejected %d of 3 reports; a good one was lost\n%q", f, guids, rejected, data)
	}
}

// seeds are report fields a hostile feed or file might hold.
var seeds = [][4]string{
	{"Title", "https://reports.example/r", "g", "Abstract"},
	{"\x1b]0;pwned\a\x1b[2J", "https://reports.example/r", "", "\u009b31m"},
	{"T", "https://bank.example@evil.example/", "g", ""},
	{"T", "javascript:alert(1)", "javascript:alert(2)", ""},
	{"T\u202e", "https://reports.example/\u202egnp.exe", "g\u2066", "a\r\nb\tc"},
	{"caf\xe9", "https://reports.example/\x00", "g\n", "\x7f"},
	{"", "", "", ""},
}

func FuzzImportCSV(f *testing.F) {
	file, err := os.ReadFile("testdata/reports.csv")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file, seeds[0][0], seeds[0][1], seeds[0][2], seeds[0][3])
	for _, s := range seeds[1:] {
		f.Add([]byte(strings.Join(s[:], ",")), s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, raw []byte, title, link, guid, abstract string) {
		decodeAll(t, raw, catalogue.FormatCSV)

		var b bytes.Buffer
		w := csv.NewWriter(&b)
		w.WriteAll([][]string{
			{"guid", "title", "url", "abstract"},
			{"good-1", "Good one", "https://reports.example/1", ""},
			{guid, title, link, abstract},
			{"good-2", "Good two", "https://reports.example/2", ""},
		})
		checkGoodKept(t, b.Bytes(), catalogue.FormatCSV)

		// A raw row that cannot open a quoted cell spanning the next
		// rows is one row, whatever it holds.
		if len(raw) > 0 && !bytes.ContainsAny(raw, "\"\r\n") {
			data := slices.Concat([]byte("guid,title,url\ngood-1,Good one,https://reports.example/1\n"), raw,
				[]byte("\ngood-2,Good two,https://reports.example/2\n"))
			checkGoodKept(t, data, catalogue.FormatCSV)
		}
	})
}

func FuzzImportJSON(f *testing.F) {
	for _, name := range []string{"testdata/reports.json", "testdata/reports.jsonl"} {
		file, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(file, seeds[0][0], seeds[0][1], seeds[0][2], seeds[0][3])
	}
	for _, s := range seeds[1:] {
		obj, _ := json.Marshal(map[string]string{"title": s[0], "url": s[1], "guid": s[2], "abstract": s[3]})
		f.Add(obj, s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, raw []byte, title, link, guid, abstract string) {
		decodeAll(t, raw, catalogue.FormatJSON)
		decodeAll(t, raw, catalogue.FormatJSONL)

		good1 := []byte(`{"guid": "good-1", "title": "Good one", "url": "https://reports.example/1"}`)
		good2 := []byte(`{"guid": "good-2", "title": "Good two", "url": "https://reports.example/2"}`)
		fields, err := json.Marshal(map[string]string{"title": title, "url": link, "guid": guid, "abstract": abstract})
		if err != nil {
			t.Fatal(err)
		}
		elements := [][]byte{fields}
		// Any JSON value in the middle is one report, good or bad.
		var compact bytes.Buffer
		if json.Compact(&compact, raw) == nil {
			elements = append(elements, compact.Bytes())
		}
		for _, middle := range elements {
			checkGoodKept(t, slices.Concat([]byte("["), good1, []byte(","), middle, []byte(","), good2, []byte("]")), catalogue.FormatJSON)
			checkGoodKept(t, slices.Concat(good1, []byte("\n"), middle, []byte("\n"), good2, []byte("\n")), catalogue.FormatJSONL)
		}
	})
}
