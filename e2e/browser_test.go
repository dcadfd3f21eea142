package e2e

import (
	"context"
	"fmt"
	"net/url"
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

// TestReaderSubscribesInChineseInABrowser follows a reader who reads
// Chinese: the form in Chinese, a Chinese confirmation mail whose link opens
// the confirmation page in Chinese, and the welcome mail's link to the
// preferences page, also in Chinese; every page clean for axe-core.
func TestReaderSubscribesInChineseInABrowser(t *testing.T) {
	catcher := startMailpit(t)
	app := startAlertd(t, catcher)
	b := newBrowser(t)
	const reader = "duzhe@example.net"

	form := b.visit("form-zh", navigate(app.baseURL+"/?lang=zh-Hans"))
	b.expect(form, 200, "通过电子邮件接收新报告")
	checkEmail := b.visit("check-email-zh", submit(
		chromedp.SendKeys(chromedp.CSS("#email"), reader),
		chromedp.Click(button("订阅")),
	))
	b.expect(checkEmail, 200, "请查收邮件")

	confirmation := catcher.next(t, reader)
	if confirmation.Subject != "请确认订阅 Research Alerts" || !strings.Contains(confirmation.Text, "请打开以下链接确认：") {
		t.Fatalf("the confirmation is not in Chinese: %q\n%s", confirmation.Subject, confirmation.Text)
	}
	confirm := b.visit("confirm-zh", navigate(link(t, confirmation, "/confirm/")))
	b.expect(confirm, 200, "确认订阅")
	confirmed := b.visit("confirmed-zh", submit(chromedp.Click(button("确认订阅"))))
	b.expect(confirmed, 200, "您已成功订阅")

	welcome := catcher.next(t, reader)
	if welcome.Subject != "您已成功订阅 Research Alerts" {
		t.Errorf("the welcome mail is not in Chinese: %q", welcome.Subject)
	}
	preferences := b.visit("preferences-zh", navigate(link(t, welcome, "/unsubscribe/")))
	b.expect(preferences, 200, "退订")
	saved := b.visit("preferences-saved", submit(
		chromedp.SetValue(chromedp.CSS("#lang"), "en"),
		chromedp.Click(button("保存设置")),
	))
	b.expect(saved, 200, "Your preferences are saved")
}

// linkText is the link whose text the operator reads.
func linkText(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//a[normalize-space()=%q]`, text))
}

// labelText is the label whose text the operator reads.
func labelText(text string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//label[normalize-space()=%q]`, text))
}

// text returns the text of the element on the page shown, as rendered.
func (b *browser) text(sel chromedp.CSS) string {
	b.t.Helper()
	return b.read(sel, chromedp.Text(sel))
}

// textContent returns the text of the element on the page shown, rendered
// or not (as an SVG description).
func (b *browser) textContent(sel chromedp.CSS) string {
	b.t.Helper()
	return b.read(sel, chromedp.TextContent(sel))
}

func (b *browser) read(sel chromedp.CSS, action chromedp.Action[string]) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, action)
	if err != nil {
		b.t.Fatalf("read %s: %v (screenshots in %s)", sel, err, b.artifacts)
	}
	return text
}

// attribute returns an attribute of the element on the page shown.
func (b *browser) attribute(sel chromedp.CSS, name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	attrs, err := chromedp.Run(ctx, chromedp.Attributes(sel))
	if err != nil || attrs[name] == "" {
		b.t.Fatalf("read %s of %s: %v, %q (screenshots in %s)", name, sel, err, attrs[name], b.artifacts)
	}
	return attrs[name]
}

// openPreview loads the HTML part of a mail as the dashboard's preview
// frame does, and returns its status and text. Chromium runs the sandboxed
// frame in a process of its own, out of the page's reach, so it is opened
// on its own. axe-core does not check it: the frame's sandbox stops the
// timers axe-core runs on, and a mail's HTML is judged by mailpit.
func (b *browser) openPreview(url string) (int64, string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err == nil {
		var text string
		if text, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body"))); err == nil {
			b.keepScreenshot(ctx, "mail-preview")
			return resp.Status, text
		}
	}
	b.keepScreenshot(ctx, "mail-preview-failed")
	b.t.Fatalf("open the preview %s: %v (screenshots in %s)", url, err, b.artifacts)
	return 0, ""
}

// waitFor waits until the page shown makes the JavaScript condition true, as
// its own script changes it, and keeps a screenshot under name.
func (b *browser) waitFor(name, what, condition string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](condition, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingMutation()))
	if err != nil {
		b.keepScreenshot(ctx, name+"-failed")
		b.t.Fatalf("waiting %s for %s: %v (screenshots in %s)", timeout, what, err, b.artifacts)
	}
	b.keepScreenshot(ctx, name)
}

// chartLabelsCut lists the chart's axis labels that reach past the edges of
// its drawing, where the browser cuts them off.
const chartLabelsCut = `(() => {
	const svg = document.querySelector("figure.chart > svg"), box = svg.viewBox.baseVal;
	return [...svg.querySelectorAll("text")].filter(t => {
		const b = t.getBBox();
		return b.x < box.x || b.y < box.y || b.x + b.width > box.x + box.width || b.y + b.height > box.y + box.height;
	}).map(t => t.textContent);
})()`

// evaluateStrings runs a JavaScript expression on the page shown.
func (b *browser) evaluateStrings(expression string) []string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	list, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](expression))
	if err != nil {
		b.t.Fatalf("evaluate on the page: %v", err)
	}
	return list
}

// saveReadmeScreenshot writes the top of the page shown to the file
// $ALERTD_README_SCREENSHOT names (relative to the repository's root), the
// picture of the dashboard in the README; nothing when it is unset.
func (b *browser) saveReadmeScreenshot() {
	b.t.Helper()
	path := os.Getenv("ALERTD_README_SCREENSHOT")
	if path == "" {
		return
	}
	if !filepath.IsAbs(path) {
		root, err := moduleRoot()
		if err != nil {
			b.t.Fatal(err)
		}
		path = filepath.Join(root, path)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	// Tall enough for the chart, 1024 pixels wide as the window.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1024, 1200)); err != nil {
		b.t.Fatalf("screenshot for the README: %v", err)
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err == nil {
		err = chromedp.Do(ctx, chromedp.ResetViewport())
	}
	if err != nil {
		b.t.Fatalf("screenshot for the README: %v", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.t.Fatalf("screenshot for the README: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("screenshot for the README: %v", err)
	}
	b.t.Logf("the README's screenshot is in %s", path)
}

// TestOperatorSignsInAndOutOfTheDashboardInABrowser follows an operator
// through a working session of the dashboard, all in the browser: the
// sign-in link comes by mail and its page shows a button that signs in;
// a CSV import adds a confirmed reader, and a bad row is listed with why;
// a report added with the form shows in the next digest's preview, in the
// sandboxed frame and the text part; "Send now" asks once more, and the
// digest's page follows the delivery to done while the reader's copy
// arrives; the reader is found, opened and erased; the overview charts the
// day's sign-up; the settings page's test e-mail arrives; the audit log
// names every change; signing out ends the session, and the digest sent
// is in the public archive, index and page. Every page passes
// axe-core.
func TestOperatorSignsInAndOutOfTheDashboardInABrowser(t *testing.T) {
	catcher := startMailpit(t)
	app := startAlertd(t, catcher)
	b := newBrowser(t)
	const (
		reader      = "reader@example.net" // imported as confirmed, later erased
		signup      = "signup@example.net" // signs up through the public form
		reportTitle = "Water and Energy Outlook 2026"
	)

	// Sign in with the mailed link.
	login := b.visit("login", navigate(app.baseURL+"/admin"))
	b.expect(login, 200, "Sign in to the dashboard")
	checkEmail := b.visit("login-check-email", submit(
		chromedp.SendKeys(chromedp.CSS("#email"), operator),
		chromedp.Click(button("E-mail me a sign-in link")),
	))
	b.expect(checkEmail, 200, "Check your e-mail")
	signIn := b.visit("sign-in", navigate(link(t, catcher.next(t, operator), "/admin/login/")))
	b.expect(signIn, 200, "Sign in to the dashboard")
	overview := b.visit("overview-empty", submit(chromedp.Click(button("Sign in"))))
	b.expect(overview, 200, "Overview")

	// A reader signs up and confirms on the public pages, so that the
	// overview has a day to chart and the digest a second reader.
	app.subscribe(t, catcher, signup, "en")

	// Import a reader whose consent was gathered elsewhere.
	csv := filepath.Join(t.TempDir(), "readers.csv")
	if err := os.WriteFile(csv, []byte("email,confirmed_at\n"+reader+",2024-05-01\nnot-an-address,2024-05-01\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	subscribers := b.visit("subscribers", submit(chromedp.Click(linkText("Subscribers"))))
	b.expect(subscribers, 200, "Subscribers")
	importForm := b.visit("import", submit(chromedp.Click(linkText("Import subscribers"))))
	b.expect(importForm, 200, "Import subscribers")
	imported := b.visit("import-done", submit(
		chromedp.Click(labelText("Consent was gathered elsewhere: add them as confirmed and send no mail")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{csv}),
		chromedp.Click(button("Import")),
	))
	b.expect(imported, 200, "Import done")
	if !strings.Contains(imported.Main, "1 added as confirmed") || !strings.Contains(imported.Main, "1 rejected") || !strings.Contains(imported.Main, "Rejected rows") {
		t.Errorf("the import's result does not say one was added and one rejected:\n%s", imported.Main)
	}

	// Add a report.
	reports := b.visit("reports", submit(chromedp.Click(linkText("Reports"))))
	b.expect(reports, 200, "Reports")
	reportForm := b.visit("report-form", submit(chromedp.Click(linkText("Add a report"))))
	b.expect(reportForm, 200, "Add a report")
	report := b.visit("report", submit(
		chromedp.SendKeys(chromedp.CSS("#title"), reportTitle),
		chromedp.SendKeys(chromedp.CSS("#url"), "https://example.org/reports/water-energy-2026"),
		chromedp.SendKeys(chromedp.CSS("#authors"), "A. Author\nB. Author"),
		chromedp.SendKeys(chromedp.CSS("#series"), "Research Report"),
		chromedp.SendKeys(chromedp.CSS("#abstract"), "How water scarcity shapes the energy transition in river basins."),
		chromedp.Click(button("Add report")),
	))
	b.expect(report, 200, reportTitle)

	// Preview the next digest, then send it now.
	digests := b.visit("digests", submit(chromedp.Click(linkText("Digests"))))
	b.expect(digests, 200, "Digests")
	if !strings.Contains(digests.Main, "1 new report, for 2 readers") {
		t.Errorf("the digests page does not count the new report and both readers:\n%s", digests.Main)
	}
	if text := b.text(chromedp.CSS("pre.mail-preview")); !strings.Contains(text, reportTitle) {
		t.Errorf("the preview's text part does not name the new report:\n%s", text)
	}
	frame := app.baseURL + b.attribute(chromedp.CSS("iframe.mail-preview"), "src")
	if status, html := b.openPreview(frame); status != 200 || !strings.Contains(html, reportTitle) {
		t.Errorf("the preview's HTML part (%s) answers %d and does not show the new report:\n%s", frame, status, html)
	}
	digests = b.visit("digests-again", navigate(app.baseURL+"/admin/digests"))
	b.expect(digests, 200, "Digests")
	confirmSend := b.visit("digest-send", submit(chromedp.Click(button("Send now…"))))
	b.expect(confirmSend, 200, "Send 1 report to 2 readers now?")
	sent := b.visit("digest", submit(chromedp.Click(button("Yes, send now"))))
	if !regexp.MustCompile(`^Digest \d+$`).MatchString(sent.Heading) {
		t.Fatalf("after sending, the operator sees %q, want the digest's page:\n%s", sent.Heading, sent.Main)
	}
	b.waitFor("digest-done", "the digest's status to read done",
		`document.querySelector("[data-field=status]").textContent === "done"`, 30*time.Second)
	if copies := b.text(chromedp.CSS("[data-field=sent]")); copies != "2" {
		t.Errorf("the digest's page counts %q copies sent, want 2", copies)
	}
	digestMail := catcher.next(t, reader)
	if !strings.HasPrefix(digestMail.Subject, "New reports") || !strings.Contains(digestMail.Text, reportTitle) {
		t.Errorf("the reader's digest is %q and does not name the report:\n%s", digestMail.Subject, digestMail.Text)
	}

	// Find the imported reader and erase them.
	subscribers = b.visit("subscribers-again", submit(chromedp.Click(linkText("Subscribers"))))
	b.expect(subscribers, 200, "Subscribers")
	found := b.visit("subscribers-found", submit(
		chromedp.SendKeys(chromedp.CSS("#q"), reader),
		chromedp.Click(button("Search")),
	))
	b.expect(found, 200, "Subscribers")
	subscriber := b.visit("subscriber", submit(chromedp.Click(linkText(reader))))
	b.expect(subscriber, 200, reader)
	if !strings.Contains(subscriber.Main, "digest") {
		t.Errorf("the subscriber's page does not list the digest they were sent:\n%s", subscriber.Main)
	}
	erased := b.visit("erased", submit(
		chromedp.SendKeys(chromedp.CSS("#confirm"), reader),
		chromedp.Click(button("Erase")),
	))
	b.expect(erased, 200, "Subscriber erased")
	gone := b.visit("subscribers-gone", navigate(app.baseURL+"/admin/subscribers?q="+url.QueryEscape(reader)))
	b.expect(gone, 200, "Subscribers")
	if strings.Contains(gone.Main, reader) || !strings.Contains(gone.Main, "No subscriber matches.") {
		t.Errorf("the erased reader is still found:\n%s", gone.Main)
	}

	// The overview charts the day's sign-up and confirmation.
	overview = b.visit("overview", submit(chromedp.Click(linkText("Overview"))))
	b.expect(overview, 200, "Overview")
	if desc := b.textContent(chromedp.CSS("#chart-desc")); !strings.Contains(desc, "1 sign-ups, 1 confirmations") {
		t.Errorf("the chart does not show the day's sign-up: %q", desc)
	}
	if cut := b.evaluateStrings(chartLabelsCut); len(cut) > 0 {
		t.Errorf("the chart cuts off its labels %q", cut)
	}
	b.saveReadmeScreenshot()

	// The settings page's test e-mail.
	settings := b.visit("settings", submit(chromedp.Click(linkText("Settings"))))
	b.expect(settings, 200, "Settings")
	if strings.Contains(settings.Main, app.adminToken) {
		t.Errorf("the settings page shows the admin token")
	}
	testMailSent := b.visit("settings-test-mail", submit(chromedp.Click(button("Send me a test e-mail"))))
	b.expect(testMailSent, 200, "Settings")
	if notice := b.text(chromedp.CSS(".notice[role=status]")); !strings.Contains(notice, "A test e-mail is on its way to "+operator) {
		t.Errorf("no notice that the test e-mail is on its way: %q", notice)
	}
	catcher.next(t, operator)

	sources := b.visit("sources", submit(chromedp.Click(linkText("Sources"))))
	b.expect(sources, 200, "Sources")

	// The audit log names who did each change.
	audit := b.visit("audit", submit(chromedp.Click(linkText("Audit"))))
	b.expect(audit, 200, "Audit log")
	for _, action := range []string{"signed in", "subscribers imported", "report added", "digest sent now", "subscriber erased", "test e-mail sent"} {
		if !regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(operator) + `\s+` + regexp.QuoteMeta(action)).MatchString(audit.Main) {
			t.Errorf("the audit log does not say %s did %q:\n%s", operator, action, audit.Main)
		}
	}
	if strings.Contains(audit.Main, reader) {
		t.Errorf("the audit log keeps the erased reader's address:\n%s", audit.Main)
	}

	signedOut := b.visit("signed-out", submit(chromedp.Click(button("Sign out"))))
	b.expect(signedOut, 200, "Sign in to the dashboard")
	again := b.visit("after-sign-out", navigate(app.baseURL+"/admin"))
	b.expect(again, 200, "Sign in to the dashboard")

	// The digest sent is in the public archive, which needs no session.
	archive := b.visit("archive", navigate(app.baseURL+"/digests"))
	b.expect(archive, 200, "Past digests")
	archived := b.visit("archived-digest", submit(chromedp.Click(chromedp.Search(`//main//li/a[starts-with(normalize-space(), "Digest of ")]`))))
	if archived.Status != 200 || !strings.HasPrefix(archived.Heading, "Digest of ") || !strings.Contains(archived.Main, reportTitle) {
		t.Errorf("the archived digest's page shows %d %q without the report:\n%s", archived.Status, archived.Heading, archived.Main)
	}
}
