package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

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

// TestServeRefusesAHostileSourceAndKeepsPolling proves that a source serving
// a feed that would overflow the stack is refused with its reason in the
// log, polled again at its next time, and that the other sources and the
// service go on.
func TestServeRefusesAHostileSourceAndKeepsPolling(t *testing.T) {
	holdStack(t)
	rss, err := os.ReadFile(sample("reports.rss"))
	if err != nil {
		t.Fatal(err)
	}
	hostile, hostileHits := serveFeed(t, deepFeed)
	good, goodHits := serveFeed(t, string(rss))
	env := testEnv(t, mailtest.NewServer(t))
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	env["ALERTD_CONFIG"] = filepath.Join(t.TempDir(), "config.toml")
	config := "[[sources]]\nurl = \"" + hostile.URL + "/deep.xml\"\nschedule = \"@every 1s\"\n" +
		"[[sources]]\nurl = \"" + good.URL + "/feed.rss\"\nschedule = \"@every 1s\"\n"
	if err := os.WriteFile(env["ALERTD_CONFIG"], []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	app := start(t, env)

	// A source is polled again only once its last poll has finished.
	deadline := time.After(30 * time.Second)
	for _, hits := range []chan struct{}{hostileHits, hostileHits, goodHits, goodHits} {
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
		!strings.Contains(body, "Trade Policy After the Elections") {
		t.Errorf("GET /reports: %d; want the good source's reports listed:\n%s", resp.StatusCode, body)
	}
	if err := app.stop(); err != nil {
		t.Errorf("serve ended with %v", err)
	}
}
