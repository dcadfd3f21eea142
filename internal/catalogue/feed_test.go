package catalogue_test

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// rssItem is an RSS feed of one valid item holding extra, between its
// title and its link.
func rssItem(extra string) string {
	return `<?xml version="1.0"?><rss version="2.0" xmlns:x="urn:x"><channel><title>Reports</title>` +
		`<item><title>One</title>` + extra + `<link>https://r.example/1</link></item></channel></rss>`
}

// decodeFeed decodes a feed, returning how many reports came through and
// how many bytes the decoding allocated.
func decodeFeed(t *testing.T, feed string) (reports int, allocated uint64, err error) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = catalogue.Decode(strings.NewReader(feed), catalogue.FormatFeed, now, func(int, alertd.Report) error {
		reports++
		return nil
	})
	runtime.ReadMemStats(&after)
	return reports, after.TotalAlloc - before.TotalAlloc, err
}

// allocationBound is what refusing any hostile feed below may allocate in
// all: a few times the feed's size. gofeed takes ten times more for the
// least of them.
const allocationBound = 100 << 20

// TestDecodeRefusesAHostileFeed proves that a feed too large, too deep, too
// wide or too long is refused with an error naming the bound, before the
// feed parser holds it in memory.
func TestDecodeRefusesAHostileFeed(t *testing.T) {
	items := strings.Repeat("<item><title>T</title><link>https://r.example/</link></item>", catalogue.MaxFeedItems+1)
	tests := []struct {
		name, feed, want string
	}{
		{"a million unknown elements", rssItem(strings.Repeat("<x:a/>", 1_000_000)), "more than 200000 nodes"},
		{"a million HTML tags in an item's text", rssItem("<description>" + strings.Repeat("&lt;b&gt;", 1_000_000) + "</description>"), "a tag or a text over 1 MiB"},
		{"HTML tags in short texts", rssItem(strings.Repeat("<description><![CDATA["+strings.Repeat("<b>", 1000)+"]]></description>", 201)), "more than 200000 nodes"},
		{"two million attributes", rssItem("<x:a" + strings.Repeat(` b=""`, 2_000_000) + "/>"), "a tag or a text over 1 MiB"},
		{"two million attributes in Latin-1", strings.Replace(rssItem("<x:a"+strings.Repeat(` b=""`, 2_000_000)+"/>"), `version="1.0"`, `version="1.0" encoding="ISO-8859-1"`, 1), "a tag or a text over 1 MiB"},
		{"atom nested 1000 deep", `<feed xmlns="http://www.w3.org/2005/Atom"><entry>` + strings.Repeat("<x>", 1000), "more than 100 levels deep"},
		{"JSON Feed nested 1000 deep", `{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "https://r.example/1", "title": "T", "_x": ` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}]}`, "more than 100 levels deep"},
		{"JSON Feed of a million values", `{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "https://r.example/1", "title": "T", "_x": [` + strings.Repeat("0,", 1_000_000) + `0]}]}`, "more than 200000 nodes"},
		{"over 10 MiB", rssItem("<!--" + strings.Repeat("x", catalogue.MaxFeedSize) + "-->"), "over the 10 MiB a feed may be"},
		{"5001 items", `<rss version="2.0"><channel><title>Reports</title>` + items + `</channel></rss>`, "it has 5001 items, more than the 5000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reports, allocated, err := decodeFeed(t, tt.feed)
			if err == nil || !strings.Contains(err.Error(), tt.want) || reports != 0 {
				t.Errorf("%d reports, error %v; want none and an error containing %q", reports, err, tt.want)
			}
			if allocated > allocationBound {
				t.Errorf("refusing a %d MB feed allocated %d MB; want at most %d MB", len(tt.feed)>>20, allocated>>20, allocationBound>>20)
			}
		})
	}
}

// TestDecodeRefusesAFeedNestedBeyondTheStack proves that a deeply nested
// feed is refused before the feed parser, which recurses once per level,
// can end the process with a stack overflow that no recover catches. The
// stack is held to 64 MiB so that a 5 MB feed shows it; the default 1 GiB
// takes a 25 MB one.
func TestDecodeRefusesAFeedNestedBeyondTheStack(t *testing.T) {
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	reports, _, err := decodeFeed(t, rssItem(strings.Repeat("<x:a>", 1_000_000)))
	if err == nil || !strings.Contains(err.Error(), "more than 100 levels deep") || reports != 0 {
		t.Errorf("%d reports, error %v; want none and the depth named", reports, err)
	}
}

// TestDecodeFeedWithinTheBounds proves that the bounds leave real feeds
// alone: as many items as allowed, a declared charset, and the stray
// control characters the feed parser drops.
func TestDecodeFeedWithinTheBounds(t *testing.T) {
	var items strings.Builder
	for i := range catalogue.MaxFeedItems {
		fmt.Fprintf(&items, "<item><title>T</title><link>https://r.example/%d</link></item>", i)
	}
	latin1 := bytes.ReplaceAll([]byte(rssItem("<author>M\xfcller</author>")), []byte(`version="1.0"`), []byte(`version="1.0" encoding="ISO-8859-1"`))
	tests := []struct {
		name, feed string
		reports    int
	}{
		{"the most items", `<rss version="2.0"><channel><title>Reports</title>` + items.String() + `</channel></rss>`, catalogue.MaxFeedItems},
		{"XHTML content 90 deep", `<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id><title>T</title><link href="https://r.example/1"/>` +
			`<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">` + strings.Repeat("<span>", 90) + "deep" + strings.Repeat("</span>", 90) + `</div></content></entry></feed>`, 1},
		{"Latin-1", string(latin1), 1},
		{"control characters", rssItem("<description>a\x01b\x1fc</description>"), 1},
		{"trailing junk after the root", rssItem("") + "<<<", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if reports, _, err := decodeFeed(t, tt.feed); err != nil || reports != tt.reports {
				t.Errorf("%d reports, error %v; want %d", reports, err, tt.reports)
			}
		})
	}
}

// FuzzDecodeFeed feeds arbitrary bytes to the feed decoder: it never
// panics, hands on no more than MaxFeedItems reports, and each one it hands
// on has the fields every report must have.
func FuzzDecodeFeed(f *testing.F) {
	for _, name := range []string{"reports.rss", "reports.atom", "reports.feed.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(rssItem(strings.Repeat("<x:a>", 200))))
	f.Add([]byte(rssItem(`<description><![CDATA[<p><img src="i.png">` + strings.Repeat("<b>", 50) + `]]></description>`)))
	f.Add([]byte(`{"version": "https://jsonfeed.org/version/1.1", "items": [{"id": "1", "url": "https://r.example/1", "title": "T", "_x": [[[[0]]]]}]}`))
	f.Fuzz(func(t *testing.T, feed []byte) {
		reports := 0
		_, err := catalogue.Decode(bytes.NewReader(feed), catalogue.FormatFeed, now, func(_ int, rep alertd.Report) error {
			reports++
			if rep.GUID == "" || rep.Title == "" || rep.URL == "" {
				t.Errorf("report without guid, title or url: %#v", rep)
			}
			return nil
		})
		if reports > catalogue.MaxFeedItems {
			t.Errorf("%d reports handed on (error %v); at most %d may be", reports, err, catalogue.MaxFeedItems)
		}
	})
}
