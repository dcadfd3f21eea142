package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// browser is a headless Chromium tab that remembers a screenshot of every
// page it showed, and writes them out when the test fails.
type browser struct {
	t         *testing.T
	ctx       context.Context
	shots     []screenshot
	artifacts string
	axe       string // axe-core's script, run on every page shown
}

type screenshot struct {
	name string
	png  []byte
}

// pageState is what the reader sees on a page.
type pageState struct {
	Status       int64  `json:"-"`
	URL          string `json:"url"`
	Title        string `json:"title"`
	Heading      string `json:"heading"`
	Main         string `json:"main"`
	Alert        string `json:"alert"`
	EmailValue   string `json:"emailValue"`
	EmailInvalid bool   `json:"emailInvalid"`
}

const readPage = `(() => {
	const text = sel => { const e = document.querySelector(sel); return e ? e.innerText.trim() : ""; };
	const email = document.querySelector("#email");
	return {
		url: location.href, title: document.title,
		heading: text("h1"), main: text("main"), alert: text("[role=alert]"),
		emailValue: email ? email.value : "",
		emailInvalid: !!email && email.getAttribute("aria-invalid") === "true",
	};
})()`

// newBrowser starts Debian's Chromium headless with a fresh profile, or
// skips the test when no Chromium is installed.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	chromium := findTool(t, []string{"chromium", "chromium-browser"}, "apt-get install -y chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // root in a container has no user namespace to sandbox with
		chromedp.DisableGPU,
		// The network is closed: background fetches would only fail, slowly.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first run starts the browser for as long as ctx lives, so it has
	// no timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", chromium, err)
	}
	b := &browser{t: t, ctx: ctx, artifacts: artifactsDir(t), axe: axeScript(t)}
	t.Cleanup(b.saveScreenshotsIfFailed)
	return b
}

// artifactsDir is where a failed test leaves its screenshots:
// $ALERTD_TEST_ARTIFACTS, else e2e/artifacts, one folder per test.
func artifactsDir(t *testing.T) string {
	root := os.Getenv("ALERTD_TEST_ARTIFACTS")
	if root == "" {
		root = "artifacts"
	}
	dir, err := filepath.Abs(filepath.Join(root, strings.ReplaceAll(t.Name(), "/", "_")))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func (b *browser) saveScreenshotsIfFailed() {
	if !b.t.Failed() || len(b.shots) == 0 {
		return
	}
	if err := os.RemoveAll(b.artifacts); err != nil {
		b.t.Logf("screenshots not saved: %v", err)
		return
	}
	if err := os.MkdirAll(b.artifacts, 0o755); err != nil {
		b.t.Logf("screenshots not saved: %v", err)
		return
	}
	for i, s := range b.shots {
		path := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s.png", i+1, s.name))
		if err := os.WriteFile(path, s.png, 0o644); err != nil {
			b.t.Logf("screenshot not saved: %v", err)
		}
	}
	b.t.Logf("screenshots of every page are in %s", b.artifacts)
}

// navigate opens a URL as if typed into the address bar.
func navigate(url string) func(context.Context) (*network.Response, error) {
	return func(ctx context.Context) (*network.Response, error) {
		return chromedp.Run(ctx, chromedp.NavigateResponse(url))
	}
}

// submit runs the reader's actions, the last of which loads a new page.
func submit(steps ...chromedp.Action[chromedp.Void]) func(context.Context) (*network.Response, error) {
	return func(ctx context.Context) (*network.Response, error) {
		return chromedp.RunResponse(ctx, steps...)
	}
}

// button is the button whose label the reader reads.
func button(label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//button[normalize-space()=%q]`, label))
}

// visit loads a page by load, keeps its screenshot under name, and returns
// what it shows.
func (b *browser) visit(name string, load func(context.Context) (*network.Response, error)) pageState {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	resp, err := load(ctx)
	if err == nil {
		var state pageState
		if state, err = chromedp.Run(ctx, chromedp.Evaluate[pageState](readPage)); err == nil {
			state.Status = resp.Status
			b.keepScreenshot(ctx, name)
			b.checkAccessibility(ctx, name)
			return state
		}
	}
	b.keepScreenshot(ctx, name+"-failed")
	b.t.Fatalf("page %q: %v (screenshots in %s)", name, err, b.artifacts)
	return pageState{}
}

// axeScript returns axe-core's browser script, from $ALERTD_AXE_JS or where
// .ci/run installs it, or skips the test with how to install it.
func axeScript(t *testing.T) string {
	t.Helper()
	path := os.Getenv("ALERTD_AXE_JS")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "alertd-e2e", "node_modules", "axe-core", "axe.min.js")
	}
	script, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("axe-core is not installed, so this test cannot check the pages' accessibility: npm install --prefix ~/.cache/alertd-e2e axe-core (.ci/run does), or set ALERTD_AXE_JS (%v)", err)
	}
	return string(script)
}

// axeRun lists the WCAG 2.1 A and AA rules the page breaks, each with the
// elements that break it.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
	.then(r => r.violations.map(v => v.id + " (" + v.help + "): " + v.nodes.map(n => n.target.join(" ")).join(", ")))`

// checkAccessibility fails the test when axe-core finds the page breaks a
// WCAG 2.1 AA rule.
func (b *browser) checkAccessibility(ctx context.Context, name string) {
	b.t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](b.axe)); err != nil {
		b.t.Fatalf("page %q: load axe-core: %v", name, err)
	}
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("page %q: run axe-core: %v", name, err)
	}
	for _, v := range violations {
		b.t.Errorf("page %q breaks WCAG 2.1 AA: %s", name, v)
	}
}

func (b *browser) keepScreenshot(ctx context.Context, name string) {
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot of %q: %v", name, err)
		return
	}
	b.shots = append(b.shots, screenshot{name: name, png: png})
}

// expect fails the test unless the page answered status and is headed by
// heading.
func (b *browser) expect(p pageState, status int64, heading string) {
	b.t.Helper()
	if p.Status != status || p.Heading != heading {
		b.t.Fatalf("at %s the reader sees %d %q, want %d %q (screenshots in %s)\n%s",
			p.URL, p.Status, p.Heading, status, heading, b.artifacts, p.Main)
	}
}

var linkPattern = regexp.MustCompile(`https?://[^\s"<>]+`)

// link returns the one link in the text part whose path starts with prefix.
func link(t *testing.T, m message, prefix string) string {
	t.Helper()
	var found []string
	for _, l := range linkPattern.FindAllString(m.Text, -1) {
		if strings.Contains(l, prefix) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%q: want one %s link in the text part, found %v:\n%s", m.Subject, prefix, found, m.Text)
	}
	return found[0]
}

// TestReaderSubscribesConfirmsAndUnsubscribesInABrowser follows a reader
// through the pages in a real browser: a mistyped address is refused with a
// message that says why, the corrected one gets a confirmation mail whose
// link and button confirm, and the welcome mail's unsubscribe link and
// button end it.
func TestReaderSubscribesConfirmsAndUnsubscribesInABrowser(t *testing.T) {
	catcher := startMailpit(t)
	app := startAlertd(t, catcher)
	// Started last so that it is closed first: a socket Chromium opened
	// ahead of need would hold up alertd's graceful shutdown for 5s.
	b := newBrowser(t)
	const reader = "reader@example.net"

	form := b.visit("form", navigate(app.baseURL+"/"))
	b.expect(form, 200, "Get new reports by e-mail")

	refused := b.visit("form-refused", submit(
		chromedp.SendKeys(chromedp.CSS("#email"), "reader.example.net"),
		chromedp.Click(button("Subscribe")),
	))
	b.expect(refused, 400, "Get new reports by e-mail")
	if !strings.Contains(refused.Alert, "@") || !refused.EmailInvalid || refused.EmailValue != "reader.example.net" {
		t.Fatalf("a mistyped address must be kept, marked invalid and explained; the reader sees alert %q, invalid=%v, value %q (screenshots in %s)",
			refused.Alert, refused.EmailInvalid, refused.EmailValue, b.artifacts)
	}

	checkEmail := b.visit("check-email", submit(
		chromedp.Clear(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), reader),
		chromedp.Click(button("Subscribe")),
	))
	b.expect(checkEmail, 200, "Check your e-mail")

	confirmURL := link(t, catcher.next(t, reader), "/confirm/")
	confirm := b.visit("confirm", navigate(confirmURL))
	b.expect(confirm, 200, "Confirm your subscription")
	confirmed := b.visit("confirmed", submit(chromedp.Click(button("Confirm subscription"))))
	b.expect(confirmed, 200, "You are subscribed")

	unsubscribeURL := link(t, catcher.next(t, reader), "/unsubscribe/")
	unsubscribe := b.visit("unsubscribe", navigate(unsubscribeURL))
	b.expect(unsubscribe, 200, "Unsubscribe")
	if !strings.Contains(unsubscribe.Main, reader) {
		t.Errorf("the unsubscribe page does not say which address leaves:\n%s", unsubscribe.Main)
	}
	unsubscribed := b.visit("unsubscribed", submit(chromedp.Click(button("Unsubscribe"))))
	b.expect(unsubscribed, 200, "You are unsubscribed")
}

// TestOperatorSignsInAndOutOfTheDashboardInABrowser follows an operator
// through the dashboard's sign-in: the link comes by mail, opening it shows
// a button, the button signs in, every page reads and passes axe-core, and
// signing out ends the session.
func TestOperatorSignsInAndOutOfTheDashboardInABrowser(t *testing.T) {
	catcher := startMailpit(t)
	app := startAlertd(t, catcher)
	b := newBrowser(t)

	login := b.visit("login", navigate(app.baseURL+"/admin"))
	b.expect(login, 200, "Sign in to the dashboard")
	checkEmail := b.visit("login-check-email", submit(
		chromedp.SendKeys(chromedp.CSS("#email"), operator),
		chromedp.Click(button("E-mail me a sign-in link")),
	))
	b.expect(checkEmail, 200, "Check your e-mail")

	signIn := b.visit("sign-in", navigate(link(t, catcher.next(t, operator), "/admin/login/")))
	b.expect(signIn, 200, "Sign in to the dashboard")
	overview := b.visit("overview", submit(chromedp.Click(button("Sign in"))))
	b.expect(overview, 200, "Overview")
	audit := b.visit("audit", navigate(app.baseURL+"/admin/audit"))
	b.expect(audit, 200, "Audit log")
	if !strings.Contains(audit.Main, operator) {
		t.Errorf("the audit log does not name who signed in:\n%s", audit.Main)
	}

	sources := b.visit("sources", navigate(app.baseURL+"/admin/sources"))
	b.expect(sources, 200, "Sources")
	settings := b.visit("settings", navigate(app.baseURL+"/admin/settings"))
	b.expect(settings, 200, "Settings")
	if strings.Contains(settings.Main, app.adminToken) {
		t.Errorf("the settings page shows the admin token")
	}

	signedOut := b.visit("signed-out", submit(chromedp.Click(button("Sign out"))))
	b.expect(signedOut, 200, "Sign in to the dashboard")
	again := b.visit("after-sign-out", navigate(app.baseURL+"/admin"))
	b.expect(again, 200, "Sign in to the dashboard")
}
