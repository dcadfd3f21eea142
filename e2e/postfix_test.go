package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/mail/mailtest"
)

// bounceDomain is the domain of alertd's VERP envelope senders in the
// Postfix test; Postfix's transport map sends it to alertd's receiver.
const bounceDomain = "bounces.example.test"

// TestPostfixDSNsBounceTheirSubscribers sends a digest through a real
// Postfix, whose next hop accepts two readers' mail and refuses two others
// with 550 5.1.1 after Postfix has queued it. Postfix writes its own
// delivery status notifications to the digests' VERP senders and, by its
// transport map, delivers them to alertd's bounce.listen: the two refused
// readers end bounced with the DSN kept as evidence, and nobody else
// changes. Then a report that one accepted reader's own MTA mails later
// comes in as mail from the internet does, through the port the bounce
// domain's MX points at, which takes mail for that domain and relays
// nothing else: that reader is bounced too, and the last one never is.
func TestPostfixDSNsBounceTheirSubscribers(t *testing.T) {
	started := time.Now()
	postfixCmd := needPostfix(t)
	nextHop := mailtest.NewServer(t)
	gone := []string{"bob@readers.example.test", "cy@readers.example.test"}
	const kept, later = "ada@readers.example.test", "dee@readers.example.test"
	for _, addr := range gone {
		nextHop.RejectRcpt(addr, 550, "5.1.1 No such user here")
	}
	receiver := alerttest.FreeAddr(t)
	relay := startPostfix(t, postfixCmd, nextHop.Port, receiver)

	addr := alerttest.FreeAddr(t)
	a := &app{baseURL: "http://" + addr, adminToken: "e2e-admin-token-0123456789abcdef"}
	env := map[string]string{
		"ALERTD_CONFIG":                    "",
		"ALERTD_DATABASE_PATH":             filepath.Join(t.TempDir(), "alertd.db"),
		"ALERTD_SERVER_LISTEN":             addr,
		"ALERTD_SERVER_BASE_URL":           a.baseURL,
		"ALERTD_SMTP_HOST":                 "127.0.0.1",
		"ALERTD_SMTP_PORT":                 strconv.Itoa(relay.port),
		"ALERTD_SMTP_TLS":                  "none",
		"ALERTD_MAIL_FROM":                 "Research Alerts <alerts@example.org>",
		"ALERTD_ADMIN_TOKEN":               a.adminToken,
		"ALERTD_SUBSCRIBE_PER_IP_PER_HOUR": "0",
		"ALERTD_BOUNCE_DOMAIN":             bounceDomain,
		"ALERTD_BOUNCE_LISTEN":             receiver,
	}
	readers := filepath.Join(t.TempDir(), "readers.csv")
	if err := os.WriteFile(readers, []byte("email\n"+strings.Join(append([]string{kept, later}, gone...), "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	importCmd := exec.Command(alertdBinary, "subscribers", "import", "--confirmed", readers)
	importCmd.Env = alerttest.Environ(env)
	if out, err := importCmd.CombinedOutput(); err != nil {
		t.Fatalf("alertd subscribers import: %v\n%s", err, out)
	}
	p := startProcess(t, alertdBinary, alerttest.Environ(env), t.TempDir(), "serve")
	p.waitReady(t, a.baseURL+"/healthz")
	a.publishDigest(t)

	// The next hop has taken two readers' digests and refused the two
	// others; then Postfix's queue empties once it has handed its
	// DSNs to alertd's receiver, which answers only after recording them.
	ctx := context.Background()
	nextHop.WaitCount(t, 2, time.Minute)
	var bounces []alertd.Bounce
	err := eventually(ctx, time.Minute, func() (bool, error) {
		for _, addr := range gone {
			if nextHop.RcptAttempts(addr) == 0 {
				return false, nil
			}
		}
		if queued, err := relay.queued(); err != nil || queued > 0 {
			return false, err
		}
		bounces = nil
		a.adminGet(t, "/api/v1/bounces", &bounces)
		return len(bounces) >= len(gone), nil
	})
	if err != nil {
		t.Fatalf("Postfix's DSNs did not all reach alertd (%v); bounces kept: %+v\nPostfix log:\n%s\nalertd log:\n%s",
			err, bounces, relay.log(), p.output)
	}

	if len(bounces) != len(gone) {
		t.Errorf("%d bounces kept, want one per refused reader: %+v", len(bounces), bounces)
	}
	for _, b := range bounces {
		if b.Kind != alertd.BounceHard || b.Source != alertd.SourceDSN || b.Status != "5.1.1" || b.MessageID == 0 ||
			b.DigestID == 0 || !strings.Contains(b.Diagnostic, "550 5.1.1") || !strings.Contains(b.Evidence, "Status: 5.1.1") {
			t.Errorf("bounce kept without its evidence: %+v", b)
		}
	}
	for _, email := range gone {
		if got := a.subscriberStatus(t, email); got != alertd.StatusBounced {
			t.Errorf("%s is %q after Postfix's DSN, want %q", email, got, alertd.StatusBounced)
		}
		if !bouncedOnce(bounces, email) {
			t.Errorf("no bounce kept for %s: %+v", email, bounces)
		}
		if n := nextHop.RcptAttempts(email); n != 1 {
			t.Errorf("Postfix offered %s to the next hop %d times after a 550, want once", email, n)
		}
	}
	for _, email := range []string{kept, later} {
		if got := a.subscriberStatus(t, email); got != alertd.StatusConfirmed {
			t.Errorf("%s, whose digest was delivered, is %q", email, got)
		}
		if n := nextHop.Deliveries()[email]; n != 1 {
			t.Errorf("%s received %d digests at the next hop, want 1", email, n)
		}
	}
	var laterVERP string
	for _, m := range nextHop.Messages() {
		if m.To[0] == later {
			laterVERP = m.From
		}
	}

	// Later, the accepted reader's own MTA reports the digest it took.
	err = alerttest.SendFromNullSender(relay.mx, "someone@elsewhere.example.test", "Subject: relay me\r\n\r\n")
	if tpErr := (*textproto.Error)(nil); !errors.As(err, &tpErr) || tpErr.Code != 554 {
		t.Errorf("Postfix's MX port, given mail for another domain: %v, want 554 (relay access denied)", err)
	}
	dsn := alerttest.DSN("later-1", laterVERP, later, "5.2.1", "550 5.2.1 mailbox disabled")
	if err := alerttest.SendFromNullSender(relay.mx, laterVERP, dsn); err != nil {
		t.Fatalf("mail a report to %s through Postfix's MX port: %v\nPostfix log:\n%s", laterVERP, err, relay.log())
	}
	var status alertd.SubscriberStatus
	err = eventually(ctx, time.Minute, func() (bool, error) {
		if queued, err := relay.queued(); err != nil || queued > 0 {
			return false, err
		}
		status = a.subscriberStatus(t, later)
		return status == alertd.StatusBounced, nil
	})
	if err != nil {
		t.Fatalf("%s is %q after its MTA's report (%v)\nPostfix log:\n%s\nalertd log:\n%s", later, status, err, relay.log(), p.output)
	}
	bounces = nil
	a.adminGet(t, "/api/v1/bounces", &bounces)
	if len(bounces) != len(gone)+1 || !bouncedOnce(bounces, later) {
		t.Errorf("bounces kept after the report for %s: %+v", later, bounces)
	} else if b := bounces[len(bounces)-1]; b.Source != alertd.SourceDSN || b.Status != "5.2.1" || b.MessageID == 0 {
		t.Errorf("the report for %s kept as %+v", later, b)
	}
	if got := a.subscriberStatus(t, kept); got != alertd.StatusConfirmed {
		t.Errorf("%s, never reported, is %q", kept, got)
	}
	t.Logf("digest sent through Postfix and every report recorded in %v", time.Since(started).Round(time.Millisecond))
}

// bouncedOnce reports whether exactly one of bounces names email.
func bouncedOnce(bounces []alertd.Bounce, email string) bool {
	n := 0
	for _, b := range bounces {
		if strings.EqualFold(b.Email, email) {
			n++
		}
	}
	return n == 1
}

// adminGet reads a JSON answer of the admin API into out.
func (a *app) adminGet(t *testing.T, path string, out any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.baseURL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: undecodable answer: %v", path, err)
	}
}

// subscriberStatus is a subscriber's status, read through the admin API.
func (a *app) subscriberStatus(t *testing.T, email string) alertd.SubscriberStatus {
	t.Helper()
	var sub alertd.Subscriber
	a.adminGet(t, "/api/v1/subscribers/"+url.PathEscape(email), &sub)
	return sub.Status
}

// needPostfix returns the path of Debian's postfix command, or skips the
// test where Postfix cannot run. In CI (CI=true), where .ci/run installs
// it, a missing Postfix fails the test instead.
func needPostfix(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("postfix")
	if err != nil {
		if info, statErr := os.Stat("/usr/sbin/postfix"); statErr == nil && !info.IsDir() {
			path, err = "/usr/sbin/postfix", nil
		}
	}
	if err != nil {
		const msg = "postfix is not installed, so this test cannot send through a real MTA: " +
			"apt-get install postfix (with debconf postfix/main_mailer_type \"No configuration\"; .ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		t.Skip("Postfix's master process must run as root, so this test cannot start one: run it as root")
	}
	return path
}

// postfix is a Postfix instance of the test's own: its configuration and
// queue in a directory of their own, listening on one loopback port.
type postfix struct {
	cmd  string
	dir  string // its configuration is in etc/, its queue in queue/
	port int    // smtpd's for alertd's mail
	mx   string // smtpd's for mail from the internet, the bounce domain's MX
}

// startPostfix starts Postfix as a relay that takes mail from loopback on
// a free port and sends it on to 127.0.0.1:nextHop, except mail for
// bounceDomain, which its transport map sends to bounceListen; on a second
// port it takes mail for bounceDomain only, as from the internet. It is
// stopped when the test ends.
func startPostfix(t *testing.T, cmd string, nextHop int, bounceListen string) *postfix {
	t.Helper()
	// Postfix's daemons run as the postfix user, which must be able to
	// reach the queue: not a test's private temporary directory.
	dir, err := os.MkdirTemp("", "alertd-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	pf := &postfix{cmd: cmd, dir: dir, port: alerttest.FreePort(t), mx: alerttest.FreeAddr(t)}
	host, port, err := net.SplitHostPort(bounceListen)
	if err != nil {
		t.Fatal(err)
	}
	mainCf := fmt.Sprintf(`compatibility_level = 3.6
myhostname = relay.postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:%d
relay_domains = %[3]s
transport_maps = hash:%[2]s/etc/transport
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
notify_classes =
biff = no
queue_directory = %[2]s/queue
data_directory = %[2]s/data
maillog_file = %[2]s/maillog
maillog_file_prefixes = %[2]s
# Deliver at once, and retry within seconds rather than minutes.
in_flow_delay = 0
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
`, nextHop, dir, bounceDomain)
	// No service is chrooted: a chroot would need copies of the system's
	// files inside the queue directory.
	// The first smtpd relays for loopback clients (mynetworks); the
	// second, as the bounce domain's MX faces the internet, takes mail
	// for relay_domains only.
	masterCf := fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
%s inet n - n - - smtpd -o smtpd_relay_restrictions=reject_unauth_destination
pickup    unix  n - n 60  1 pickup
cleanup   unix  n - n -   0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n -   - trivial-rewrite
bounce    unix  - - n -   0 bounce
defer     unix  - - n -   0 bounce
trace     unix  - - n -   0 bounce
verify    unix  - - n -   1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -   - proxymap
smtp      unix  - - n -   - smtp
relay     unix  - - n -   - smtp
showq     unix  n - n -   - showq
error     unix  - - n -   - error
retry     unix  - - n -   - error
discard   unix  - - n -   - discard
anvil     unix  - - n -   1 anvil
scache    unix  - - n -   1 scache
postlog   unix-dgram n - n - 1 postlogd
`, pf.port, pf.mx)
	transport := fmt.Sprintf("%s  smtp:[%s]:%s\n", bounceDomain, host, port)
	// postfix start makes the queue's subdirectories, not the queue.
	for _, sub := range []string{"etc", "queue"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"main.cf": mainCf, "master.cf": masterCf, "transport": transport} {
		if err := os.WriteFile(filepath.Join(dir, "etc", name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pf.run(t, filepath.Join(filepath.Dir(cmd), "postmap"), "-c", pf.etc(), "hash:"+filepath.Join(pf.etc(), "transport"))
	pf.run(t, cmd, "-c", pf.etc(), "start")
	t.Cleanup(func() { pf.stop(t) })
	return pf
}

// etc is the instance's config_directory.
func (pf *postfix) etc() string { return filepath.Join(pf.dir, "etc") }

// run runs one of Postfix's commands, failing the test if it fails.
func (pf *postfix) run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s\nPostfix log:\n%s", filepath.Base(name), strings.Join(args, " "), err, out, pf.log())
	}
}

// stop stops Postfix and waits until its master process has gone, so that
// nothing is left running or writing into the directory being removed.
func (pf *postfix) stop(t *testing.T) {
	pidFile := filepath.Join(pf.dir, "queue", "pid", "master.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Errorf("Postfix's master process id: %v", err)
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Errorf("Postfix's master process id in %s: %v", pidFile, err)
		return
	}
	if out, err := exec.Command(pf.cmd, "-c", pf.etc(), "stop").CombinedOutput(); err != nil {
		t.Errorf("postfix stop: %v\n%s", err, out)
	}
	err = eventually(context.Background(), 15*time.Second, func() (bool, error) {
		return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH), nil
	})
	if err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("Postfix's master process %d still running 15s after postfix stop; killed", pid)
	}
}

// queued is how many messages are in Postfix's queue, by postqueue -j.
func (pf *postfix) queued() (int, error) {
	out, err := exec.Command(filepath.Join(filepath.Dir(pf.cmd), "postqueue"), "-c", pf.etc(), "-j").Output()
	if err != nil {
		return 0, fmt.Errorf("postqueue -j: %w", err)
	}
	return strings.Count(string(out), "\n"), nil
}

// log is what Postfix has logged so far, for failure messages.
func (pf *postfix) log() string {
	b, err := os.ReadFile(filepath.Join(pf.dir, "maillog"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}
