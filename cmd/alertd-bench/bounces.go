//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// benchBounceDomain is the VERP domain alertd is given.
const benchBounceDomain = "bounces.example.org"

// softEvery makes every softEvery-th DSN a delay warning (soft) rather than
// a 5.1.1 failure (hard).
const softEvery = 10

// envelope is one message the sink accepted from alertd.
type envelope struct{ from, to string }

// sentLog is the envelopes alertd's digest send delivered, in order, so
// that a DSN is only written about a message alertd has sent.
type sentLog struct {
	mu   sync.Mutex
	cond *sync.Cond
	all  []envelope
}

func newSentLog() *sentLog {
	l := &sentLog{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *sentLog) add(from string, to []string) {
	l.mu.Lock()
	for _, t := range to {
		l.all = append(l.all, envelope{from, t})
	}
	l.mu.Unlock()
	l.cond.Broadcast()
}

// at waits until the i-th message was sent and returns it.
func (l *sentLog) at(i int) envelope {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.all) <= i {
		l.cond.Wait()
	}
	return l.all[i]
}

func (l *sentLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.all)
}

// memSample is alertd's memory at one moment of the run, from its own
// /metrics.
type memSample struct {
	at        time.Duration
	dsns      int64
	heap, rss float64 // bytes: go_memstats_heap_inuse_bytes, process_resident_memory_bytes
}

// benchBounces measures the real 'alertd serve' taking delivery status
// notifications on its bounce receiver while it sends a digest: the
// database holds that many confirmed subscribers and a freshly compiled
// digest; alertd sends it to the bench's SMTP sink with VERP envelope
// senders; once the sink has received dsns messages, and while alertd
// goes on sending, the bench mails dsns RFC 3464 reports, each about a
// message the sink has received (to its VERP address, naming its
// recipient), over connections SMTP connections, and samples alertd's heap
// and RSS. A 250 from the receiver must mean recorded: afterwards every
// DSN must be in the database and every hard one's subscriber bounced.
func benchBounces(ctx context.Context, alertdPath string, subscribers, dsns, connections int) error {
	if dsns > subscribers {
		return fmt.Errorf("-dsns %d is more than -subscribers %d: a DSN is about a sent message", dsns, subscribers)
	}
	dir, err := os.MkdirTemp("", "alertd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if alertdPath, err = alertdBinary(ctx, alertdPath, dir); err != nil {
		return err
	}
	db := filepath.Join(dir, "alertd.db")
	frequencies := benchFrequencies(1)
	if err := fillDatabase(ctx, db, subscribers, frequencies); err != nil {
		return err
	}
	if err := compileDigests(ctx, db, subscribers, frequencies); err != nil {
		return err
	}

	sent := newSentLog()
	received := newSink()
	received.sent = sent.add
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	server := newSinkServer(received)
	go server.Serve(listener)
	defer server.Close()

	serve, err := startServe(ctx, alertdPath, dir, listener.Addr().(*net.TCPAddr).Port)
	if err != nil {
		return err
	}
	defer serve.stop()

	// The DSNs start once the digest has sent every message they are
	// about, so that their rate is the receiver's and not the digest's
	// pace; the digest goes on sending meanwhile.
	sent.at(dsns - 1)
	var done atomic.Int64
	samples := make(chan []memSample, 1)
	stopSampling := make(chan struct{})
	start := time.Now()
	go func() { samples <- sampleMemory(serve.http, start, &done, stopSampling) }()
	sentAtStart := sent.len()

	var next atomic.Int64
	errs := make([]error, connections)
	var wg sync.WaitGroup
	for c := range connections {
		wg.Go(func() { errs[c] = sendDSNs(serve.bounce, sent, dsns, &next, &done, start) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	sentAtEnd := sent.len()
	close(stopSampling)
	memory := <-samples
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sending DSNs: %w (alertd's log: %s)", err, serve.logFile)
	}
	if err := serve.stop(); err != nil {
		return err
	}

	hard := dsns - dsns/softEvery
	recorded, bounced, err := countBounces(ctx, db, dsns)
	if err != nil {
		return err
	}
	fmt.Printf(`bounces: %d subscribers, digest sent by alertd serve over 4 connections to the sink
  DSNs: %d (%d hard 5.1.1, %d soft 4.4.1) over %d connections in %s = %.0f DSNs/s
  the digest meanwhile: %d messages sent during the run (%d before, %d after: %s)
  recorded: %d DSN bounces matched to their subscriber, %d subscribers bounced (want %d and %d)
`, subscribers, dsns, hard, dsns-hard, connections, elapsed.Round(time.Millisecond), float64(dsns)/elapsed.Seconds(),
		sentAtEnd-sentAtStart, sentAtStart, sentAtEnd, sendingState(sentAtEnd, subscribers),
		recorded, bounced, dsns, hard)
	printMemory(memory)
	if recorded != dsns || bounced != hard {
		return errors.New("a DSN answered 250 was not recorded and applied")
	}
	return nil
}

func sendingState(sent, subscribers int) string {
	if sent < subscribers {
		return "still sending at the end"
	}
	return "the digest FINISHED before the DSNs did: raise -subscribers"
}

// serveRun is a running 'alertd serve'.
type serveRun struct {
	cmd          *exec.Cmd
	http, bounce string // addresses
	logFile      string
	stopOnce     sync.Once
	stopErr      error
}

// startServe starts 'alertd serve' on the database in dir, configured by
// the environment alone: mail to the sink on 127.0.0.1:port with VERP
// senders, the bounce receiver and the web server on free loopback ports,
// which it reads from alertd's output.
func startServe(ctx context.Context, path, dir string, port int) (*serveRun, error) {
	cmd := exec.CommandContext(ctx, path, "serve")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"ALERTD_DATABASE_PATH="+filepath.Join(dir, "alertd.db"),
		"ALERTD_SERVER_LISTEN=127.0.0.1:0",
		"ALERTD_SERVER_BASE_URL=https://alerts.example.org",
		"ALERTD_ADMIN_TOKEN="+benchAdminToken,
		"ALERTD_SMTP_HOST=127.0.0.1",
		"ALERTD_SMTP_PORT="+strconv.Itoa(port),
		"ALERTD_SMTP_TLS=none",
		"ALERTD_SMTP_CONNECTIONS=4",
		"ALERTD_MAIL_FROM=Report Alerts <alerts@example.org>",
		"ALERTD_BOUNCE_DOMAIN="+benchBounceDomain,
		"ALERTD_BOUNCE_LISTEN=127.0.0.1:0",
	)
	run := &serveRun{cmd: cmd, logFile: filepath.Join(dir, "alertd.log")}
	logs, err := os.Create(run.logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	lines := bufio.NewScanner(stdout)
	for (run.http == "" || run.bounce == "") && lines.Scan() {
		line := lines.Text()
		if addr, ok := strings.CutPrefix(line, "alertd: bounce and complaint mail taken over SMTP on "); ok {
			run.bounce = addr
		}
		if _, rest, ok := strings.Cut(line, "(listening on "); ok {
			run.http = strings.TrimSuffix(rest, ")")
		}
	}
	if run.http == "" || run.bounce == "" {
		run.stop()
		return nil, fmt.Errorf("alertd serve did not say where it listens; its log: %s", run.logFile)
	}
	go io.Copy(io.Discard, stdout)
	return run, nil
}

// stop ends alertd as an operator would (SIGTERM) and waits for it.
func (r *serveRun) stop() error {
	r.stopOnce.Do(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		if err := r.cmd.Wait(); err != nil {
			r.stopErr = fmt.Errorf("alertd serve: %w (its log: %s)", err, r.logFile)
		}
	})
	return r.stopErr
}

// sendDSNs sends DSNs over one SMTP connection, taking their numbers from
// next until count is reached, and counts each one answered 250 in done.
func sendDSNs(addr string, sent *sentLog, count int, next, done *atomic.Int64, start time.Time) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Hello("mx.example.net"); err != nil {
		return err
	}
	for i := int(next.Add(1)) - 1; i < count; i = int(next.Add(1)) - 1 {
		e := sent.at(i)
		if err := c.Mail("", nil); err != nil {
			return err
		}
		if err := c.Rcpt(e.from, nil); err != nil {
			return err
		}
		w, err := c.Data()
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, dsn(i, e, start)); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("DSN %d: %w", i, err)
		}
		done.Add(1)
	}
	return c.Quit()
}

// dsn is the i-th report: an RFC 3464 multipart/report as Postfix writes
// it, to the message's VERP address and quoting its header, a 5.1.1
// failure or, for every softEvery-th, a 4.4.1 delay.
func dsn(i int, e envelope, start time.Time) string {
	action, status, diagnostic := "failed", "5.1.1", "550 5.1.1 <"+e.to+">: Recipient address rejected: User unknown"
	if i%softEvery == softEvery-1 {
		action, status, diagnostic = "delayed", "4.4.1", "454 4.4.1 connection timed out"
	}
	date := start.UTC().Format(time.RFC1123Z)
	return fmt.Sprintf(`From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: %[1]s
Subject: Undelivered Mail Returned to Sender
Date: %[2]s
Message-ID: <%[3]d.%[4]d.dsn@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="%[4]d/mx.example.net"

This is a MIME-encapsulated message.

--%[4]d/mx.example.net
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<%[5]s>: host mx.example.com[192.0.2.25] said: %[8]s

--%[4]d/mx.example.net
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
X-Postfix-Queue-ID: %[4]X
Arrival-Date: %[2]s

Final-Recipient: rfc822; %[5]s
Original-Recipient: rfc822;%[5]s
Action: %[6]s
Status: %[7]s
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; %[8]s

--%[4]d/mx.example.net
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

Return-Path: <%[1]s>
From: Report Alerts <alerts@example.org>
To: %[5]s
Subject: New reports
Date: %[2]s
MIME-Version: 1.0

--%[4]d/mx.example.net--
`, e.from, date, start.UnixNano(), i, e.to, action, status, diagnostic)
}

// sampleMemory reads alertd's heap and RSS from its /metrics every 250 ms
// until stop is closed.
func sampleMemory(addr string, start time.Time, done *atomic.Int64, stop <-chan struct{}) []memSample {
	var samples []memSample
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		if s, err := readMemory(addr); err == nil {
			s.at, s.dsns = time.Since(start), done.Load()
			samples = append(samples, s)
		}
		select {
		case <-stop:
			return samples
		case <-tick.C:
		}
	}
}

func readMemory(addr string) (memSample, error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return memSample{}, err
	}
	req.Header.Set("Authorization", "Bearer "+benchAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return memSample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return memSample{}, fmt.Errorf("/metrics: %s", resp.Status)
	}
	var s memSample
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		name, value, _ := strings.Cut(lines.Text(), " ")
		switch name {
		case "go_memstats_heap_inuse_bytes":
			s.heap, _ = strconv.ParseFloat(value, 64)
		case "process_resident_memory_bytes":
			s.rss, _ = strconv.ParseFloat(value, 64)
		}
	}
	return s, lines.Err()
}

// printMemory shows the samples by tenths of the run and the spread of
// the last half, where a leak would show as a climb.
func printMemory(samples []memSample) {
	if len(samples) == 0 {
		fmt.Println("  memory: no samples")
		return
	}
	mb := func(b float64) float64 { return b / (1 << 20) }
	fmt.Println("  alertd memory (heap in use / RSS, MB) as the DSNs went in:")
	step := max(len(samples)/10, 1)
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		fmt.Printf("    %6.1fs %6d DSNs  heap %5.1f  RSS %5.1f\n", s.at.Seconds(), s.dsns, mb(s.heap), mb(s.rss))
	}
	last := samples[len(samples)-1]
	fmt.Printf("    %6.1fs %6d DSNs  heap %5.1f  RSS %5.1f\n", last.at.Seconds(), last.dsns, mb(last.heap), mb(last.rss))
	half := samples[len(samples)/2:]
	heaps, rsses := make([]float64, len(half)), make([]float64, len(half))
	for i, s := range half {
		heaps[i], rsses[i] = s.heap, s.rss
	}
	fmt.Printf("  last half (%d samples): heap %.1f–%.1f MB, RSS %.1f–%.1f MB; peak RSS over the run %.1f MB\n",
		len(half), mb(slices.Min(heaps)), mb(slices.Max(heaps)), mb(slices.Min(rsses)), mb(slices.Max(rsses)),
		mb(slices.MaxFunc(samples, func(a, b memSample) int { return int(a.rss - b.rss) }).rss))
}

// countBounces reads back, from the database alertd wrote, the DSN
// bounces matched to a subscriber and the subscribers now bounced.
func countBounces(ctx context.Context, path string, dsns int) (recorded, bounced int, err error) {
	st, err := store.Open(ctx, path, alertd.Migrations())
	if err != nil {
		return 0, 0, err
	}
	defer st.Close()
	all, err := st.Bounces(ctx, 0, dsns+1)
	if err != nil {
		return 0, 0, err
	}
	for _, b := range all {
		if b.Source == alertd.SourceDSN && b.SubscriberID != 0 {
			recorded++
		}
	}
	counts, err := st.CountSubscribers(ctx)
	return recorded, counts[alertd.StatusBounced], err
}
