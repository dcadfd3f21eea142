package web_test

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// onItsWay, as an outcome of sendDigest, leaves a copy claimed and unsent.
const onItsWay alertd.MessageStatus = ""

// sendDigest compiles the next digest and records the outcome of each of
// its copies in turn, as the delivery workers would: one outcome per
// recipient, onItsWay for a copy still being sent.
func (h *harness) sendDigest(outcomes ...alertd.MessageStatus) alertd.Digest {
	h.t.Helper()
	ctx := context.Background()
	now := h.clock.Now()
	d, created, err := h.cat.CompileDigest(ctx, "")
	if err != nil || !created || d.Recipients != len(outcomes) {
		h.t.Fatalf("compiled %+v (created %v, %v), want a digest for %d readers", d, created, err, len(outcomes))
	}
	// The lease outlives the test: a copy on its way stays claimed.
	claimed, err := h.store.ClaimMessages(ctx, "", now, now.Add(10000*time.Hour), len(outcomes)+1)
	if err != nil || len(claimed) != len(outcomes) {
		h.t.Fatalf("claimed %d copies of %d: %v", len(claimed), len(outcomes), err)
	}
	err = h.store.Write(ctx, func(tx *store.Tx) error {
		for i, m := range claimed {
			if outcomes[i] == onItsWay {
				continue
			}
			o := alertd.Outcome{ID: m.ID, DigestID: m.DigestID, SubscriberID: m.SubscriberID, Status: outcomes[i]}
			if err := tx.RecordOutcome(now, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

var archivedTitle = regexp.MustCompile(`<a href="https://example\.org/r/[^"]*" class="ctext" dir="auto">([^<]*)</a>`)

// archivedTitles are the report titles a digest's page lists, in order.
func archivedTitles(body string) []string {
	var titles []string
	for _, m := range archivedTitle.FindAllStringSubmatch(body, -1) {
		titles = append(titles, m[1])
	}
	return titles
}

// mailedTitles are the report titles a digest's text part lists, in order.
func mailedTitles(text string) []string {
	var titles []string
	for _, m := range regexp.MustCompile(`(?m)^\* (.+)$`).FindAllStringSubmatch(text, -1) {
		titles = append(titles, m[1])
	}
	return titles
}

// wantNothingPersonalOrTracking fails the test when a public archive page
// names a reader or loads anything: no address, no link token, no
// unsubscribe link, no element that fetches a resource but the site's own
// stylesheet.
func wantNothingPersonalOrTracking(t *testing.T, path string, r response, readers ...string) {
	t.Helper()
	for _, reader := range readers {
		if strings.Contains(r.body, reader) {
			t.Errorf("GET %s shows the address %s", path, reader)
		}
	}
	for _, bad := range []string{"/unsubscribe", "/confirm/", "url(", "<img", "<script", "<iframe", "<object", "<embed", "<form"} {
		if strings.Contains(r.body, bad) {
			t.Errorf("GET %s holds %q", path, bad)
		}
	}
	if attr := regexp.MustCompile(`<[^>]*\s(src|srcset|style|background|ping)=`).FindString(r.body); attr != "" {
		t.Errorf("GET %s has an element that loads or styles from its attributes: %s", path, attr)
	}
	for _, link := range regexp.MustCompile(`<link [^>]*href="([^"]*)"`).FindAllStringSubmatch(r.body, -1) {
		if !strings.HasPrefix(link[1], "/") || strings.HasPrefix(link[1], "//") {
			t.Errorf("GET %s loads %s from another site", path, link[1])
		}
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("GET %s has the policy %q, want nothing loaded from elsewhere", path, csp)
	}
}

func TestArchivedDigestPageShowsEveryReportOfTheDigestInTheMailsOrder(t *testing.T) {
	topics := []alertd.Topic{{ID: "energy", Name: "Energy"}, {ID: "water", Name: "Water"}}
	h := newHarness(t, options{Topics: topics})
	readers := []string{"ada@example.org", "bob@example.org"}
	unsubscribe := h.confirmed(readers[0], "energy")
	h.confirmed(readers[1])
	ctx := context.Background()
	// More reports than the mail lists (50), of both topics: the page is
	// the whole digest, whoever got which part of it.
	for i := range 55 {
		at := h.clock.Now().Add(-time.Duration(i+1) * time.Minute)
		if _, _, err := h.cat.Add(ctx, catalogue.Input{
			Title: fmt.Sprintf("Report %02d", 55-i), URL: fmt.Sprintf("https://example.org/r/%d", i),
			PublishedAt: &at, Topics: []string{topics[i%2].ID},
		}, false); err != nil {
			t.Fatal(err)
		}
	}
	d := h.sendDigest(alertd.MessageSent, alertd.MessageSent)

	path := fmt.Sprintf("/digests/%d", d.ID)
	r := h.get(path)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, want 200:\n%s", path, r.StatusCode, r.body)
	}
	announced, err := h.store.DigestReports(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, rep := range announced {
		want = append(want, rep.Title)
	}
	if got := archivedTitles(r.body); len(want) != 55 || !slices.Equal(got, want) {
		t.Errorf("the page lists %d reports %q, want the digest's %d %q", len(got), got, len(want), want)
	}
	_, text, _, err := h.renderer.PreviewDigest(announced, nil)
	if err != nil {
		t.Fatal(err)
	}
	if mailed := mailedTitles(text); len(mailed) != 50 || !slices.Equal(mailed, want[:50]) {
		t.Errorf("the mail lists %q, want the page's first 50 in the same order", mailed)
	}
	wantContains(t, "digest page", r.body, "<h1>Digest of 2 March 2026</h1>", "with 55 reports.", `<a href="/digests">All digests</a>`)
	wantNothingPersonalOrTracking(t, path, r, readers...)
	if strings.Contains(r.body, strings.TrimPrefix(unsubscribe, "/unsubscribe/")) {
		t.Error("the page holds a reader's unsubscribe token")
	}
}

func TestArchivedDigestIsNotFoundUntilACopyIsSentOrOnItsWay(t *testing.T) {
	h := newHarness(t, options{Topics: []alertd.Topic{{ID: "energy", Name: "Energy"}}})
	h.addReport("For nobody", -time.Hour)
	forNobody := h.sendDigest()
	h.confirmed("ada@example.org")
	h.confirmed("bob@example.org")
	h.clock.Advance(time.Hour)
	h.addReport("Never delivered", -time.Minute)
	failed := h.sendDigest(alertd.MessageFailed, alertd.MessageCancelled)
	h.clock.Advance(time.Hour)
	h.addReport("On its way", -time.Minute)
	onTheWay := h.sendDigest(onItsWay, alertd.MessageFailed)

	for _, path := range []string{
		fmt.Sprintf("/digests/%d", forNobody.ID), fmt.Sprintf("/digests/%d", failed.ID),
		"/digests/999", "/digests/0", "/digests/-1", "/digests/x", "/digests/1.5",
	} {
		if r := h.get(path); r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "No such digest") {
			t.Errorf("GET %s = %d, want 404 No such digest:\n%s", path, r.StatusCode, r.body)
		}
	}
	r := h.get(fmt.Sprintf("/digests/%d", onTheWay.ID))
	if r.StatusCode != http.StatusOK || !slices.Equal(archivedTitles(r.body), []string{"On its way"}) {
		t.Errorf("a digest on its way: %d, lists %q; want its page, as its first reader may open it", r.StatusCode, archivedTitles(r.body))
	}
	index := h.get("/digests").body
	if links := regexp.MustCompile(`href="/digests/(\d+)"`).FindAllStringSubmatch(index, -1); len(links) != 1 || links[0][1] != fmt.Sprint(onTheWay.ID) {
		t.Errorf("the index links %q, want only digest %d", links, onTheWay.ID)
	}
	if feed := h.get("/digests/feed.atom").body; strings.Contains(feed, "Never delivered") || strings.Contains(feed, "For nobody") ||
		!strings.Contains(feed, "On its way") {
		t.Errorf("the feed carries an unsent digest, or misses the one on its way:\n%s", feed)
	}
}

func TestRetractedReportsLeaveTheArchive(t *testing.T) {
	h := newHarness(t, options{AdminToken: adminToken})
	h.confirmed("ada@example.org")
	kept := h.addReport("Kept", -2*time.Hour)
	junk := h.addReport("Junk", -time.Hour)
	d := h.sendDigest(alertd.MessageSent)
	path := fmt.Sprintf("/digests/%d", d.ID)
	sentAt := h.clock.Now()

	h.clock.Advance(time.Hour)
	h.retract(junk.ID)
	if got := archivedTitles(h.get(path).body); !slices.Equal(got, []string{"Kept"}) {
		t.Errorf("after a retraction the page lists %q, want only Kept", got)
	}
	wantContains(t, "index", h.get("/digests").body, "1 report</div>")
	feed := parseDigestFeed(t, h.get("/digests/feed.atom"))
	if len(feed.Entries) != 1 || strings.Contains(feed.Entries[0].Content.Body, "Junk") ||
		feed.Entries[0].Updated != h.clock.Now().Format(time.RFC3339) || feed.Entries[0].Published != sentAt.Format(time.RFC3339) {
		t.Errorf("the feed's entry after a retraction: %+v, want Junk gone and updated at the retraction", feed.Entries)
	}

	h.retract(kept.ID)
	r := h.get(path)
	if r.StatusCode != http.StatusOK || len(archivedTitles(r.body)) != 0 ||
		!strings.Contains(r.body, "Every report of this digest has since been retracted") {
		t.Errorf("a digest whose every report is retracted: %d, want a page saying so:\n%s", r.StatusCode, r.body)
	}
	wantContains(t, "index", h.get("/digests").body, "0 reports</div>")
}

var olderDigests = regexp.MustCompile(`<a href="(/digests\?before=\d+)" rel="next">Older digests</a>`)

func TestArchiveIndexPagesNewestFirst(t *testing.T) {
	h := newHarness(t, options{})
	h.confirmed("ada@example.org")
	var want []string // the index's links, newest first
	for i := range 25 {
		h.addReport(fmt.Sprint("Report ", i), -time.Minute)
		outcome := alertd.MessageSent
		if i == 7 {
			outcome = alertd.MessageFailed // never sent: not listed
		}
		d := h.sendDigest(outcome)
		if outcome == alertd.MessageSent {
			want = slices.Insert(want, 0, fmt.Sprintf(`<a href="/digests/%d">Digest of %s</a>`, d.ID, h.clock.Now().Format("2 January 2006")))
		}
		h.clock.Advance(24 * time.Hour)
	}
	links := regexp.MustCompile(`<a href="/digests/\d+">[^<]*</a>`)
	first := h.get("/digests")
	if got := links.FindAllString(first.body, -1); !slices.Equal(got, want[:20]) {
		t.Errorf("the first page lists %q, want %q", got, want[:20])
	}
	wantContains(t, "index", first.body, "1 report</div>")
	wantNothingPersonalOrTracking(t, "/digests", first, "ada@example.org")
	older := olderDigests.FindStringSubmatch(first.body)
	if older == nil {
		t.Fatalf("the first page has no Older digests link:\n%s", first.body)
	}
	second := h.get(older[1])
	if got := links.FindAllString(second.body, -1); second.StatusCode != http.StatusOK || !slices.Equal(got, want[20:]) {
		t.Errorf("GET %s = %d, lists %q, want %q", older[1], second.StatusCode, got, want[20:])
	}
	if olderDigests.MatchString(second.body) || !strings.Contains(second.body, `<a href="/digests">Newest digests</a>`) {
		t.Error("the last page links to older digests, or not back to the newest")
	}
	for _, before := range []string{"x", "0", "-3", "1.5", "99999999999999999999"} {
		if r := h.get("/digests?before=" + before); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "Bad page link") {
			t.Errorf("?before=%s: status = %d, want 400 Bad page link", before, r.StatusCode)
		}
	}
}

func TestArchiveIndexSaysWhenNothingWasSent(t *testing.T) {
	h := newHarness(t, options{})
	if r := h.get("/digests"); r.StatusCode != http.StatusOK || !strings.Contains(r.body, "No digest has been sent yet.") {
		t.Errorf("empty archive: %d, want 200 saying so:\n%s", r.StatusCode, r.body)
	}
	feed := parseDigestFeed(t, h.get("/digests/feed.atom"))
	if len(feed.Entries) != 0 || feed.Updated != time.Unix(0, 0).UTC().Format(time.RFC3339) {
		t.Errorf("empty feed: %+v", feed)
	}
}

func TestPublicPagesLinkToTheArchive(t *testing.T) {
	h := newHarness(t, options{})
	h.addReport("Any", -time.Hour)
	for _, path := range []string{"/", "/reports"} {
		if !strings.Contains(h.get(path).body, `<a href="/digests">`) {
			t.Errorf("GET %s does not link to the archive", path)
		}
	}
}

// digestFeed is the part of the archive's Atom feed the tests read, as
// encoding/xml reads it: any element out of place is an error.
type digestFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID      string   `xml:"id"`
	Title   string   `xml:"title"`
	Updated string   `xml:"updated"`
	Author  string   `xml:"author>name"`
	Links   []struct {
		Rel  string `xml:"rel,attr"`
		Href string `xml:"href,attr"`
	} `xml:"link"`
	Entries []struct {
		ID        string `xml:"id"`
		Title     string `xml:"title"`
		Published string `xml:"published"`
		Updated   string `xml:"updated"`
		Link      struct {
			Rel  string `xml:"rel,attr"`
			Href string `xml:"href,attr"`
		} `xml:"link"`
		Content struct {
			Type string `xml:"type,attr"`
			Body string `xml:",chardata"`
		} `xml:"content"`
	} `xml:"entry"`
}

func parseDigestFeed(t *testing.T, r response) digestFeed {
	t.Helper()
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/atom+xml") {
		t.Fatalf("feed: %d %q, want 200 application/atom+xml", r.StatusCode, r.Header.Get("Content-Type"))
	}
	var feed digestFeed
	dec := xml.NewDecoder(strings.NewReader(r.body))
	dec.Strict = true
	if err := dec.Decode(&feed); err != nil {
		t.Fatalf("the feed is not well-formed Atom: %v\n%s", err, r.body)
	}
	return feed
}

func TestArchiveFeedIsAtomWithEachDigestLinkedAndEscaped(t *testing.T) {
	h := newHarness(t, options{})
	h.confirmed("ada@example.org")
	h.addReport("First", -time.Hour)
	first := h.sendDigest(alertd.MessageSent)
	h.clock.Advance(7 * 24 * time.Hour)
	h.addHostileReport()
	for i := range 52 {
		h.addReport(fmt.Sprintf("Bulk %02d", i), -time.Duration(i+2)*time.Minute)
	}
	second := h.sendDigest(alertd.MessageSent)

	r := h.get("/digests/feed.atom")
	for _, raw := range []string{"<script", "<img", "<b>", "<iframe", "<p onclick"} {
		if strings.Contains(r.body, raw) {
			t.Errorf("the feed holds %q unescaped", raw)
		}
	}
	feed := parseDigestFeed(t, r)
	base := h.url
	if feed.ID != base+"/digests" || feed.Title != "Research Alerts: digests" || feed.Author != "Research Alerts" ||
		feed.Updated != h.clock.Now().Format(time.RFC3339) {
		t.Errorf("feed head: id %q, title %q, author %q, updated %q", feed.ID, feed.Title, feed.Author, feed.Updated)
	}
	var self string
	for _, l := range feed.Links {
		if l.Rel == "self" {
			self = l.Href
		}
	}
	if self != base+"/digests/feed.atom" {
		t.Errorf("self link %q, want %s/digests/feed.atom", self, base)
	}
	if len(feed.Entries) != 2 {
		t.Fatalf("the feed has %d entries, want 2", len(feed.Entries))
	}
	for i, d := range []alertd.Digest{second, first} {
		e := feed.Entries[i]
		page := fmt.Sprintf("%s/digests/%d", base, d.ID)
		if e.ID != page || e.Link.Href != page || e.Link.Rel != "alternate" || e.Content.Type != "html" ||
			e.Title != "Digest of "+d.CreatedAt.Format("2 January 2006") || e.Updated != d.CreatedAt.Format(time.RFC3339) {
			t.Errorf("entry %d: %+v, want digest %d linked to %s", i, e, d.ID, page)
		}
	}
	// The content is HTML once the feed's escaping is undone, and hostile
	// text in it is still escaped: a feed reader shows it as text.
	content := feed.Entries[0].Content.Body
	for _, raw := range []string{"<script", "<img", "<b>", "<iframe", "onclick"} {
		if strings.Contains(content, raw) {
			t.Errorf("the entry's HTML holds %q", raw)
		}
	}
	wantContains(t, "entry content", content,
		`<a href="https://example.org/r/hostile?a=1&amp;b=2" class="ctext" dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; Trade</a>`,
		`…and 3 more: <a href="`+base+fmt.Sprintf("/digests/%d", second.ID)+`">see the whole digest</a>.`)
	if n := len(archivedTitle.FindAllString(content, -1)); n != 50 {
		t.Errorf("the entry lists %d reports, want the 50 it is bounded to", n)
	}
	if got := archivedTitles(feed.Entries[1].Content.Body); !slices.Equal(got, []string{"First"}) {
		t.Errorf("the first digest's entry lists %q", got)
	}
}

func TestArchivedDigestPageKeepsHostileTextInert(t *testing.T) {
	h := newHarness(t, options{})
	h.confirmed("ada@example.org")
	h.addHostileReport()
	at := h.clock.Now().Add(-2 * time.Minute)
	long := strings.Repeat("word ", 2000)
	if _, _, err := h.cat.Add(context.Background(), catalogue.Input{
		Title: "\u202eevil\u202c Outlook", URL: "https://example.org/r/long", PublishedAt: &at, Abstract: long,
	}, false); err != nil {
		t.Fatal(err)
	}
	d := h.sendDigest(alertd.MessageSent)
	path := fmt.Sprintf("/digests/%d", d.ID)
	r := h.get(path)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d", path, r.StatusCode)
	}
	for _, raw := range []string{"<script", "<img", "<b>Eve", "onclick", "<iframe", "evil.example"} {
		if strings.Contains(r.body, raw) {
			t.Errorf("the page shows %q raw", raw)
		}
	}
	wantContains(t, "digest page", r.body,
		`<a href="https://example.org/r/hostile?a=1&amp;b=2" class="ctext" dir="auto">&lt;script&gt;alert(1)&lt;/script&gt; Trade</a>`,
		`<span class="ctext" dir="auto">&lt;img src=x onerror=alert(2)&gt;</span>`,
		`<span class="ctext" dir="auto">&lt;b&gt;Eve&lt;/b&gt;</span>`,
		`<a href="https://example.org/r/long" class="ctext" dir="auto">`+"\u202eevil\u202c Outlook</a>")
	abstract := regexp.MustCompile(`<p class="muted ctext" dir="auto">(word [^<]*)</p>`).FindStringSubmatch(r.body)
	if abstract == nil || len([]rune(abstract[1])) > 300 || !strings.HasSuffix(abstract[1], "…") {
		t.Errorf("the long abstract is not cut short: %q", abstract)
	}
	wantNothingPersonalOrTracking(t, path, r, "ada@example.org")
}

var archiveEntry = regexp.MustCompile(`<li><a href="/digests/(\d+)">[^<]*</a><div class="meta">(?:<span class="ctext" dir="auto">([^<]*)</span> · )?(\d+) reports?</div></li>`)

// TestArchiveListsEachSeriesWithItsOwnReports proves that with several
// frequencies the archive lists the digests of every series, each named by
// its frequency so that two sent the same day are told apart, and that a
// digest's page and feed entry show exactly the reports of its series,
// less those retracted.
func TestArchiveListsEachSeriesWithItsOwnReports(t *testing.T) {
	h := newHarness(t, options{Frequencies: dailyAndWeekly, AdminToken: adminToken})
	day := 24 * time.Hour
	start := h.clock.Now()
	h.reader("d@example.org", "daily")
	h.reader("w@example.org", "weekly")
	h.addReport("Alpha", -time.Hour)
	h.compileAt("daily", start, 1)  // 1: Alpha
	h.compileAt("weekly", start, 1) // 2: Alpha
	h.clock.Set(start)
	bravo := h.addReport("Bravo", time.Hour)
	h.compileAt("daily", start.Add(day), 1) // 3: Bravo
	h.clock.Set(start)
	h.addReport("Charlie", 2*day)
	h.compileAt("daily", start.Add(3*day), 1)  // 4: Charlie
	h.compileAt("weekly", start.Add(7*day), 1) // 5: Bravo, Charlie
	h.retract(bravo.ID)

	var got []string
	for _, m := range archiveEntry.FindAllStringSubmatch(h.get("/digests").body, -1) {
		got = append(got, m[1]+" "+m[2]+" "+m[3])
	}
	want := []string{"5 Every week 1", "4 Every day 1", "3 Every day 0", "2 Every week 1", "1 Every day 1"}
	if !slices.Equal(got, want) {
		t.Errorf("the index lists %q, want %q", got, want)
	}
	for id, titles := range map[int][]string{1: {"Alpha"}, 2: {"Alpha"}, 3: nil, 4: {"Charlie"}, 5: {"Charlie"}} {
		page := h.get(fmt.Sprintf("/digests/%d", id)).body
		if got := archivedTitles(page); !slices.Equal(got, titles) {
			t.Errorf("digest %d lists %q, want %q", id, got, titles)
		}
		series := map[bool]string{true: "Every day", false: "Every week"}[id != 2 && id != 5]
		wantContains(t, fmt.Sprintf("digest %d", id), page, `<p class="muted ctext" dir="auto">`+series+`</p>`)
	}
	feed := parseDigestFeed(t, h.get("/digests/feed.atom"))
	if len(feed.Entries) != 5 || !strings.HasSuffix(feed.Entries[0].Title, " · Every week") ||
		strings.Contains(feed.Entries[0].Content.Body, "Bravo") || !strings.Contains(feed.Entries[0].Content.Body, "Charlie") {
		t.Errorf("the feed's newest entry: %+v, want the weekly digest, named, with Charlie alone", feed.Entries)
	}

	one := newHarness(t, options{})
	one.confirmed("ada@example.org")
	one.addReport("Alpha", -time.Hour)
	one.sendDigest(alertd.MessageSent)
	if body := one.get("/digests").body; strings.Contains(body, "Weekly") || !archiveEntry.MatchString(body) {
		t.Errorf("with one frequency the index names it:\n%s", body)
	}
}

// englishWord is a word in Latin letters.
var englishWord = regexp.MustCompile(`[A-Za-z]{2,}`)

// wantNoEnglish fails the test when the text of a page, its markup and the
// given names (the service's, reports' titles) left out, has a word in
// Latin letters.
func wantNoEnglish(t *testing.T, what, page string, names ...string) {
	t.Helper()
	text := regexp.MustCompile(`(?s)<script.*?</script>|<[^>]*>`).ReplaceAllString(page, " ")
	for _, name := range append(names, "Research Alerts", "Atom", "English") {
		text = strings.ReplaceAll(text, name, " ")
	}
	if words := englishWord.FindAllString(text, -1); len(words) > 0 {
		t.Errorf("%s has English in it: %q\n%s", what, words, page)
	}
}

// TestArchiveSpeaksChinese proves that the archive's pages, its error
// pages and both feeds are in Chinese when asked for, and that every link
// on them to another public page keeps the language.
func TestArchiveSpeaksChinese(t *testing.T) {
	h := newHarness(t, options{Languages: []string{"en", "zh-Hans"}, Frequencies: dailyAndWeekly})
	h.reader("d@example.org", "daily")
	h.addReport("Alpha", -time.Hour)
	h.compileAt("daily", h.clock.Now(), 1)

	index := h.get("/digests?lang=zh-Hans").body
	wantContains(t, "the index", index, `<html lang="zh-Hans">`, "<h1>往期邮件</h1>",
		`<a href="/digests/1?lang=zh-Hans">2026年3月2日的邮件</a>`, "1 篇报告",
		`<a href="/digests/feed.atom?lang=zh-Hans">往期邮件的 Atom 订阅源</a>`,
		`<a href="/reports?lang=zh-Hans">全部报告</a>`, `<a href="/reports/feed.atom?lang=zh-Hans">Atom 订阅源</a>`,
		`<header class="site"><div><a href="/?lang=zh-Hans">`)
	wantNoEnglish(t, "the index", index, "Every day")
	page := h.get("/digests/1?lang=zh-Hans").body
	wantContains(t, "the digest's page", page, "<h1>2026年3月2日的邮件</h1>", "这是2026年3月2日发给读者的邮件，共 1 篇报告。",
		`<a href="/digests?lang=zh-Hans">全部往期邮件</a>`)
	wantNoEnglish(t, "the digest's page", page, "Every day", "Alpha")
	for path, want := range map[string]string{"/digests/9?lang=zh-Hans": "<h1>没有这封邮件</h1>", "/digests?before=x&lang=zh-Hans": "<h1>页面链接有误</h1>"} {
		r := h.get(path)
		if r.StatusCode/100 != 4 {
			t.Errorf("%s: %d, want 4xx", path, r.StatusCode)
		}
		wantContains(t, path, r.body, want)
		wantNoEnglish(t, path, r.body)
	}
	if feed := parseDigestFeed(t, h.get("/digests/feed.atom?lang=zh-Hans")); feed.Title != "Research Alerts：往期邮件" ||
		len(feed.Entries) != 1 || feed.Entries[0].Title != "2026年3月2日的邮件 · Every day" {
		t.Errorf("the Chinese archive feed: %+v", feed)
	}
	if feed := parseDigestFeed(t, h.get("/reports/feed.atom?lang=zh-Hans")); feed.Title != "Research Alerts：最新报告" {
		t.Errorf("the Chinese report feed's title: %q", feed.Title)
	}
}

// TestDatesReadersSeeAreInTheDigestTimeZone proves that a report published
// at 01:04 +02:00 on 22 December, and a digest sent half an hour before
// midnight UTC, are of 22 December in Europe/Berlin and of 21 December in
// UTC, in both languages, on the report list, the archive's pages and in
// both parts of the digest mail.
func TestDatesReadersSeeAreInTheDigestTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	published := time.Date(2026, 12, 22, 1, 4, 0, 0, time.FixedZone("", 2*3600))
	for _, zone := range []struct {
		loc       *time.Location
		en, zh    string
		notEn     string
		notZh     string
		zoneLabel string
	}{
		{berlin, "22 December 2026", "2026年12月22日", "21 December", "12月21日", "Europe/Berlin"},
		{time.UTC, "21 December 2026", "2026年12月21日", "22 December", "12月22日", "UTC"},
	} {
		t.Run(zone.zoneLabel, func(t *testing.T) {
			h := newHarness(t, options{Languages: []string{"en", "zh-Hans"}, Location: zone.loc})
			relay, drain := h.drainer()
			h.clock.Set(time.Date(2026, 12, 21, 23, 30, 0, 0, time.UTC))
			if _, rejected, err := h.subs.ImportConfirmed(context.Background(), []subscription.ImportRow{
				{Email: "ann@example.org", Lang: "en"}, {Email: "li@example.org", Lang: "zh-Hans"},
			}, "test"); err != nil || len(rejected) > 0 {
				t.Fatal(err, rejected)
			}
			if _, _, err := h.cat.Add(context.Background(), catalogue.Input{
				Title: "Late", URL: "https://example.org/r/late", PublishedAt: &published,
			}, false); err != nil {
				t.Fatal(err)
			}
			h.compileAt(alertd.DefaultFrequency, h.clock.Now(), 2)
			drain()

			want := map[string][2]string{"en": {zone.en, zone.notEn}, "zh-Hans": {zone.zh, zone.notZh}}
			for lang, w := range want {
				for _, path := range []string{"/reports", "/digests", "/digests/1"} {
					body := h.get(path + "?lang=" + lang).body
					if !strings.Contains(body, w[0]) || strings.Contains(body, w[1]) {
						t.Errorf("%s?lang=%s shows not %q but %q:\n%s", path, lang, w[0], w[1], body)
					}
				}
			}
			mails := relay.Messages()
			if len(mails) != 2 {
				t.Fatalf("%d mails, want 2", len(mails))
			}
			for _, m := range mails {
				w := want[map[string]string{"ann@example.org": "en", "li@example.org": "zh-Hans"}[m.To[0]]]
				p := m.Parse(t)
				for part, body := range map[string]string{"text": p.Text, "HTML": p.HTML} {
					if !strings.Contains(body, w[0]) || strings.Contains(body, w[1]) {
						t.Errorf("the %s part to %s shows not %q but %q:\n%s", part, m.To[0], w[0], w[1], body)
					}
				}
			}
		})
	}
}
