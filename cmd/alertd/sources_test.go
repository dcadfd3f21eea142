package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// centreSource is the [[sources]] entry of the research centre's "Reports"
// page at url, as the README gives it.
func centreSource(url string) string {
	return `[[sources]]
url = "` + url + `"
format = "html"
item = "ul.report-list > li"
title = "h3"
link = "h3 a"
date = ".date-display-single"
detail = true
authors = ".field-name-field-authors"
authors_pattern = '^By\s+(.+)'
series = ".field-name-field-series"
series_pattern = '^(.+?),\s*No\.'
number = ".field-name-field-series"
number_pattern = 'No\.\s*(\d+)'
abstract = ".field-name-body p:first-child"
abstract_pattern = '^Abstract:\s*(.+)'
keywords = "p.keywords"
keywords_pattern = '^Key words:\s*(.+)'
`
}

// serveSite serves the site fixtures of the catalogue's tests.
func serveSite(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.FileServer(http.Dir(sample("site"))))
	t.Cleanup(srv.Close)
	return srv
}

func withConfig(t *testing.T, env map[string]string, config string) {
	t.Helper()
	env["ALERTD_CONFIG"] = filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(env["ALERTD_CONFIG"], []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSourcesTestPrintsWhatAPollWouldAddAndStoresNothing(t *testing.T) {
	site := serveSite(t)
	url := site.URL + "/reports/"
	env := cliEnv(t)
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	withConfig(t, env, "[digest]\ntimezone = \"Asia/Shanghai\"\n"+centreSource(url))

	out := cliOK(t, env, "sources", "test", url)
	for _, want := range []string{
		url + ": 3 items; a poll would add 3, leave 0 known and reject 0 (nothing was stored)",
		"item 1: new\n  title:     Regional Trade after the Pandemic: Research & Development in Small Firms\n" +
			"  url:       " + site.URL + "/reports/2020/regional-trade-after-the-pandemic.html\n" +
			"  published: 2020-03-05 00:00 CST\n" +
			"  authors:   Jane Doe; John Roe; Ann Poe\n" +
			"  series:    Research Report\n" +
			"  number:    26\n" +
			"  keywords:  trade; small firms; R&D; pandemic\n" +
			"  abstract:  Small firms in border regions lost a third of their export orders in the spring of 2020.",
		"item 3: new\n  title:     Energy Prices and Household Budgets\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("sources test output lacks\n%s\n--- output:\n%s", want, out)
		}
	}
	if strings.Contains(out, "replica") {
		t.Errorf("the spam line above the list is listed:\n%s", out)
	}
	if list := cliOK(t, env, "reports", "list"); strings.Contains(list, "Regional Trade") {
		t.Errorf("sources test stored reports:\n%s", list)
	}
}

func TestSourcesTestEscapesThePagesText(t *testing.T) {
	srv, _ := serveFeed(t, `<ul><li><a href="/r/1">Report&#x202e;txt.exe</a> <i>2020-03-05</i></li>`+
		"<li><a href=\"/r/2\">Fine</a> <i>2020-03-05</i><b>Key\u202eword\x1b[2J</b></li></ul>")
	url := srv.URL + "/reports"
	env := cliEnv(t)
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	withConfig(t, env, "[[sources]]\nurl = \""+url+"\"\nformat = \"html\"\nitem = \"li\"\ntitle = \"a\"\ndate = \"i\"\nkeywords = \"b\"\n")
	out := cliOK(t, env, "sources", "test", url)
	if strings.ContainsAny(out, "\u202e\x1b") || !strings.Contains(out, `\u202e`) {
		t.Errorf("the page's control characters reach the terminal, or are not shown escaped:\n%q", out)
	}
}

func TestSourcesTestNeedsAConfiguredSource(t *testing.T) {
	env := cliEnv(t)
	r := cliRun(t, env, "sources", "test", "https://www.cres.example/reports/")
	if r.code() != 2 || r.err == nil || !strings.Contains(r.err.Error(), "no [[sources]] entry has the url") {
		t.Errorf("exit code %d, error %v; want 2 and the url named", r.code(), r.err)
	}
}

// TestServeShowsARedesignedPageAsAnError proves that an html source whose
// page no longer matches is an error in the log, on the source's status and
// in the metrics, and that what it had added stays.
func TestServeShowsARedesignedPageAsAnError(t *testing.T) {
	site := serveSite(t)
	redesigned, hits := serveFeed(t, mustRead(t, sample("site/reports/redesign.html")))
	good, bad := site.URL+"/reports/", redesigned.URL+"/reports/"
	env := testEnv(t, mailtest.NewServer(t))
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	withConfig(t, env, centreSource(good)+"schedule = \"@every 1s\"\n"+centreSource(bad)+"schedule = \"@every 1s\"\n")
	app := start(t, env)

	deadline := time.After(30 * time.Second)
	for range 2 {
		select {
		case <-hits:
		case <-deadline:
			t.Fatalf("the redesigned page was not polled twice in 30 s; log:\n%s", app.stderr)
		}
	}
	var statuses []alertd.SourceStatus
	for {
		if err := json.Unmarshal([]byte(adminGet(t, app, "/api/v1/sources")), &statuses); err != nil || len(statuses) != 2 {
			t.Fatalf("GET /api/v1/sources: %+v %v, want the two sources", statuses, err)
		}
		if statuses[0].LastPollAt != nil && statuses[1].LastPollAt != nil {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("the sources were not both polled in 30 s: %+v", statuses)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if s := statuses[0]; s.Outcome != alertd.PollOK || s.TotalAdded != 3 {
		t.Errorf("the matching page's status: %+v, want its 3 reports added", s)
	}
	if s := statuses[1]; s.Outcome != alertd.PollError || s.TotalAdded != 0 || !strings.Contains(s.LastError, "the item selector finds nothing") {
		t.Errorf("the redesigned page's status: %+v, want an error naming the item selector", s)
	}
	if log := app.stderr.String(); !strings.Contains(log, bad) || !strings.Contains(log, "the item selector finds nothing") {
		t.Errorf("the log does not name the redesigned page and why:\n%s", log)
	}
	if metrics := adminGet(t, app, "/metrics"); !strings.Contains(metrics, `alertd_source_polls_total{outcome="error",source="`+bad+`"}`) {
		t.Errorf("/metrics does not count the failed poll:\n%s", metrics)
	}
	if err := app.stop(); err != nil {
		t.Errorf("serve ended with %v", err)
	}
}

func mustRead(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestSourcesTestReadsAFeedSourceToo(t *testing.T) {
	srv, _ := serveFeed(t, reviewedFeed)
	url := srv.URL + "/feed.rss"
	env := cliEnv(t)
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	withConfig(t, env, "[[sources]]\nurl = \""+url+"\"\nreview = true\n")
	out := cliOK(t, env, "sources", "test", url)
	if !strings.Contains(out, "item 1: new, held for review\n  title:     Held For Review\n  url:       https://r.example/held\n") {
		t.Errorf("sources test of a feed:\n%s", out)
	}
}
