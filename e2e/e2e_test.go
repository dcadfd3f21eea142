// Package e2e proves alertd the way its users meet it: a real `alertd serve`
// process, Debian's Chromium driven by chromedp, and mailpit as the SMTP
// server, whose checks and SpamAssassin's score judge the mail it receives.
//
// Each outside tool is looked up when a test needs it; a test whose tool is
// missing skips and says how to install it. .ci/run installs them all, so in
// CI nothing skips.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/alerttest"
)

// alertdBinary is the `alertd` program TestMain builds once for every test;
// it is set before any test runs and never changed after.
var alertdBinary string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "alertd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: make a directory for the alertd binary:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	alertdBinary = filepath.Join(dir, "alertd")
	build := exec.Command("go", "build", "-o", alertdBinary, "./cmd/alertd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/alertd: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("find the module root with `go env GOMOD`: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the alertd module: run the tests from the repository")
	}
	return filepath.Dir(gomod), nil
}

// findTool returns the path of an outside program, looked up on PATH and
// then in the given directories, or skips the test with how to install it.
func findTool(t *testing.T, names []string, install string, dirs ...string) string {
	t.Helper()
	for _, name := range names {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, name)
			if info, err := os.Stat(path); err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
				return path
			}
		}
	}
	t.Skipf("%s is not installed, so this test cannot run: %s (.ci/run does)", names[0], install)
	return ""
}

// process is an outside program the test started and stops.
type process struct {
	name   string
	cmd    *exec.Cmd
	output *alerttest.Buffer
	done   chan struct{} // closed when the program has exited
	err    error         // its exit status, once done is closed
}

// startProcess runs a program whose output is kept for failure messages,
// and stops it with SIGTERM when the test ends.
func startProcess(t *testing.T, name string, env []string, dir string, args ...string) *process {
	t.Helper()
	p := &process{name: filepath.Base(name), output: &alerttest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = env
	p.cmd.Dir = dir
	p.cmd.Stdout = p.output
	p.cmd.Stderr = p.output
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
			t.Errorf("%s exited before the test ended: %v\n%s", p.name, p.err, p.output)
			return
		default:
		}
		if err := p.stop(); err != nil {
			t.Errorf("%s did not stop cleanly on SIGTERM: %v\n%s", p.name, err, p.output)
		}
	})
	return p
}

// stop asks the program to end as an operator's service manager would, and
// kills it if it has not ended in time.
func (p *process) stop() error {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("send SIGTERM: %w", err)
	}
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return errors.New("still running 15s after SIGTERM; killed")
	}
}

// waitReady polls url until it answers 200, failing the test when the
// program exits first or the deadline passes.
func (p *process) waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready at %s after 20s (last: %v)\n%s", p.name, url, describe(resp, err), p.output)
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", p.name, p.err, p.output)
		case <-tick.C:
		}
	}
}

func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

// formType is how a browser sends a form.
const formType = "application/x-www-form-urlencoded"

// app is `alertd serve` running as its own process.
type app struct {
	baseURL    string
	adminToken string
}

// operator is the one address that may sign in to the dashboard.
const operator = "ops@example.org"

// startAlertd runs `alertd serve` configured only through the environment,
// as an operator could, sending its mail to catcher.
func startAlertd(t *testing.T, catcher *mailpit) *app {
	t.Helper()
	addr := alerttest.FreeAddr(t)
	a := &app{baseURL: "http://" + addr, adminToken: "e2e-admin-token-0123456789abcdef"}
	env := map[string]string{
		// Empty: no config file, whatever ./config.toml the developer has.
		"ALERTD_CONFIG":                    "",
		"ALERTD_DATABASE_PATH":             filepath.Join(t.TempDir(), "alertd.db"),
		"ALERTD_SERVER_LISTEN":             addr,
		"ALERTD_SERVER_BASE_URL":           a.baseURL,
		"ALERTD_SMTP_HOST":                 "127.0.0.1",
		"ALERTD_SMTP_PORT":                 strconv.Itoa(catcher.smtpPort),
		"ALERTD_SMTP_TLS":                  "none",
		"ALERTD_MAIL_FROM":                 "Research Alerts <alerts@example.org>",
		"ALERTD_ADMIN_TOKEN":               a.adminToken,
		"ALERTD_SUBSCRIBE_PER_IP_PER_HOUR": "0",
		"ALERTD_ADMIN_EMAILS":              operator,
		// Both languages, so that every page offers the choice.
		"ALERTD_SITE_LANGUAGES": "en,zh-Hans",
	}
	p := startProcess(t, alertdBinary, alerttest.Environ(env), t.TempDir(), "serve")
	p.waitReady(t, a.baseURL+"/healthz")
	return a
}

// adminPost calls the admin API.
func (a *app) adminPost(t *testing.T, path, body string) (int, map[string]any) {
	t.Helper()
	return alerttest.AdminPost(t, a.baseURL, a.adminToken, path, body)
}

// subscribe signs an address up in a language and confirms it over HTTP,
// as a reader's browser would, and returns the confirmation and welcome
// mails.
func (a *app) subscribe(t *testing.T, catcher *mailpit, email, lang string) (confirmation, welcome message) {
	t.Helper()
	form := url.Values{"email": {email}, "lang": {lang}}.Encode()
	if resp, body := alerttest.Do(t, http.MethodPost, a.baseURL+"/subscribe", formType, form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("subscribe: %s\n%s", resp.Status, body)
	}
	confirmation = catcher.next(t, email)
	if resp, body := alerttest.Do(t, http.MethodPost, link(t, confirmation, "/confirm/"), formType, "confirm=1"); resp.StatusCode != http.StatusOK {
		t.Fatalf("confirm: %s\n%s", resp.Status, body)
	}
	return confirmation, catcher.next(t, email)
}

// publishDigest adds one report through the admin API and compiles a digest
// of it for every confirmed subscriber.
func (a *app) publishDigest(t *testing.T) {
	t.Helper()
	report := fmt.Sprintf(`{"title": "Water and Energy Outlook 2026", "url": "https://example.org/reports/water-energy-2026",
		"series": "Research Report", "number": "No. 26, 2026", "authors": ["A. Author", "B. Author"],
		"abstract": "How water scarcity shapes the energy transition in river basins, with three regional case studies.",
		"published_at": %q}`, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code, out := a.adminPost(t, "/api/v1/reports", report); code != http.StatusCreated {
		t.Fatalf("add a report: %d %v", code, out)
	}
	if code, out := a.adminPost(t, "/api/v1/digests", ""); code != http.StatusCreated {
		t.Fatalf("compile a digest: %d %v", code, out)
	}
}

// eventually polls cond until it holds or the deadline passes. It is for
// outside programs that offer no signal to wait on.
func eventually(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
