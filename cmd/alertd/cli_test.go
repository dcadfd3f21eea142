package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// cliEnv is the environment of one command-line test: its own database and
// mail directory, mail written to files unless SMTP is set.
func cliEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{
		"ALERTD_CONFIG":        "",
		"ALERTD_DATABASE_PATH": filepath.Join(dir, "alertd.db"),
		"ALERTD_MAIL_DIR":      filepath.Join(dir, "mail"),
		"ALERTD_MAIL_FROM":     "Research Alerts <alerts@example.org>",
	}
}

// cliResult is what one run of the program left behind.
type cliResult struct {
	stdout, stderr string
	err            error
}

// code is the exit code main would give.
func (r cliResult) code() int {
	if r.err == nil {
		return 0
	}
	return exitCode(r.err)
}

// cliRun runs alertd in-process with env as its environment.
func cliRun(t *testing.T, env map[string]string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
	return cliResult{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

// cliOK runs alertd and fails the test unless it succeeds; it returns stdout.
func cliOK(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	r := cliRun(t, env, args...)
	if r.err != nil {
		t.Fatalf("alertd %s: %v\n%s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r.stdout
}

// published is a --published value the given time from now: the command
// line reads the real clock.
func published(d time.Duration) string { return time.Now().Add(d).UTC().Format(time.RFC3339) }

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var addedReport = regexp.MustCompile(`^added report (\d+): `)

func TestReportsAddPrintsTheIDAndIsIdempotent(t *testing.T) {
	env := cliEnv(t)
	out := cliOK(t, env, "reports", "add", "--title", "Water Outlook", "--url", "https://example.org/r/1",
		"--published", published(-time.Hour), "--series", "Research Report", "--number", "No. 26, 2026",
		"--authors", "A. Author, B. Author", "--abstract", "Findings.", "--keywords", "water,energy")
	m := addedReport.FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "Water Outlook") {
		t.Fatalf("reports add printed %q, want the new report's id and title", out)
	}
	out = cliOK(t, env, "reports", "add", "--title", "Another title", "--url", "https://example.org/r/1")
	if !strings.Contains(out, "report "+m[1]+" ") || !strings.Contains(out, "unchanged") {
		t.Errorf("the same url again printed %q, want report %s unchanged", out, m[1])
	}
	list := cliOK(t, env, "reports", "list")
	if !strings.Contains(list, "Water Outlook") || strings.Contains(list, "Another title") {
		t.Errorf("reports list after adding twice:\n%s", list)
	}
}

func TestReportsAddRefusesBadUsageWithExitCode2(t *testing.T) {
	env := cliEnv(t)
	tests := []struct {
		name string
		args []string
		want string // the error names this
	}{
		{"missing title", []string{"--url", "https://example.org/r/1"}, "title"},
		{"missing url", []string{"--title", "T"}, "url"},
		{"relative url", []string{"--title", "T", "--url", "/r/1"}, "url"},
		{"bad published", []string{"--title", "T", "--url", "https://example.org/r/1", "--published", "yesterday"}, "--published"},
		{"unknown topic", []string{"--title", "T", "--url", "https://example.org/r/1", "--topics", "sport"}, "sport"},
		{"over-long title", []string{"--title", strings.Repeat("a", 1001), "--url", "https://example.org/r/1"}, "title"},
		{"unknown flag", []string{"--title", "T", "--url", "https://example.org/r/1", "--colour", "red"}, "colour"},
		{"stray argument", []string{"--title", "T", "--url", "https://example.org/r/1", "extra"}, "extra"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cliRun(t, env, append([]string{"reports", "add"}, tt.args...)...)
			if r.code() != 2 {
				t.Fatalf("exit code %d, want 2 (err %v)", r.code(), r.err)
			}
			if !strings.Contains(r.err.Error()+r.stderr, tt.want) {
				t.Errorf("error %q (stderr %q) does not name %q", r.err, r.stderr, tt.want)
			}
		})
	}
	if list := cliOK(t, env, "reports", "list"); strings.Count(list, "\n") != 1 {
		t.Errorf("refused reports were stored:\n%s", list)
	}
}

// sample is a file of internal/catalogue/testdata.
func sample(name string) string {
	return filepath.Join("..", "..", "internal", "catalogue", "testdata", name)
}

// importSummary matches the counts line of reports import.
var importSummary = regexp.MustCompile(`: (\d+) added.*, (\d+) unchanged, (\d+) rejected`)

// counts reads added, unchanged and rejected from reports import's output.
func counts(t *testing.T, out string) [3]int {
	t.Helper()
	m := importSummary.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no counts in %q", out)
	}
	var c [3]int
	for i := range c {
		c[i], _ = strconv.Atoi(m[i+1])
	}
	return c
}

// rejectedLines lists the line numbers reports import wrote on stderr.
func rejectedLines(stderr string) []int {
	var lines []int
	for _, m := range regexp.MustCompile(`(?m):(\d+): rejected: `).FindAllStringSubmatch(stderr, -1) {
		n, _ := strconv.Atoi(m[1])
		lines = append(lines, n)
	}
	return lines
}

func TestReportsImportCountsAndReportsRejectedLines(t *testing.T) {
	tests := []struct {
		file     string
		format   string // empty: from the name
		added    int
		rejected []int
		reason   string // the reason given for one of the rejections
	}{
		// Line 1 names a topic, and none is configured.
		{"reports.json", "", 1, []int{1, 2, 3, 4, 5, 7}, `unknown topic "economy"`},
		{"reports.jsonl", "", 2, []int{2, 4, 5, 6}, "not valid JSON"},
		{"reports.csv", "", 1, []int{2, 4, 5, 6, 7}, "the row has 3 cells"},
		{"reports.rss", "", 3, []int{3, 4}, "sometime next week"},
		{"reports.atom", "", 2, []int{3}, "url: is required"},
		{"reports.feed.json", "feed", 2, []int{2}, "absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			env := cliEnv(t)
			args := []string{"reports", "import"}
			if tt.format != "" {
				args = append(args, "--format", tt.format)
			}
			args = append(args, sample(tt.file))
			r := cliRun(t, env, args...)
			if r.err != nil {
				t.Fatalf("import: %v\n%s", r.err, r.stderr)
			}
			if got, want := counts(t, r.stdout), [3]int{tt.added, 0, len(tt.rejected)}; got != want {
				t.Errorf("first import counts %v, want %v: %s", got, want, r.stdout)
			}
			if got := rejectedLines(r.stderr); !slices.Equal(got, tt.rejected) {
				t.Errorf("rejected lines %v, want %v:\n%s", got, tt.rejected, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.reason) {
				t.Errorf("stderr does not give the reason %q:\n%s", tt.reason, r.stderr)
			}

			again := cliOK(t, env, args...)
			if got, want := counts(t, again), [3]int{0, tt.added, len(tt.rejected)}; got != want {
				t.Errorf("second import counts %v, want %v (all unchanged): %s", got, want, again)
			}
		})
	}
}

func TestReportsImportRefusesAFileItCannotRead(t *testing.T) {
	env := cliEnv(t)
	// A JSON Feed named .json is not an array of reports: the format must
	// be given.
	r := cliRun(t, env, "reports", "import", sample("reports.feed.json"))
	if r.err == nil || !strings.Contains(r.err.Error(), "--format") {
		t.Errorf("importing a JSON Feed as json: %v, want an error pointing to --format", r.err)
	}
	if r := cliRun(t, env, "reports", "import", "reports.txt"); r.code() != 2 {
		t.Errorf("a file of unknown format: exit code %d, want 2 (%v)", r.code(), r.err)
	}
	if r := cliRun(t, env, "reports", "import"); r.code() != 2 {
		t.Errorf("no file: exit code %d, want 2 (%v)", r.code(), r.err)
	}
}

func TestReportsImportBackfillKeepsTheArchiveOutOfTheDigest(t *testing.T) {
	// The samples hold reports without a date, which are published now and
	// so belong in the next digest unless backfilled.
	for _, backfill := range []bool{false, true} {
		t.Run("backfill="+strconv.FormatBool(backfill), func(t *testing.T) {
			env := cliEnv(t)
			for _, file := range []string{"reports.json", "reports.jsonl", "reports.csv", "reports.rss", "reports.atom"} {
				args := []string{"reports", "import", sample(file)}
				if backfill {
					args = slices.Insert(args, 2, "--backfill")
				}
				if out := cliOK(t, env, args...); backfill && !strings.Contains(out, "backfilled") {
					t.Errorf("a backfill import does not say so: %q", out)
				}
			}
			preview := cliOK(t, env, "digest", "preview")
			if quiet := strings.Contains(preview, "no new reports"); quiet != backfill {
				t.Errorf("digest preview says %q; backfilled: %v", preview, backfill)
			}
		})
	}
}

func TestReportsImportFetchesAFeedOverHTTP(t *testing.T) {
	rss, err := os.ReadFile(sample("reports.rss"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/reports/feed.rss" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(rss)
	}))
	t.Cleanup(srv.Close)

	env := cliEnv(t)
	// The test server listens on loopback.
	env["ALERTD_FETCH_ALLOW_PRIVATE_NETWORKS"] = "true"
	out := cliOK(t, env, "reports", "import", srv.URL+"/reports/feed.rss")
	if got := counts(t, out); got != [3]int{3, 0, 2} {
		t.Errorf("counts %v, want 3 added, 2 rejected: %s", got, out)
	}
	if list := cliOK(t, env, "reports", "list"); !strings.Contains(list, "Trade Policy After the Elections") {
		t.Errorf("the fetched reports are not listed:\n%s", list)
	}
	if r := cliRun(t, env, "reports", "import", srv.URL+"/missing.rss"); r.err == nil || !strings.Contains(r.err.Error(), "404") {
		t.Errorf("a missing URL: %v, want an error naming the 404", r.err)
	}
}

func TestReportsListShowsTheNewest(t *testing.T) {
	env := cliEnv(t)
	for i, title := range []string{"Oldest", "Middle", "Newest"} {
		cliOK(t, env, "reports", "add", "--title", title, "--url", "https://example.org/r/"+title,
			"--published", published(time.Duration(i-3)*time.Hour))
	}
	out := cliOK(t, env, "reports", "list", "--limit", "2")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "Newest") || !strings.Contains(lines[2], "Middle") {
		t.Errorf("reports list --limit 2:\n%s\nwant a header, Newest and Middle", out)
	}
	if r := cliRun(t, env, "reports", "list", "--limit", "0"); r.code() != 2 {
		t.Errorf("--limit 0: exit code %d, want 2", r.code())
	}
}

func TestReportsRetractByIDOrGUID(t *testing.T) {
	env := cliEnv(t)
	var ids []string
	for _, title := range []string{"Kept", "ByID", "ByGUID"} {
		out := cliOK(t, env, "reports", "add", "--title", title, "--url", "https://example.org/r/"+title,
			"--guid", map[string]string{"ByGUID": "42"}[title], "--published", published(-time.Hour))
		ids = append(ids, addedReport.FindStringSubmatch(out)[1])
	}
	if out := cliOK(t, env, "reports", "retract", ids[1]); !strings.HasPrefix(out, "retracted report "+ids[1]+": ByID") {
		t.Errorf("retract by id printed %q", out)
	}
	// 42 is no report's id, so it is taken as the guid it is.
	if out := cliOK(t, env, "reports", "retract", "42"); !strings.HasPrefix(out, "retracted report "+ids[2]+": ByGUID") {
		t.Errorf("retract by guid printed %q", out)
	}
	cliOK(t, env, "reports", "retract", "https://example.org/r/ByID")
	if list := cliOK(t, env, "reports", "list"); !strings.Contains(list, "Kept") || strings.Contains(list, "ByID") || strings.Contains(list, "ByGUID") {
		t.Errorf("reports list after retracting:\n%s", list)
	}
	if out := cliOK(t, env, "digest", "preview"); strings.Contains(out, "ByID") || strings.Contains(out, "ByGUID") || !strings.Contains(out, "Kept") {
		t.Errorf("the next digest still announces a retracted report:\n%s", out)
	}
	if out := cliOK(t, env, "reports", "add", "--title", "Again", "--url", "https://example.org/r/ByID"); !strings.Contains(out, "retracted") {
		t.Errorf("adding a retracted report again printed %q, want it said to be retracted", out)
	}
	if r := cliRun(t, env, "reports", "retract", "https://example.org/unknown"); r.code() != 1 || !strings.Contains(r.err.Error(), "no report") {
		t.Errorf("retracting an unknown report: exit code %d, %v", r.code(), r.err)
	}
	if r := cliRun(t, env, "reports", "retract"); r.code() != 2 {
		t.Errorf("retract without an argument: exit code %d, want 2", r.code())
	}
}

// addTwoReports adds two reports published an hour ago, inside the first
// digest's window.
func addTwoReports(t *testing.T, env map[string]string) {
	t.Helper()
	cliOK(t, env, "reports", "add", "--title", "Water & <b>Energy</b> Outlook", "--url", "https://example.org/r/1",
		"--published", published(-2*time.Hour), "--series", "Research Report", "--number", "No. 26, 2026")
	cliOK(t, env, "reports", "add", "--title", "Trade Policy", "--url", "https://example.org/r/2",
		"--published", published(-time.Hour))
}

func TestDigestPreviewRendersAndRecordsNothing(t *testing.T) {
	env := cliEnv(t)
	if out := cliOK(t, env, "digest", "preview"); !strings.Contains(out, "no new reports") {
		t.Errorf("preview of an empty catalogue: %q", out)
	}
	addTwoReports(t, env)

	text := cliOK(t, env, "digest", "preview")
	if !strings.HasPrefix(text, "Subject: New reports: 2 publications\n\n") {
		t.Errorf("preview does not start with the subject line:\n%s", text)
	}
	for _, want := range []string{"Water & <b>Energy</b> Outlook", "https://example.org/r/1", "No. 26, 2026", "Trade Policy", "/unsubscribe/"} {
		if !strings.Contains(text, want) {
			t.Errorf("the text preview lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "<html") {
		t.Error("the text preview holds HTML")
	}

	html := cliOK(t, env, "digest", "preview", "--html")
	for _, want := range []string{"Subject: New reports: 2 publications", "<html", `href="https://example.org/r/1"`, "Water &amp; &lt;b&gt;Energy&lt;/b&gt; Outlook"} {
		if !strings.Contains(html, want) {
			t.Errorf("the HTML preview lacks %q:\n%s", want, html)
		}
	}

	if again := cliOK(t, env, "digest", "preview"); again != text {
		t.Errorf("a second preview differs: preview changed something\n%s", again)
	}
	if list := cliOK(t, env, "digest", "list"); strings.Count(list, "\n") != 1 {
		t.Errorf("digest list after previews shows digests:\n%s", list)
	}
}

// TestDigestSubjectAgreesInNumber proves that the default digest.subject
// says "1 publication" for one report and "2 publications" for more, and
// that a subject written before it could do so still renders as it did.
func TestDigestSubjectAgreesInNumber(t *testing.T) {
	tests := []struct {
		name    string
		subject string // digest.subject; "" = the default
		reports int
		want    string
	}{
		{"default, one report", "", 1, "New reports: 1 publication"},
		{"default, two reports", "", 2, "New reports: 2 publications"},
		{"plural in a custom subject", `{{plural .Count "new paper" "new papers"}} this week`, 1, "1 new paper this week"},
		{"custom subject without plural", "{{.Count}} new at the Institute", 1, "1 new at the Institute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := cliEnv(t)
			if tt.subject != "" {
				env["ALERTD_DIGEST_SUBJECT"] = tt.subject
			}
			for i := range tt.reports {
				cliOK(t, env, "reports", "add", "--title", "Report "+strconv.Itoa(i), "--url", "https://example.org/r/"+strconv.Itoa(i),
					"--published", published(-time.Hour))
			}
			preview := cliOK(t, env, "digest", "preview")
			if subject, _, _ := strings.Cut(preview, "\n"); subject != "Subject: "+tt.want {
				t.Errorf("preview starts with %q, want %q", subject, "Subject: "+tt.want)
			}
		})
	}
}

// smtpEnv is a command-line environment whose mail goes to srv.
func smtpEnv(t *testing.T, srv *mailtest.Server) map[string]string {
	env := cliEnv(t)
	env["ALERTD_SMTP_HOST"] = srv.Host
	env["ALERTD_SMTP_PORT"] = strconv.Itoa(srv.Port)
	env["ALERTD_SMTP_TLS"] = "none"
	return env
}

func TestDigestSendDeliversOneMailPerConfirmedSubscriber(t *testing.T) {
	srv := mailtest.NewServer(t)
	env := smtpEnv(t, srv)
	subscribers := writeFile(t, "subscribers.csv", "email\nAda@example.org\nbob@example.org\ncarol@example.org\n")
	out := cliOK(t, env, "subscribers", "import", "--confirmed", subscribers)
	if !strings.Contains(out, "3 added as confirmed") {
		t.Fatalf("subscribers import --confirmed: %q", out)
	}
	addTwoReports(t, env)

	out = cliOK(t, env, "digest", "send")
	for _, want := range []string{"2 reports for 3 recipients", "3 sent, 0 failed, 0 cancelled", "0 pending"} {
		if !strings.Contains(out, want) {
			t.Errorf("digest send printed no %q:\n%s", want, out)
		}
	}
	// Everything sent is the digest: the trusted import queued no
	// confirmation for digest send to deliver alongside.
	var to []string
	for _, m := range srv.Wait(t, 3) {
		to = append(to, m.To...)
		if p := m.Parse(t); p.Subject != "New reports: 2 publications" || !strings.Contains(p.Text, "Trade Policy") {
			t.Errorf("mail to %v: subject %q, want the digest", m.To, p.Subject)
		}
	}
	slices.Sort(to)
	if want := []string{"Ada@example.org", "bob@example.org", "carol@example.org"}; !slices.Equal(to, want) {
		t.Errorf("digests went to %v, want one each to %v", to, want)
	}
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("%d mails sent, want 3", n)
	}

	if out := cliOK(t, env, "digest", "send"); !strings.Contains(out, "no new reports") {
		t.Errorf("a second digest send: %q, want no new reports", out)
	}
	list := cliOK(t, env, "digest", "list")
	if !regexp.MustCompile(`(?m)^1\s.*\sdone\s+2\s+3\s+3\s+0\s+0\s+0\s*$`).MatchString(list) {
		t.Errorf("digest list:\n%s\nwant digest 1 done: 2 reports, 3 recipients, 3 sent", list)
	}
	if n := len(srv.Messages()); n != 3 {
		t.Errorf("%d mails sent in all, want 3", n)
	}
}

// exportedKinds returns the kinds of the messages held for an address.
func exportedKinds(t *testing.T, env map[string]string, email string) []string {
	t.Helper()
	var export struct {
		Status   string `json:"status"`
		Messages []struct {
			Kind string `json:"kind"`
		} `json:"messages"`
	}
	out := cliOK(t, env, "subscribers", "export", email)
	if err := json.Unmarshal([]byte(out), &export); err != nil {
		t.Fatalf("export %s: %v\n%s", email, err, out)
	}
	kinds := []string{export.Status}
	for _, m := range export.Messages {
		kinds = append(kinds, m.Kind)
	}
	return kinds
}

// TestCountsAgreeInNumber proves that what the commands print about one
// sign-up, one report and one recipient reads in the singular.
func TestCountsAgreeInNumber(t *testing.T) {
	srv := mailtest.NewServer(t)
	env := smtpEnv(t, srv)
	if out := cliOK(t, env, "subscribers", "import", writeFile(t, "pending.csv", "email\nada@example.org\n")); !strings.Contains(out, ": 1 sign-up recorded,") {
		t.Errorf("subscribers import printed %q, want 1 sign-up", out)
	}
	cliOK(t, env, "subscribers", "import", "--confirmed", writeFile(t, "confirmed.csv", "email\nbob@example.org\n"))
	cliOK(t, env, "reports", "add", "--title", "Trade Policy", "--url", "https://example.org/r/1", "--published", published(-time.Hour))
	if out := cliOK(t, env, "digest", "send"); !strings.Contains(out, "digest 1: 1 report for 1 recipient\n") {
		t.Errorf("digest send printed %q, want 1 report for 1 recipient", out)
	}
}

func TestSubscribersImport(t *testing.T) {
	const csv = "email\nada@example.org\nnot-an-address\nbob@example.org\n"
	tests := []struct {
		name      string
		confirmed bool
		summary   string
		held      []string // the status, then the kinds of mail queued, for each good address
	}{
		{"needs confirmation", false, "2 sign-ups recorded, 1 rejected", []string{"pending", "confirmation"}},
		{"trusted as confirmed", true, "2 added as confirmed", []string{"confirmed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := cliEnv(t)
			file := writeFile(t, "subscribers.csv", csv)
			args := []string{"subscribers", "import", file}
			if tt.confirmed {
				args = slices.Insert(args, 2, "--confirmed")
			}
			r := cliRun(t, env, args...)
			if r.err != nil {
				t.Fatalf("import: %v\n%s", r.err, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.summary) {
				t.Errorf("import printed %q, want %q", r.stdout, tt.summary)
			}
			if !strings.Contains(r.stderr, file+":3: ") || !strings.Contains(r.stderr, "not-an-address") {
				t.Errorf("stderr %q does not reject line 3 with its address", r.stderr)
			}
			for _, email := range []string{"ada@example.org", "bob@example.org"} {
				if got := exportedKinds(t, env, email); !slices.Equal(got, tt.held) {
					t.Errorf("%s: status and mail %v, want %v", email, got, tt.held)
				}
			}
			if r := cliRun(t, env, "subscribers", "export", "not-an-address"); r.err == nil {
				t.Error("the rejected row was stored")
			}
		})
	}
}

// writeStore changes the database behind env directly, as data written
// before today's validation would have.
func writeStore(t *testing.T, env map[string]string, fn func(*store.Tx) error) {
	t.Helper()
	st, err := store.Open(context.Background(), env["ALERTD_DATABASE_PATH"], alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// checkPrintable fails the test when out holds what a terminal would obey:
// a control character other than tab and line feed, or a bidirectional
// formatting character.
func checkPrintable(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if (unicode.IsControl(r) && r != '\t' && r != '\n') || unicode.Is(unicode.Bidi_Control, r) {
			t.Errorf("%s writes %U to the terminal:\n%q", what, r, out)
			return
		}
	}
}

func TestCommandsNeverWriteStoredControlCharactersToTheTerminal(t *testing.T) {
	env := cliEnv(t)
	const hostile = "\x1b]0;pwned\a\x1b[2J\u009b31m\u202eevil\x7f"
	now := time.Now()
	writeStore(t, env, func(tx *store.Tx) error {
		_, _, err := tx.AddReport(alertd.Report{
			GUID: "g" + hostile, URL: "https://example.org/r/" + hostile, Title: "Title " + hostile,
			Abstract: "Abstract " + hostile, Authors: []string{"A " + hostile}, PublishedAt: now.Add(-time.Hour), CreatedAt: now,
		}, false)
		if err != nil {
			return err
		}
		for _, email := range []string{"reader" + hostile + "@example.org", "agent@example.org"} {
			_, _, err := tx.InsertSubscriber(subscription.AddressKey(email), alertd.Subscriber{
				Email: email, Status: alertd.StatusConfirmed, CreatedAt: now, ConfirmedAt: &now,
				Consent: alertd.Consent{SignupAt: now, SignupUA: "UA " + hostile, ConfirmUA: "UA " + hostile},
			}, store.Confirmation{})
			if err != nil {
				return err
			}
		}
		return nil
	})

	list := cliOK(t, env, "reports", "list")
	checkPrintable(t, "reports list", list)
	if !strings.Contains(list, `Title \u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\u007f`) {
		t.Errorf("reports list does not show the title's control characters as escapes:\n%s", list)
	}
	checkPrintable(t, "digest preview", cliOK(t, env, "digest", "preview"))
	checkPrintable(t, "digest preview --html", cliOK(t, env, "digest", "preview", "--html"))
	checkPrintable(t, "subscribers list", cliOK(t, env, "subscribers", "list"))
	export := cliOK(t, env, "subscribers", "export", "agent@example.org")
	checkPrintable(t, "subscribers export", export)
	var exported struct {
		Consent alertd.Consent `json:"consent"`
	}
	if err := json.Unmarshal([]byte(export), &exported); err != nil || exported.Consent.SignupUA != "UA "+hostile {
		t.Errorf("the export is not JSON holding the user agent as stored (%v): %+v", err, exported)
	}
	bad := writeFile(t, "bad.csv", "email\nnot an address"+hostile+"\n")
	r := cliRun(t, env, "subscribers", "import", bad)
	checkPrintable(t, "subscribers import", r.stdout+r.stderr)
}
