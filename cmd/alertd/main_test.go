package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// instance is alertd serving in-process, as `alertd serve` would.
type instance struct {
	baseURL string
	env     map[string]string
	stdout  *signalWriter
	stderr  *alerttest.Buffer // the log
	stop    func() error
}

// testEnv is the configuration of a test instance, given through the
// environment as an operator could.
func testEnv(t *testing.T, smtp *mailtest.Server) map[string]string {
	addr := alerttest.FreeAddr(t)
	return map[string]string{
		"ALERTD_DATABASE_PATH":             filepath.Join(t.TempDir(), "alertd.db"),
		"ALERTD_SERVER_LISTEN":             addr,
		"ALERTD_SERVER_BASE_URL":           "http://" + addr,
		"ALERTD_SMTP_HOST":                 smtp.Host,
		"ALERTD_SMTP_PORT":                 strconv.Itoa(smtp.Port),
		"ALERTD_SMTP_TLS":                  "none",
		"ALERTD_MAIL_FROM":                 "Research Alerts <alerts@example.org>",
		"ALERTD_ADMIN_TOKEN":               "test-admin-token-0123456789abcdef",
		"ALERTD_SUBSCRIBE_PER_IP_PER_HOUR": "0",
	}
}

// start runs `alertd serve` in-process and waits until it listens.
func start(t *testing.T, env map[string]string) *instance {
	t.Helper()
	if _, ok := env["ALERTD_CONFIG"]; !ok {
		env["ALERTD_CONFIG"] = ""
	}
	ctx, cancel := context.WithCancel(context.Background())
	stdout := newSignalWriter("listening on")
	done := make(chan error, 1)
	stderr := &alerttest.Buffer{}
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), stdout, stderr)
	}()
	select {
	case <-stdout.seen:
	case err := <-done:
		t.Fatalf("serve stopped before listening: %v\n%s", err, stderr.String())
	}
	var once sync.Once
	var stopErr error
	stop := func() error {
		once.Do(func() { cancel(); stopErr = <-done })
		return stopErr
	}
	t.Cleanup(func() { stop() })
	return &instance{baseURL: env["ALERTD_SERVER_BASE_URL"], env: env, stdout: stdout, stderr: stderr, stop: stop}
}

// signalWriter collects output and closes seen once it contains a marker.
type signalWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newSignalWriter(marker string) *signalWriter {
	return &signalWriter{marker: marker, seen: make(chan struct{})}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

func (w *signalWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// links returns the distinct URLs in s.
func links(s string) []string {
	var out []string
	for _, l := range linkPattern.FindAllString(s, -1) {
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// TestSubscriberJourney follows one reader through the whole double opt-in:
// sign up on the form, receive the confirmation over SMTP, open its link,
// press the button, receive the welcome mail, and leave with its RFC 8058
// one-click POST.
func TestSubscriberJourney(t *testing.T) {
	smtp := mailtest.NewServer(t)
	app := start(t, testEnv(t, smtp))

	resp, body := alerttest.Do(t, "GET", app.baseURL+"/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `name="email"`) || !strings.Contains(body, "Research Alerts") {
		t.Fatalf("form page: %d\n%s", resp.StatusCode, body)
	}

	resp, _ = alerttest.Do(t, "POST", app.baseURL+"/subscribe", "application/x-www-form-urlencoded", "email="+url.QueryEscape(" Reader@Example.org "))
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/subscribe/check-email" {
		t.Fatalf("subscribe: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	confirmation := smtp.Wait(t, 1)[0]
	if got := confirmation.To; len(got) != 1 || got[0] != "Reader@Example.org" {
		t.Fatalf("confirmation went to %v, want the address as entered", got)
	}
	parsed := confirmation.Parse(t)
	confirmLinks := links(parsed.Text + parsed.HTML)
	if len(confirmLinks) != 1 || !strings.HasPrefix(confirmLinks[0], app.baseURL+"/confirm/") {
		t.Fatalf("confirmation links = %v, want exactly one confirm link", confirmLinks)
	}
	confirmURL := confirmLinks[0]

	resp, body = alerttest.Do(t, "GET", confirmURL, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `method="post"`) {
		t.Fatalf("confirm page: %d\n%s", resp.StatusCode, body)
	}
	if got := resp.Header.Get("Referrer-Policy"); got != "no-referrer" {
		t.Errorf("confirm page Referrer-Policy = %q", got)
	}
	if status := adminSubscriber(t, app, "reader@example.org")["status"]; status != "pending" {
		t.Fatalf("after GET of the confirm page, status = %v, want pending (GET changes nothing)", status)
	}

	resp, _ = alerttest.Do(t, "POST", confirmURL, "application/x-www-form-urlencoded", "")
	if resp.StatusCode != 200 {
		t.Fatalf("confirm: %d", resp.StatusCode)
	}
	if status := adminSubscriber(t, app, "READER@example.org")["status"]; status != "confirmed" {
		t.Fatalf("after confirming, status = %v", status)
	}
	if resp, _ = alerttest.Do(t, "POST", confirmURL, "application/x-www-form-urlencoded", ""); resp.StatusCode != 200 {
		t.Fatalf("confirming twice: %d, want a harmless 200", resp.StatusCode)
	}

	welcome := smtp.Wait(t, 2)[1].Parse(t)
	unsubscribe := welcome.Header.Get("List-Unsubscribe")
	if welcome.Header.Get("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" ||
		welcome.Header.Get("Precedence") != "bulk" || welcome.Header.Get("List-Id") == "" {
		t.Fatalf("welcome headers: %v", welcome.Header)
	}
	oneClick := strings.TrimSuffix(strings.TrimPrefix(unsubscribe, "<"), ">")
	if !strings.HasPrefix(oneClick, app.baseURL+"/unsubscribe/") || !strings.Contains(welcome.Text, oneClick) {
		t.Fatalf("List-Unsubscribe = %q; it must be the visible link too", unsubscribe)
	}

	resp, _ = alerttest.Do(t, "GET", oneClick, "", "")
	if resp.StatusCode != 200 {
		t.Fatalf("unsubscribe page: %d", resp.StatusCode)
	}
	if status := adminSubscriber(t, app, "reader@example.org")["status"]; status != "confirmed" {
		t.Fatalf("after GET of the unsubscribe page, status = %v, want confirmed", status)
	}

	// A mail provider's one-click POST: no cookies, no Origin, no redirect.
	resp, _ = alerttest.Do(t, "POST", oneClick, "application/x-www-form-urlencoded", "List-Unsubscribe=One-Click")
	if resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %d, want 200", resp.StatusCode)
	}
	if status := adminSubscriber(t, app, "reader@example.org")["status"]; status != "unsubscribed" {
		t.Fatalf("after one-click, status = %v", status)
	}
	if err := app.stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if n := len(smtp.Messages()); n != 2 {
		t.Errorf("%d messages sent, want 2 (confirmation, welcome)", n)
	}
}

func adminSubscriber(t *testing.T, app *instance, email string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest("GET", app.baseURL+"/api/v1/subscribers/"+url.PathEscape(email), nil)
	req.Header.Set("Authorization", "Bearer "+app.env["ALERTD_ADMIN_TOKEN"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sub map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&sub); err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin lookup of %s: %d %v", email, resp.StatusCode, err)
	}
	return sub
}

// TestExitCodes proves the command line's contract: 0 on success, 2 on bad
// usage or configuration (naming the key), with a one-line reason.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"version", []string{"version"}, nil, 0, ""},
		{"unknown command", []string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{"bad config value", []string{"migrate"}, map[string]string{"ALERTD_SMTP_TLS": "sometimes"}, 2, "smtp.tls"},
		{"short admin token", []string{"migrate"}, map[string]string{"ALERTD_ADMIN_TOKEN": "x"}, 2, "admin.token"},
		{"missing config file", []string{"-config", filepath.Join(dir, "nope.toml"), "migrate"}, nil, 2, "nope.toml"},
		{"migrate", []string{"migrate"}, nil, 0, ""},
		{"export unknown", []string{"subscribers", "export", "nobody@example.org"}, nil, 1, "nobody@example.org"},
		{"list bad status", []string{"subscribers", "list", "--status", "happy"}, nil, 2, "--status"},
		{"missing DKIM key", []string{"check"}, map[string]string{
			"ALERTD_DKIM_DOMAIN": "example.org", "ALERTD_DKIM_SELECTOR": "alertd",
			"ALERTD_DKIM_PRIVATE_KEY_FILE": filepath.Join(dir, "nope.pem"),
		}, 2, "dkim.private_key_file"},
		// Commands that send no mail do not read the mail settings.
		{"reports list without the DKIM key", []string{"reports", "list"}, map[string]string{
			"ALERTD_DKIM_DOMAIN": "example.org", "ALERTD_DKIM_SELECTOR": "alertd",
			"ALERTD_DKIM_PRIVATE_KEY_FILE": filepath.Join(dir, "nope.pem"),
		}, 0, ""},
		{"invalid report", []string{"reports", "add", "--title", "T", "--url", "ftp://example.org/r"}, nil, 2, "url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ALERTD_DATABASE_PATH": filepath.Join(t.TempDir(), "a.db"), "ALERTD_CONFIG": ""}
			for k, v := range tc.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
			code := 0
			if err != nil {
				code = exitCode(err)
			}
			if code != tc.code {
				t.Fatalf("exit code %d, want %d (err %v)", code, tc.code, err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("error %v, want it to name %q", err, tc.want)
			}
			if err != nil && strings.Contains(alertd.OneLine(err.Error()), "\n") {
				t.Fatalf("reason is not one line: %q", err)
			}
		})
	}
}

// runCommand runs one alertd command in-process with the instance's
// environment and returns its output.
func runCommand(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("alertd %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// adminPost calls the instance's admin API.
func adminPost(t *testing.T, app *instance, path, body string) (int, map[string]any) {
	t.Helper()
	return alerttest.AdminPost(t, app.baseURL, app.env["ALERTD_ADMIN_TOKEN"], path, body)
}

// TestDigestJourney follows a digest from the admin API to the readers'
// inboxes: reports come in (one embargoed), a digest is compiled and sent
// over SMTP to every confirmed subscriber with the list headers, and a
// reader leaves with the digest's one-click unsubscribe.
func TestDigestJourney(t *testing.T) {
	smtp := mailtest.NewServer(t)
	env := testEnv(t, smtp)
	subscribersCSV := filepath.Join(t.TempDir(), "subscribers.csv")
	if err := os.WriteFile(subscribersCSV, []byte("email\nAda@example.org\nbob@example.org\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runCommand(t, env, "subscribers", "import", "--confirmed", subscribersCSV)
	app := start(t, env)

	now := time.Now().UTC()
	reports := []string{
		fmt.Sprintf(`{"title": "Water & <b>Energy</b> Outlook", "url": "https://example.org/r/1", "series": "Research Report", "number": "No. 26, 2026", "authors": ["A. Author"], "abstract": "<p>Findings.</p>", "published_at": %q}`, now.Add(-2*time.Hour).Format(time.RFC3339)),
		fmt.Sprintf(`{"title": "<script>alert(1)</script> Trade", "url": "https://example.org/r/2", "published_at": %q}`, now.Add(-time.Hour).Format(time.RFC3339)),
		fmt.Sprintf(`{"title": "Embargoed", "url": "https://example.org/r/3", "published_at": %q}`, now.Add(48*time.Hour).Format(time.RFC3339)),
	}
	for _, r := range reports {
		if code, out := adminPost(t, app, "/api/v1/reports", r); code != http.StatusCreated {
			t.Fatalf("add report: %d %v", code, out)
		}
	}
	code, digest := adminPost(t, app, "/api/v1/digests", "")
	if code != http.StatusCreated || digest["reports"] != float64(2) || digest["recipients"] != float64(2) {
		t.Fatalf("compile digest: %d %v, want 2 reports for 2 recipients", code, digest)
	}

	byRecipient := map[string]mailtest.Parsed{}
	for _, m := range smtp.Wait(t, 2) {
		byRecipient[m.To[0]] = m.Parse(t)
	}
	ada, ok := byRecipient["Ada@example.org"]
	if !ok {
		t.Fatalf("no digest for Ada@example.org; got %v", byRecipient)
	}
	if ada.Subject != "New reports: 2 publications" {
		t.Errorf("subject %q", ada.Subject)
	}
	for _, h := range []struct{ name, want string }{
		{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
		{"Precedence", "bulk"},
		{"Auto-Submitted", "auto-generated"},
	} {
		if got := ada.Header.Get(h.name); got != h.want {
			t.Errorf("%s = %q, want %q", h.name, got, h.want)
		}
	}
	if ada.Header.Get("List-Id") == "" {
		t.Error("no List-Id")
	}
	if strings.Contains(ada.HTML, "<script>") || !strings.Contains(ada.HTML, "&lt;script&gt;") {
		t.Error("the hostile title is not escaped in the HTML part")
	}
	if strings.Contains(ada.Text+ada.HTML, "Embargoed") {
		t.Error("the embargoed report was announced")
	}
	if !strings.Contains(ada.Text, "https://example.org/r/1") || !strings.Contains(ada.Text, "No. 26, 2026") {
		t.Errorf("the text part lacks the report's link or number:\n%s", ada.Text)
	}
	oneClick := strings.Trim(ada.Header.Get("List-Unsubscribe"), "<>")
	if !strings.Contains(ada.Text, oneClick) || !strings.Contains(ada.HTML, oneClick) {
		t.Errorf("the unsubscribe link %q is not visible in both parts", oneClick)
	}

	resp, _ := alerttest.Do(t, "POST", oneClick, "multipart/form-data; boundary=b",
		"--b\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b--\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("one-click from the digest: %d", resp.StatusCode)
	}
	if status := adminSubscriber(t, app, "ada@example.org")["status"]; status != "unsubscribed" {
		t.Fatalf("after one-click, Ada is %v", status)
	}
	if status := adminSubscriber(t, app, "bob@example.org")["status"]; status != "confirmed" {
		t.Fatalf("Bob is %v; only Ada left", status)
	}

	if code, out := adminPost(t, app, "/api/v1/digests", ""); code != http.StatusOK || out["skipped"] != "no new reports" {
		t.Fatalf("second compile: %d %v, want skipped", code, out)
	}
	if err := app.stop(); err != nil {
		t.Fatal(err)
	}
	list := runCommand(t, env, "digest", "list")
	if !regexp.MustCompile(`(?m)^1\s.*\sdone\s+2\s+2\s+2\s+0\s+0\s+0\s*$`).MatchString(list) {
		t.Fatalf("digest list after delivery:\n%s", list)
	}
}

// TestBackupWhileServing proves `alertd backup FILE` writes a consistent,
// usable copy of the database while `alertd serve` runs on it, and refuses
// to overwrite a file.
func TestBackupWhileServing(t *testing.T) {
	smtp := mailtest.NewServer(t)
	env := testEnv(t, smtp)
	app := start(t, env)
	resp, _ := alerttest.Do(t, "POST", app.baseURL+"/subscribe", "application/x-www-form-urlencoded", "email=kept%40example.org")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("subscribe: %d", resp.StatusCode)
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	runCommand(t, env, "backup", copyPath)

	restored := map[string]string{"ALERTD_DATABASE_PATH": copyPath, "ALERTD_CONFIG": ""}
	if out := runCommand(t, restored, "subscribers", "list"); !strings.Contains(out, "kept@example.org") {
		t.Fatalf("the copy lacks the subscriber:\n%s", out)
	}
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"backup", copyPath}, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over an existing file: %v", err)
	}
}
