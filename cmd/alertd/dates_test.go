package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/mail/mailtest"
)

// TestDatesAreShownInTheDigestTimeZone proves that a report published just
// after midnight in digest.timezone, still the day before in UTC, is listed
// under the local day on the public pages and in the digest's text and HTML.
func TestDatesAreShownInTheDigestTimeZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	y, m, d := time.Now().In(berlin).AddDate(0, 0, -2).Date()
	at := time.Date(y, m, d, 0, 30, 0, 0, berlin)
	local, utc := at.Format("2 January 2006"), at.UTC().Format("2 January 2006")
	if local == utc {
		t.Fatalf("%v is on the same day in UTC: the test proves nothing", at)
	}

	env := testEnv(t, mailtest.NewServer(t))
	env["ALERTD_DIGEST_TIMEZONE"] = "Europe/Berlin"
	cliOK(t, env, "reports", "add", "--title", "Just After Midnight", "--url", "https://example.org/r/1",
		"--published", at.Format(time.RFC3339))

	for _, view := range []string{"text", "html"} {
		args := []string{"digest", "preview"}
		if view == "html" {
			args = append(args, "--html")
		}
		if out := cliOK(t, env, args...); !strings.Contains(out, local) || strings.Contains(out, utc) {
			t.Errorf("the digest's %s shows the report's day as UTC's %q, not %q:\n%s", view, utc, local, out)
		}
	}

	app := start(t, env)
	for _, path := range []string{"/reports", "/"} {
		resp, err := http.Get(app.baseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if page := string(body); !strings.Contains(page, local) || strings.Contains(page, utc) {
			t.Errorf("%s shows the report's day as UTC's %q, not %q:\n%s", path, utc, local, page)
		}
	}
}
