package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// deepFeed is an RSS feed whose one item holds an element nested a million
// deep: 5 MB, within the size a feed may have.
var deepFeed = `<rss version="2.0" xmlns:x="urn:x"><channel><title>Reports</title><item><title>T</title>` +
	`<link>https://r.example/1</link>` + strings.Repeat("<x:a>", 1_000_000)

// holdStack keeps the stack to 64 MiB for the test, so that the 5 MB deep
// feed is enough to overflow it if the feed parser ever sees the feed; at
// the default 1 GiB it takes 25 MB.
func holdStack(t *testing.T) {
	old := debug.SetMaxStack(64 << 20)
	t.Cleanup(func() { debug.SetMaxStack(old) })
}

// serveFeed serves body at every path and tells hits of each request, once
// its answer is written.
func serveFeed(t *testing.T, body string) (*httptest.Server, chan struct{}) {
	t.Helper()
	hits := make(chan struct{}, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body))
		select {
		case hits <- struct{}{}:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func TestReportsImportRefusesAHostileFeed(t *testing.T) {
	holdStack(t)
	env := cliEnv(t)
	r := cliRun(t, env, "reports", "import", "--format", "feed", writeFile(t, "deep.xml", deepFeed))
	if r.code() != 1 || r.err == nil || strings.Contains(r.err.Error(), "\n") ||
		!strings.Contains(r.err.Error(), "the feed is refused: it nests more than 100 levels deep") {
		t.Errorf("exit code %d, error %v; want 1 and one line naming the depth", r.code(), r.err)
	}
}

func TestReportsImportRefusesAPrivateDestinationByDefault(t *testing.T) {
	rss, err := os.ReadFile(sample("reports.rss"))
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := serveFeed(t, string(rss))
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	env := cliEnv(t)
	url := "http://localhost:" + port + "/feed.rss"
	r := cliRun(t, env, "reports", "import", url)
	if r.code() != 1 || r.err == nil || !strings.HasPrefix(r.err.Error(), "refusing to fetch "+url+": ") ||
		!strings.Contains(r.err.Error(), "is a loopback address; set fetch.allow_private_networks = true") {
		t.Errorf("exit code %d, error %v; want 1 and the loopback address refused", r.code(), r.err)
	}
	if list := cliOK(t, env, "reports", "list"); strings.Contains(list, "Trade Policy") {
		t.Errorf("the refused feed was imported:\n%s", list)
	}
}

// reviewedFeed is the feed of a source under review.
const reviewedFeed = `<rss version="2.0"><channel><title>Reports</title><item><title>Held For Review</title>` +
	`<link>https://r.example/held</link><pubDate>Sun, 01 Mar 2026 08:00:00 GMT</pubDate></item></channel></rss>`

// adminGet reads an admin route with the bearer token.
func adminGet(t *testing.T, app *instance, path string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, app.baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+app.env["ALERTD_ADMIN_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", path, resp.Status, err, body)
	}
	return string(body)
}

// TestServeRefusesAHostileSourceAndKeepsPolling proves that a source serving
// a feed that would overflow the stack is refused with its reason in the
// log, on the source's status and in the metrics, polled again at its next
// time, and that the other sources and the service go on: a source under
// review has its report held, out of the catalogue.
func TestServeRefusesAHostileSourceAndKeepsPolling(t *testing.T) {
	holdStack(t)
	rss, err := os.ReadFile(sample("reports.rss"))
	if err != nil {
		t.Fatal(err)
	}
	hostile, hostileHits := serveFeed(t, deepFeed)
	good, goodHits := serveFeed(t, string(rss))
	reviewed, reviewedHits := serveFeed(t, reviewedFeed)
	env := testEnv(t, mailtest.NewServer(t))
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	env["ALERTD_CONFIG"] = filepath.Join(t.TempDir(), "config.toml")
	config := "[[sources]]\nurl = \"" + hostile.URL + "/deep.xml\"\nschedule = \"@every 1s\"\n" +
		"[[sources]]\nurl = \"" + good.URL + "/feed.rss\"\nschedule = \"@every 1s\"\n" +
		"[[sources]]\nurl = \"" + reviewed.URL + "/feed.rss\"\nschedule = \"@every 1s\"\nreview = true\n"
	if err := os.WriteFile(env["ALERTD_CONFIG"], []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	app := start(t, env)

	// A source is polled again only once its last poll has finished and
	// been recorded.
	deadline := time.After(30 * time.Second)
	for _, hits := range []chan struct{}{hostileHits, hostileHits, goodHits, goodHits, reviewedHits, reviewedHits} {
		select {
		case <-hits:
		case <-deadline:
			t.Fatalf("the sources were not polled twice each in 30 s; log:\n%s", app.stderr)
		}
	}
	if log := app.stderr.String(); !strings.Contains(log, "poll feed source") ||
		!strings.Contains(log, hostile.URL+"/deep.xml") || !strings.Contains(log, "the feed is refused: it nests more than 100 levels deep") {
		t.Errorf("the log does not name the refused source and why:\n%s", log)
	}
	if resp, body := alerttest.Do(t, http.MethodGet, app.baseURL+"/reports", "", ""); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, "Trade Policy After the Elections") || strings.Contains(body, "Held For Review") {
		t.Errorf("GET /reports: %d; want the good source's reports listed, the reviewed one's not:\n%s", resp.StatusCode, body)
	}
	if held := adminGet(t, app, "/api/v1/reports?status=held"); !strings.Contains(held, "Held For Review") {
		t.Errorf("the review queue does not hold the reviewed source's report: %s", held)
	}

	var statuses []alertd.SourceStatus
	if err := json.Unmarshal([]byte(adminGet(t, app, "/api/v1/sources")), &statuses); err != nil || len(statuses) != 3 {
		t.Fatalf("GET /api/v1/sources: %+v %v, want the three sources", statuses, err)
	}
	if s := statuses[0]; s.Outcome != alertd.PollError || s.LastSuccessAt != nil ||
		!strings.Contains(s.LastError, "the feed is refused: it nests more than 100 levels deep") {
		t.Errorf("the hostile source's status: %+v, want an error naming the depth, never a success", s)
	}
	if s := statuses[1]; s.Outcome != alertd.PollOK || s.LastSuccessAt == nil || s.TotalAdded == 0 || s.LastError != "" {
		t.Errorf("the good source's status: %+v, want its reports added", s)
	}
	if s := statuses[2]; !s.Review || s.Outcome != alertd.PollOK || s.TotalAdded != 1 {
		t.Errorf("the reviewed source's status: %+v, want its one report added", s)
	}
	metrics := adminGet(t, app, "/metrics")
	for _, want := range []string{
		`alertd_source_polls_total{outcome="error",source="` + hostile.URL + `/deep.xml"}`,
		`alertd_source_polls_total{outcome="ok",source="` + good.URL + `/feed.rss"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := app.stop(); err != nil {
		t.Errorf("serve ended with %v", err)
	}
}
