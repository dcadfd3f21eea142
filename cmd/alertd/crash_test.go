package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/store"
)

// The crash tests run the real binary as a child process, stop it in the
// middle of a digest with a signal, start it again, and count at the SMTP
// server what every recipient received: nothing lost, and no more
// duplicates than the messages in flight when the process died (none after
// a graceful stop).

const (
	crashRecipients  = 1500
	crashConnections = 4
	// crashTimeout bounds each wait of these tests; a run takes a few
	// seconds.
	crashTimeout = 60 * time.Second
	// crashLease is the claims' lease in these tests: far longer than any
	// of them may take, so that no message comes back because its lease
	// ran out.
	crashLease = "1h"
	// resumeWithin is how soon after the restart every recipient must have
	// the digest: seconds, as a restart takes back what the dead process
	// had claimed at once.
	resumeWithin = 20 * time.Second
)

// builtBinary is alertd built once for all the tests that need it.
var builtBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtBinary.dir != "" {
		os.RemoveAll(builtBinary.dir)
	}
	os.Exit(code)
}

// alertdBinary builds ./cmd/alertd (once per test run) and returns its path.
func alertdBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: it is needed to build the alertd binary for the crash tests")
	}
	b := &builtBinary
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", "alertd-crash-test-"); b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "alertd")
		out, err := exec.Command(goTool, "build", "-o", b.path, ".").CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// child is `alertd serve` running as a process of its own.
type child struct {
	cmd    *exec.Cmd
	stderr *alerttest.Buffer
	exited chan struct{}
	err    error // cmd.Wait's result, once exited is closed
}

// startChild starts `alertd serve` with env (and nothing else of ALERTD_*
// from the test's environment) and waits until it listens.
func startChild(t *testing.T, binary string, env map[string]string) *child {
	t.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Dir = t.TempDir() // no ./config.toml
	cmd.Env = alerttest.Environ(env)
	stdout := newSignalWriter("listening on")
	c := &child{cmd: cmd, stderr: &alerttest.Buffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = stdout, c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start alertd serve: %v", err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-c.exited:
		default:
			_ = cmd.Process.Kill() // a test that failed half-way leaves no process behind
			<-c.exited
		}
	})
	timeout := time.NewTimer(crashTimeout)
	defer timeout.Stop()
	select {
	case <-stdout.seen:
		return c
	case <-c.exited:
		t.Fatalf("alertd serve exited before listening: %v\n%s", c.err, c.logs())
	case <-timeout.C:
		t.Fatalf("alertd serve did not listen within %v\n%s", crashTimeout, c.logs())
	}
	return nil
}

func (c *child) logs() string {
	return c.stderr.String()
}

// stop sends sig and waits for the process to exit; it returns Wait's error.
func (c *child) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	timeout := time.NewTimer(crashTimeout)
	defer timeout.Stop()
	select {
	case <-c.exited:
		return c.err
	case <-timeout.C:
		t.Fatalf("alertd did not exit within %v of %v\n%s", crashTimeout, sig, c.logs())
		return nil
	}
}

// crashSetup is a database with crashRecipients confirmed subscribers and a
// report waiting for its digest, and a relay slowed down a little so that
// sending the digest takes a few seconds.
func crashSetup(t *testing.T) (*mailtest.Server, map[string]string) {
	t.Helper()
	srv := mailtest.NewServer(t)
	srv.OnData(func([]string, int) error {
		time.Sleep(2 * time.Millisecond) // a relay's latency per message
		return nil
	})
	env := testEnv(t, srv)
	env["ALERTD_CONFIG"] = ""
	env["ALERTD_SMTP_CONNECTIONS"] = fmt.Sprint(crashConnections)
	env["ALERTD_SMTP_TIMEOUT"] = "10s"
	// Short enough that an unforeseen temporary failure cannot stall the
	// test; retries never duplicate a message.
	env["ALERTD_DELIVERY_RETRY_SCHEDULE"] = "100ms,500ms,1s"
	env["ALERTD_DELIVERY_LEASE"] = crashLease

	var csv strings.Builder
	csv.WriteString("email\n")
	for i := range crashRecipients {
		fmt.Fprintf(&csv, "r%04d@example.org\n", i)
	}
	file := filepath.Join(t.TempDir(), "subscribers.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	runCommand(t, env, "subscribers", "import", "--confirmed", file)
	runCommand(t, env, "reports", "add", "--title", "Crash Course", "--url", "https://example.org/r/crash")
	return srv, env
}

// startDigest compiles the digest through the admin API; it returns its id.
func startDigest(t *testing.T, env map[string]string) int64 {
	t.Helper()
	code, d := adminPost(t, &instance{baseURL: env["ALERTD_SERVER_BASE_URL"], env: env}, "/api/v1/digests", "")
	if code != http.StatusCreated || d["recipients"] != float64(crashRecipients) {
		t.Fatalf("compile digest: %d %v, want %d recipients", code, d, crashRecipients)
	}
	return int64(d["id"].(float64))
}

// awaitDelivered polls the admin API until the digest has nothing pending
// and returns its counts.
func awaitDelivered(t *testing.T, env map[string]string, id int64, c *child) alertd.Digest {
	t.Helper()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	deadline := time.NewTimer(crashTimeout)
	defer deadline.Stop()
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/digests/%d", env["ALERTD_SERVER_BASE_URL"], id), nil)
		req.Header.Set("Authorization", "Bearer "+env["ALERTD_ADMIN_TOKEN"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d alertd.Digest
		err = json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET digest %d: %d %v", id, resp.StatusCode, err)
		}
		if d.Pending == 0 {
			return d
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("after %v digest %d still has %d pending: %+v\n%s", crashTimeout, id, d.Pending, d, c.logs())
		}
	}
}

// tally compares what the relay received with the recipients: how many
// got nothing, and how many extra copies went out, naming who got them.
func tally(srv *mailtest.Server) (missing, duplicates int, twice []string) {
	got := srv.Deliveries()
	for i := range crashRecipients {
		addr := fmt.Sprintf("r%04d@example.org", i)
		switch n := got[addr]; {
		case n == 0:
			missing++
		case n > 1:
			duplicates += n - 1
			twice = append(twice, addr)
		}
	}
	return missing, duplicates, twice
}

// interrupt starts the binary, has it send the digest, and stops it with
// sig once about a third has arrived; it returns the digest's id and the
// child's exit error.
func interrupt(t *testing.T, binary string, srv *mailtest.Server, env map[string]string, sig syscall.Signal) (int64, error) {
	t.Helper()
	first := startChild(t, binary, env)
	start := time.Now()
	id := startDigest(t, env)
	srv.WaitCount(t, crashRecipients/3, crashTimeout)
	err := first.stop(t, sig)
	srv.WaitDisconnected(t, crashTimeout)
	t.Logf("%v after %v, with %d of %d delivered", sig, time.Since(start).Round(time.Millisecond), srv.Received(), crashRecipients)
	return id, err
}

// resume starts the binary again, waits until the relay has received
// received messages in all, which must take less than resumeWithin, and
// until the digest is recorded as delivered, and stops it gracefully.
func resume(t *testing.T, binary string, srv *mailtest.Server, env map[string]string, id int64, received int) alertd.Digest {
	t.Helper()
	start := time.Now()
	second := startChild(t, binary, env)
	srv.WaitCount(t, received, resumeWithin)
	d := awaitDelivered(t, env, id, second)
	if err := second.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("the restarted alertd exited with %v after SIGTERM, want 0\n%s", err, second.logs())
	}
	t.Logf("restart delivered the rest in %v: %+v", time.Since(start).Round(time.Millisecond), d)
	return d
}

// TestKill9MidDigestLosesNothingAndDuplicatesAtMostOnePerConnection kills
// alertd with SIGKILL a third into a digest and starts it again: every
// recipient gets the digest, and only the messages that were on the wire
// at the moment of the kill (one per connection at most) go out twice.
func TestKill9MidDigestLosesNothingAndDuplicatesAtMostOnePerConnection(t *testing.T) {
	binary := alertdBinary(t)
	srv, env := crashSetup(t)
	id, _ := interrupt(t, binary, srv, env, syscall.SIGKILL)
	unrecorded := unrecordedAtStop(t, srv, env["ALERTD_DATABASE_PATH"], id)
	t.Logf("%d messages accepted by the relay but not recorded as sent at the kill", unrecorded)
	if unrecorded < 0 || unrecorded > crashConnections {
		t.Errorf("%d messages sent but not recorded at the kill, want 0 to %d (one per connection)", unrecorded, crashConnections)
	}

	// The killed process's claims come back at the restart, not when
	// their lease (an hour) runs out: every recipient has the digest
	// within seconds.
	d := resume(t, binary, srv, env, id, crashRecipients+unrecorded)
	missing, duplicates, twice := tally(srv)
	t.Logf("%d recipients: %d missing, %d duplicates %v", crashRecipients, missing, duplicates, twice)
	if missing != 0 {
		t.Errorf("%d recipients got nothing, want 0", missing)
	}
	if duplicates > crashConnections || duplicates != unrecorded {
		t.Errorf("%d duplicates, want the %d sent but not recorded at the kill, at most %d (one per connection)",
			duplicates, unrecorded, crashConnections)
	}
	if d.Sent != crashRecipients || d.Failed != 0 || d.Cancelled != 0 {
		t.Errorf("digest counts %+v, want all %d sent", d, crashRecipients)
	}
}

// TestSIGTERMMidDigestLosesAndDuplicatesNothing stops alertd with SIGTERM a
// third into a digest: it exits 0 by itself, having recorded every message
// it sent and handed back every one it had not, and once started again
// delivers the rest: every recipient gets exactly one.
func TestSIGTERMMidDigestLosesAndDuplicatesNothing(t *testing.T) {
	binary := alertdBinary(t)
	srv, env := crashSetup(t)
	id, err := interrupt(t, binary, srv, env, syscall.SIGTERM)
	if err != nil {
		t.Fatalf("alertd exited with %v after SIGTERM, want 0", err)
	}
	checkNothingLostAtStop(t, srv, env["ALERTD_DATABASE_PATH"], id)

	resume(t, binary, srv, env, id, crashRecipients)
	missing, duplicates, twice := tally(srv)
	t.Logf("%d recipients: %d missing, %d duplicates %v", crashRecipients, missing, duplicates, twice)
	if missing != 0 || duplicates != 0 {
		t.Errorf("%d missing, %d duplicates %v; want none of either after a graceful stop", missing, duplicates, twice)
	}
}

// checkNothingLostAtStop reads the database of a stopped alertd: every
// message the relay accepted is recorded as sent, every other one waits in
// the queue, and none is left claimed by the process that is gone.
func checkNothingLostAtStop(t *testing.T, srv *mailtest.Server, path string, id int64) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Digest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	statuses, err := st.MessageCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	received := srv.Received()
	t.Logf("at the stop: %d received by the relay; digest %+v; outbox %v", received, d, statuses)
	if d.Sent != received {
		t.Errorf("the digest counts %d sent, the relay received %d", d.Sent, received)
	}
	if d.Sent+d.Pending != crashRecipients || d.Failed != 0 || d.Cancelled != 0 {
		t.Errorf("digest %+v: sent and pending do not add up to the %d recipients", d, crashRecipients)
	}
	if statuses[alertd.MessageSending] != 0 {
		t.Errorf("%d messages left claimed by the stopped process, want 0 (handed back)", statuses[alertd.MessageSending])
	}
	if statuses[alertd.MessageQueued] != d.Pending {
		t.Errorf("%d messages queued, want the %d pending", statuses[alertd.MessageQueued], d.Pending)
	}
}

// unrecordedAtStop returns how many more messages the relay accepted than
// the killed process recorded as sent. Its last records may still be in
// its sent log, or in a log it had folded but not yet removed; the store
// folds them into a copy of the database, so that the original is left
// for the restart to fold.
func unrecordedAtStop(t *testing.T, srv *mailtest.Server, path string, id int64) int {
	t.Helper()
	ctx := context.Background()
	files, err := filepath.Glob(path + "*") // the database, its WAL and its sent logs
	if err != nil {
		t.Fatal(err)
	}
	snapshot := filepath.Join(t.TempDir(), filepath.Base(path))
	for _, file := range files {
		content, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(snapshot+strings.TrimPrefix(file, path), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st, err := store.Open(ctx, snapshot, alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.FoldAbandonedSentLogs(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	d, err := st.Digest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return srv.Received() - d.Sent
}
