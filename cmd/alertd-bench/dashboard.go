//go:build unix

package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alertd/alertd/internal/store/seed"
)

// dashboardURLs are the pages the dashboard bench requests, each many
// times; a new page is measured by adding its line. Every request carries
// the session cookie and the API's bearer token. A {name} in braces is a
// row of the fixture, looked up before the run (fixtureValues); a URL with
// " next " in it is the page its left part links to by the link starting
// with its right part, as an operator's click on "Next page" reaches it.
// The fixture's audit log has ids 1..100,000 and its reports 1..100,000,
// so before=1000 and before=5000 are pages near their far ends. Of the
// searches, "Evidence" is in every title, "/997" in about a hundred
// numbers, "Housing Kenya" in a few hundred titles, and "Xu", too short
// for the trigram index, in none.
var dashboardURLs = []string{
	"/admin",
	"/admin/reports",
	"/admin/reports?status=all&before=5000",
	"/admin/reports?q=Evidence",
	"/admin/reports?q=%2F997",
	"/admin/reports?q=Housing+Kenya",
	"/admin/reports?q=Xu",
	"/admin/reports?status=held",
	"/admin/reports?status=retracted",
	"/admin/reports/review",
	"/admin/reports/{report}",
	"/admin/reports/{report}/edit",
	"/admin/digests",
	"/admin/digests/preview",
	"/admin/digests/send",
	"/admin/digests/{digest}",
	"/admin/digests/{digest}/progress",
	"/admin/digests/{digest}?after={failure}",
	"/admin/subscribers",
	"/admin/subscribers next /admin/subscribers?after=",
	"/admin/subscribers?q=nora.kim",
	"/admin/subscribers?q=%40research.example.org",
	"/admin/subscribers?status=unsubscribed",
	"/admin/subscribers?topic=climate",
	"/admin/subscribers/{subscriber}",
	"/admin/subscribers/import",
	"/admin/sources",
	"/admin/settings",
	"/admin/audit",
	"/admin/audit?before=1000",
}

// fixtureValues are the fixture's rows that dashboardURLs name: the report
// announced last, the newest digest, the failure nine tenths down its list
// (so that its page is a deep one), and a subscriber of nearly two years,
// with mails in the outbox and in the message history.
func fixtureValues(ctx context.Context, path string) (*strings.Replacer, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var report, digest, failed, failure, subscriber int64
	err = db.QueryRowContext(ctx, `SELECT
		(SELECT max(id) FROM reports WHERE digest_id IS NOT NULL),
		(SELECT max(id) FROM digests),
		(SELECT failed FROM digests ORDER BY id DESC LIMIT 1),
		(SELECT min(id) FROM subscribers WHERE id >= 1000 AND status = 'confirmed')`).Scan(&report, &digest, &failed, &subscriber)
	if err == nil {
		err = db.QueryRowContext(ctx, `SELECT id FROM outbox WHERE digest_id = ? AND status = 'failed'
			ORDER BY id LIMIT 1 OFFSET ?`, digest, failed*9/10).Scan(&failure)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the fixture's rows: %w", err)
	}
	return strings.NewReplacer("{report}", fmt.Sprint(report), "{digest}", fmt.Sprint(digest),
		"{failure}", fmt.Sprint(failure), "{subscriber}", fmt.Sprint(subscriber)), nil
}

const (
	benchAdmin      = "bench@example.org"
	benchAdminToken = "dashboard-bench-token-0123456789abcdef"
)

// dashboardOptions are the dashboard command's flags.
type dashboardOptions struct {
	db       string         // the fixture, built when missing
	reseed   bool           // build it again even if it exists
	alertd   string         // the binary to serve it
	requests int            // per URL
	clients  int            // concurrent clients per URL
	export   string         // when set, measure one streamed GET of this URL instead
	skip     *regexp.Regexp // when set, the pages whose line it matches are left out
}

// benchDashboard serves the fixture with the real alertd binary, as a
// process of its own, signs in, and times the pages, or one streamed
// export and the server's peak memory while it runs.
func benchDashboard(ctx context.Context, o dashboardOptions) error {
	// The server runs in a directory of its own.
	db, err := filepath.Abs(o.db)
	if err != nil {
		return err
	}
	if err := ensureFixture(ctx, db, o.reseed); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "alertd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	binary, err := alertdBinary(ctx, o.alertd, dir)
	if err != nil {
		return err
	}
	srv, err := startServer(ctx, binary, dir, db)
	if err != nil {
		return err
	}
	defer srv.stop()
	client := &benchClient{base: srv.base, http: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: max(o.clients, 2)},
		// The sign-in answers 303; the cookie is on that answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	if err := client.signIn(ctx, binary, dir); err != nil {
		return err
	}
	if o.export != "" {
		return measureExport(ctx, client, srv, o.export)
	}
	values, err := fixtureValues(ctx, db)
	if err != nil {
		return err
	}
	fmt.Printf("dashboard: %d requests a URL, %d client(s), alertd serve pid %d\n", o.requests, o.clients, srv.cmd.Process.Pid)
	fmt.Printf("%-50s %8s %8s %8s %10s\n", "url", "p50", "p99", "max", "bytes")
	var slow []string
	for _, entry := range dashboardURLs {
		if o.skip != nil && o.skip.MatchString(entry) {
			continue
		}
		u, err := client.resolve(ctx, values.Replace(entry))
		if err != nil {
			return err
		}
		times, size, err := client.measure(ctx, u, o.requests, o.clients)
		if err != nil {
			return err
		}
		p50, p99 := percentile(times, 50), percentile(times, 99)
		fmt.Printf("%-50s %8s %8s %8s %10d\n", u, ms(p50), ms(p99), ms(slices.Max(times)), size)
		if p99 > 100*time.Millisecond {
			slow = append(slow, u)
		}
	}
	if rss, err := procStatus(srv.cmd.Process.Pid, "VmHWM"); err == nil {
		fmt.Printf("alertd serve peak RSS %.1f MB\n", float64(rss)/(1<<20))
	}
	if len(slow) > 0 {
		return fmt.Errorf("over 100 ms p99: %s", strings.Join(slow, ", "))
	}
	return nil
}

// ensureFixture builds the dashboard's database at path unless it is
// there already. It is built beside it and renamed into place, so that an
// interrupted build is never taken for a finished one.
func ensureFixture(ctx context.Context, path string, reseed bool) error {
	if _, err := os.Stat(path); err == nil && !reseed {
		fmt.Printf("fixture: %s (delete it, or pass -seed, to build it again)\n", path)
		return nil
	}
	building := path + ".building"
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(building + suffix)
	}
	start := time.Now()
	if err := seed.Dashboard(ctx, building, seed.Full(start)); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(path + suffix)
	}
	if err := os.Rename(building, path); err != nil {
		return err
	}
	fmt.Printf("fixture: %s built in %s\n", path, time.Since(start).Round(time.Second))
	return nil
}

// server is one 'alertd serve' on the fixture.
type server struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

// startServer runs alertd serve on db with a configuration of its own in
// dir: the bench admin, the API token, a digest schedule that does not fire
// (a compile would add a million outbox rows mid-run) and the fixture's
// feed sources, never polled for the same reason.
func startServer(ctx context.Context, binary, dir, db string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	config := fmt.Sprintf(`[server]
listen = "127.0.0.1:%d"
base_url = %q
[database]
path = %q
[mail]
transport = "file"
dir = %q
from = "Report Alerts <alerts@example.org>"
[digest]
schedule = "0 8 29 2 *"
[admin]
emails = [%q]
token = %q
[[topics]]
id = "economy"
name = "Economy and finance"
[[topics]]
id = "climate"
name = "Climate"
[[topics]]
id = "health"
name = "Health"
[[sources]]
url = "https://research.example.org/feed.atom"
schedule = "0 8 29 2 *"
[[sources]]
url = "https://papers.example.net/rss.xml"
schedule = "0 8 29 2 *"
[[sources]]
url = "https://stats.example.com/releases.json"
schedule = "0 8 29 2 *"
[[sources]]
url = "https://review.example.org/feed.atom"
schedule = "0 8 29 2 *"
review = true
`, port, base, db, filepath.Join(dir, "mail"), benchAdmin, benchAdminToken)
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(config), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, binary, "-config", filepath.Join(dir, "config.toml"), "serve")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, base: base, done: make(chan error, 1)}
	listening := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if strings.Contains(lines.Text(), "listening on") {
				close(listening)
			}
		}
		s.done <- cmd.Wait()
	}()
	select {
	case <-listening:
		return s, nil
	case err := <-s.done:
		return nil, fmt.Errorf("alertd serve ended before listening: %v", err)
	}
}

// stop ends the server as an operator would, and waits for it.
func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	<-s.done
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// benchClient requests the server's pages as the signed-in bench admin.
type benchClient struct {
	base    string
	http    *http.Client
	session *http.Cookie
}

// signIn takes a link from 'alertd admin link', as an operator's first
// sign-in does, and posts its form for the session cookie.
func (c *benchClient) signIn(ctx context.Context, binary, dir string) error {
	cmd := exec.CommandContext(ctx, binary, "-config", filepath.Join(dir, "config.toml"), "admin", "link", benchAdmin)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("alertd admin link: %w", err)
	}
	link := strings.TrimSpace(string(out))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, link, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	for _, cookie := range resp.Cookies() {
		if strings.HasSuffix(cookie.Name, "alertd_session") {
			c.session = cookie
			return nil
		}
	}
	return fmt.Errorf("signing in with %s: %s and no session cookie", link, resp.Status)
}

// get requests one URL and reads its whole body into w, failing on any
// status but 200.
func (c *benchClient) get(ctx context.Context, u string, w io.Writer) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+u, nil)
	if err != nil {
		return 0, err
	}
	req.AddCookie(c.session)
	req.Header.Set("Authorization", "Bearer "+benchAdminToken)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return 0, fmt.Errorf("GET %s: %s: %s", u, resp.Status, body)
	}
	return io.Copy(w, resp.Body)
}

// resolve returns u, or for "PAGE next PREFIX" the address of the first
// link on PAGE that starts with PREFIX.
func (c *benchClient) resolve(ctx context.Context, u string) (string, error) {
	page, prefix, ok := strings.Cut(u, " next ")
	if !ok {
		return u, nil
	}
	var body strings.Builder
	if _, err := c.get(ctx, page, &body); err != nil {
		return "", err
	}
	_, rest, found := strings.Cut(body.String(), `href="`+html.EscapeString(prefix))
	link, _, closed := strings.Cut(rest, `"`)
	if !found || !closed {
		return "", fmt.Errorf("GET %s: no link to %s", page, prefix)
	}
	return html.UnescapeString(html.EscapeString(prefix) + link), nil
}

// measure requests u n times from clients concurrent clients, after a few
// unmeasured requests that warm the server's caches, and returns each
// request's time to the last byte and the size of the last answer.
func (c *benchClient) measure(ctx context.Context, u string, n, clients int) ([]time.Duration, int64, error) {
	for range 5 {
		if _, err := c.get(ctx, u, io.Discard); err != nil {
			return nil, 0, err
		}
	}
	times := make([]time.Duration, n)
	errs, sizes := make([]error, clients), make([]int64, clients)
	var wg sync.WaitGroup
	for k := range clients {
		wg.Go(func() {
			for i := k; i < n; i += clients {
				start := time.Now()
				got, err := c.get(ctx, u, io.Discard)
				if err != nil {
					errs[k] = err
					return
				}
				times[i], sizes[k] = time.Since(start), got
			}
		})
	}
	wg.Wait()
	return times, sizes[0], errors.Join(errs...)
}

// measureExport times one streamed GET of u from a server that has served
// nothing else, and reads the server's resident memory while it streams
// and its peak (VmHWM, which covers its start too) after.
func measureExport(ctx context.Context, c *benchClient, srv *server, u string) error {
	pid := srv.cmd.Process.Pid
	before, err := procStatus(pid, "VmRSS")
	if err != nil {
		return err
	}
	var sampled int64
	stopSampling := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			if rss, err := procStatus(pid, "VmRSS"); err == nil {
				sampled = max(sampled, rss)
			}
			select {
			case <-stopSampling:
				return
			case <-tick.C:
			}
		}
	})
	lines := &lineCounter{}
	start := time.Now()
	size, err := c.get(ctx, u, lines)
	elapsed := time.Since(start)
	close(stopSampling)
	wg.Wait()
	if err != nil {
		return err
	}
	peak, err := procStatus(pid, "VmHWM")
	if err != nil {
		return err
	}
	mb := func(n int64) float64 { return float64(n) / (1 << 20) }
	fmt.Printf("export: GET %s: %d bytes, %d lines in %s\n", u, size, lines.n, elapsed.Round(time.Millisecond))
	fmt.Printf("alertd serve RSS: %.1f MB before, %.1f MB at most while streaming (sampled every 50 ms), peak %.1f MB (VmHWM)\n",
		mb(before), mb(sampled), mb(peak))
	return nil
}

// lineCounter counts the lines written to it.
type lineCounter struct{ n int }

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += strings.Count(string(p), "\n")
	return len(p), nil
}

// procStatus reads one memory figure of a live process from
// /proc/PID/status, in bytes.
func procStatus(pid int, field string) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// percentile is the nearest-rank p-th percentile of times: the smallest
// time that at least p% of them do not exceed.
func percentile(times []time.Duration, p float64) time.Duration {
	if len(times) == 0 {
		return 0
	}
	sorted := slices.Sorted(slices.Values(times))
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + "ms"
}
