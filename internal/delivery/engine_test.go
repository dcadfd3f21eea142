package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
)

// These tests inject faults through a real SMTP server and prove the
// delivery rules (4xx and network errors retried on the schedule, 5xx
// failed, 5.1.x bounces the subscriber, status checked at send time, every
// recipient exactly once) by counting, at the server, the messages it accepted for each recipient, and
// in the database, the digest's sent/failed/cancelled/pending counts.

// subscribers is how many recipients a test digest has: enough for every
// worker to go through several claims, few enough to stay quick under -race.
const subscribers = 400

// deliveryTimeout bounds a whole delivery in these tests; they take well
// under a second unless something is stuck.
const deliveryTimeout = 30 * time.Second

// fastSettings are production's engine with waits in milliseconds.
func fastSettings() delivery.Settings {
	return delivery.Settings{
		Workers:       3,
		RetrySchedule: []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		Backoff:       20 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
	}
}

// rig is a compiled digest waiting for delivery: a real database with
// confirmed subscribers sub000@example.org, sub001@…, one report and the
// digest, and an engine that sends it over SMTP to a test server.
type rig struct {
	store   *store.Store
	smtp    *mailtest.Server
	metrics *metrics.Metrics
	engine  *delivery.Engine
	logs    *alerttest.Buffer // the engine's log
	emails  []string
	ids     map[string]int64
	digest  int64
}

func newRig(t *testing.T, n int, settings delivery.Settings, tweaks ...func(*delivery.MailRenderer)) *rig {
	t.Helper()
	return newRigAt(t, filepath.Join(t.TempDir(), "alertd.db"), n, settings, tweaks...)
}

// newRigAt is newRig with the database at path; tweaks change the renderer.
func newRigAt(t *testing.T, path string, n int, settings delivery.Settings, tweaks ...func(*delivery.MailRenderer)) *rig {
	t.Helper()
	ctx := context.Background()
	st := alerttest.OpenStore(t, path)
	r := &rig{store: st, smtp: mailtest.NewServer(t), ids: map[string]int64{}}
	err := st.Write(ctx, func(tx *store.Tx) error {
		for i := range n {
			email := fmt.Sprintf("sub%03d@example.org", i)
			id, _, err := tx.InsertSubscriber(email, alertd.Subscriber{
				Email: email, Status: alertd.StatusConfirmed, CreatedAt: time.Now(),
				Consent: alertd.Consent{SignupAt: time.Now()},
			}, store.Confirmation{})
			if err != nil {
				return err
			}
			r.emails = append(r.emails, email)
			r.ids[email] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.digest = r.compile(t, "first")

	composer, err := mail.NewComposer(mail.Settings{
		ServiceName: "Research Alerts", From: "Research Alerts <alerts@example.org>",
		ListID: "Research alerts <alerts.example.org>", BaseURL: "https://alerts.example.org",
	}, alertd.Templates())
	if err != nil {
		t.Fatal(err)
	}
	renderer := delivery.MailRenderer{
		Composer: composer, BaseURL: "https://alerts.example.org", MaxReports: 50,
		Subject:          template.Must(template.New("digest.subject").Parse("New reports: {{.Count}} publications")),
		Digests:          delivery.NewDigestCache(st.DigestReports),
		UnsubscribeToken: func(id int64) string { return fmt.Sprintf("token-%d", id) },
		Now:              time.Now,
	}
	for _, tweak := range tweaks {
		tweak(&renderer)
	}
	// A reply that misses the timeout after the final dot is a network
	// error, retried, and the relay has the message twice: the timeout is
	// long enough that a loaded machine running the race detector never
	// misses it, as a relay's minutes-long timeouts never are in service.
	transport, err := mail.NewSMTPTransport(mail.SMTPSettings{
		Host: r.smtp.Host, Port: r.smtp.Port, TLS: mail.TLSNone, Timeout: 15 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.metrics = metrics.New(func() float64 { return 0 })
	r.logs = &alerttest.Buffer{}
	r.engine = delivery.New(st, transport, renderer, settings, time.Now, slog.New(slog.NewTextHandler(r.logs, nil)), r.metrics)
	return r
}

// compile adds a report and compiles a digest of it for the subscribers
// confirmed now; it returns the digest's id.
func (r *rig) compile(t *testing.T, guid string) int64 {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	err := r.store.Write(ctx, func(tx *store.Tx) error {
		_, _, err := tx.AddReport(alertd.Report{
			GUID: guid, URL: "https://example.org/r/" + guid, Title: "Report " + guid,
			PublishedAt: now.Add(-time.Hour), CreatedAt: now,
		}, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	d, created, err := compileDigest(ctx, r.store, now, 168*time.Hour)
	if err != nil || !created {
		t.Fatalf("compile digest: created=%v %v", created, err)
	}
	return d.ID
}

// unsubscribe unsubscribes the addresses now.
func (r *rig) unsubscribe(addrs []string) error {
	return r.store.Write(context.Background(), func(tx *store.Tx) error {
		for _, addr := range addrs {
			if _, err := tx.Unsubscribe(r.ids[addr], time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// every returns every nth subscriber's address, starting with the fourth.
func (r *rig) every(n int) []string {
	var out []string
	for i := 3; i < len(r.emails); i += n {
		out = append(out, r.emails[i])
	}
	return out
}

// except returns the subscribers' addresses that are not in some.
func (r *rig) except(some []string) []string {
	var out []string
	for _, e := range r.emails {
		if !contains(some, e) {
			out = append(out, e)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// deliver runs the engine until the digest has no delivery pending, then
// stops it and returns the digest's counts. meanwhile, if not nil, runs
// while the engine delivers (to inject a fault mid-way).
func (r *rig) deliver(t *testing.T, digestID int64, meanwhile func()) alertd.Digest {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		r.engine.Run(ctx)
	}()
	defer func() {
		cancel()
		<-stopped
	}()
	if meanwhile != nil {
		meanwhile()
	}
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	deadline := time.NewTimer(deliveryTimeout)
	defer deadline.Stop()
	for {
		d, err := r.store.Digest(ctx, digestID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Pending == 0 {
			return d
		}
		select {
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("after %v digest %d still has %d deliveries pending: %+v", deliveryTimeout, digestID, d.Pending, d)
		}
	}
}

// counts is what a digest's counts must be once delivered.
type counts struct{ sent, failed, cancelled int }

func checkCounts(t *testing.T, d alertd.Digest, want counts) {
	t.Helper()
	got := counts{d.Sent, d.Failed, d.Cancelled}
	if got != want || d.Pending != 0 || d.Status != alertd.DigestDone {
		t.Errorf("digest %d: sent/failed/cancelled %v, pending %d, %s; want %v, 0 pending, done", d.ID, got, d.Pending, d.Status, want)
	}
}

// checkTried fails unless the server was offered each address in addrs as
// a recipient exactly `times` times.
func checkTried(t *testing.T, srv *mailtest.Server, addrs []string, times int) {
	t.Helper()
	for _, addr := range addrs {
		if n := srv.RcptAttempts(addr); n != times {
			t.Errorf("%s was tried %d times, want %d", addr, n, times)
		}
	}
}

// checkDelivered fails unless the server accepted exactly `times` messages
// for each address in want and none for anybody else.
func checkDelivered(t *testing.T, srv *mailtest.Server, want []string, times int) {
	t.Helper()
	got := srv.Deliveries()
	for _, addr := range want {
		if n := got[strings.ToLower(addr)]; n != times {
			t.Errorf("%s received %d messages, want %d", addr, n, times)
		}
	}
	for addr, n := range got {
		if !contains(want, addr) {
			t.Errorf("%s received %d messages, want none", addr, n)
		}
	}
}

// counter reads a counter's value.
func counter(c prometheus.Counter) int {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err) // a counter always writes itself
	}
	return int(m.GetCounter().GetValue())
}

// TestEngineHandlesEachKindOfRecipientRefusal proves the handling of each kind
// of RCPT TO refusal, on some of the recipients: a 4xx is retried and the
// message then delivered once; a 5.1.1 fails it at once and bounces the
// subscriber; another 5xx fails it at once and leaves the subscriber be; a
// 4xx that never ends fails it once the retry schedule is used up. Every
// other address gets exactly one message.
func TestEngineHandlesEachKindOfRecipientRefusal(t *testing.T) {
	// metricCount is a counter and what it must count per refused address.
	type metricCount struct {
		name    string
		counter func(*metrics.Metrics) prometheus.Counter
		perHit  int
	}
	retried := func(perHit int) metricCount {
		return metricCount{"retried{temporary}", func(m *metrics.Metrics) prometheus.Counter {
			return m.MessagesRetried.WithLabelValues("temporary")
		}, perHit}
	}
	failed := func(reason string) metricCount {
		return metricCount{"failed{digest," + reason + "}", func(m *metrics.Metrics) prometheus.Counter {
			return m.MessagesFailed.WithLabelValues("digest", reason)
		}, 1}
	}
	tests := []struct {
		name    string
		every   int   // every nth subscriber is refused
		reply   error // what the server answers them
		refused int   // how many times; 0 = always
		fail    bool  // their message fails, rather than being delivered
		tries   int   // RCPT TOs per refused address
		status  alertd.SubscriberStatus
		metrics []metricCount
	}{
		{"4xx the first time: retried, then delivered", 7, mailtest.Reply(451, "4.3.0 Try again later"), 1,
			false, 2, alertd.StatusConfirmed, []metricCount{retried(1)}},
		{"5.1.1: failed, bounced, not retried", 40, mailtest.Reply(550, "5.1.1 No such user"), 0,
			true, 1, alertd.StatusBounced, []metricCount{failed("bad_address"), retried(0)}},
		{"other 5xx: failed, not bounced, not retried", subscribers, mailtest.Reply(554, "5.7.1 Rejected by policy"), 0,
			true, 1, alertd.StatusConfirmed, []metricCount{failed("permanent"), retried(0)}},
		{"4xx every time: retried per the schedule, then failed", 67, mailtest.Reply(452, "4.2.2 Mailbox full"), 0,
			true, 5, alertd.StatusConfirmed, []metricCount{failed("retries_exhausted"), retried(4)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, subscribers, fastSettings())
			refused := r.every(tt.every)
			r.smtp.OnRcpt(func(rcpt string, attempt int) error {
				if contains(refused, rcpt) && (tt.refused == 0 || attempt <= tt.refused) {
					return tt.reply
				}
				return nil
			})
			d := r.deliver(t, r.digest, nil)

			want := counts{sent: len(r.emails)}
			delivered := r.emails
			if tt.fail {
				want = counts{sent: len(r.emails) - len(refused), failed: len(refused)}
				delivered = r.except(refused)
			}
			checkCounts(t, d, want)
			checkDelivered(t, r.smtp, delivered, 1)
			for _, m := range tt.metrics {
				if got, want := counter(m.counter(r.metrics)), m.perHit*len(refused); got != want {
					t.Errorf("messages %s = %d, want %d", m.name, got, want)
				}
			}
			checkTried(t, r.smtp, refused, tt.tries)
			for _, addr := range refused {
				var sub alertd.Subscriber
				err := r.store.Read(context.Background(), func(tx *store.Tx) (err error) {
					sub, err = tx.SubscriberByID(r.ids[addr])
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if sub.Status != tt.status {
					t.Errorf("%s is %s, want %s", addr, sub.Status, tt.status)
				}
			}
			t.Logf("%d refused of %d; digest %+v", len(refused), len(r.emails), d)
		})
	}
}

// TestEngineNeverMailsABouncedAddressAgain proves that a subscriber whose
// address bounced is left out of the next digest, while everyone else gets
// it once more.
func TestEngineNeverMailsABouncedAddressAgain(t *testing.T) {
	r := newRig(t, subscribers, fastSettings())
	gone := r.every(40)
	for _, addr := range gone {
		r.smtp.RejectRcpt(addr, 550, "5.1.1 No such user")
	}
	stayed := len(r.emails) - len(gone)
	checkCounts(t, r.deliver(t, r.digest, nil), counts{sent: stayed, failed: len(gone)})

	second := r.compile(t, "second")
	d := r.deliver(t, second, nil)
	if d.Recipients != stayed {
		t.Errorf("the second digest has %d recipients, want %d (the bounced left out)", d.Recipients, stayed)
	}
	checkCounts(t, d, counts{sent: stayed})
	checkDelivered(t, r.smtp, r.except(gone), 2)
	checkTried(t, r.smtp, gone, 1)
}

// TestEngineRidesOutARelayThatRefusesConnections takes the relay down in
// the middle of a digest (port closed, open connections answer 421) until
// the workers have hit it a dozen times, then brings it back: every
// address still gets exactly one message, nothing fails.
func TestEngineRidesOutARelayThatRefusesConnections(t *testing.T) {
	settings := fastSettings()
	// Retries wait longer than the outage lasts, as in production.
	settings.RetrySchedule = []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	r := newRig(t, subscribers, settings)
	connectionRetries := r.metrics.MessagesRetried.WithLabelValues("connection")
	var outage time.Duration
	d := r.deliver(t, r.digest, func() {
		r.smtp.WaitCount(t, subscribers/4, deliveryTimeout)
		r.smtp.RefuseConnections()
		start := time.Now()
		poll := time.NewTicker(5 * time.Millisecond)
		defer poll.Stop()
		for counter(connectionRetries) < 12 {
			if time.Since(start) > deliveryTimeout {
				t.Fatalf("the workers hit the closed relay %d times in %v, want 12", counter(connectionRetries), deliveryTimeout)
			}
			<-poll.C
		}
		outage = time.Since(start)
		r.smtp.AcceptConnections()
	})
	checkCounts(t, d, counts{sent: subscribers})
	checkDelivered(t, r.smtp, r.emails, 1)
	t.Logf("relay down for %v; %d messages retried for connection trouble; %d connections in all",
		outage.Round(time.Millisecond), counter(connectionRetries), r.smtp.Connections())
}

// TestEngineRetriesAMessageCutOffInTheMiddleOfDATA drops the connection
// while a few messages are being transferred: those are sent again, over a
// new connection, and every address gets exactly one complete message.
func TestEngineRetriesAMessageCutOffInTheMiddleOfDATA(t *testing.T) {
	r := newRig(t, subscribers, fastSettings())
	cut := r.every(40)
	r.smtp.OnData(func(to []string, attempt int) error {
		if attempt == 1 && contains(cut, to[0]) {
			return mailtest.ErrDropConnection
		}
		return nil
	})
	d := r.deliver(t, r.digest, nil)
	checkCounts(t, d, counts{sent: subscribers})
	checkDelivered(t, r.smtp, r.emails, 1)
	if got := counter(r.metrics.MessagesRetried.WithLabelValues("connection")); got != len(cut) {
		t.Errorf("%d messages retried for connection trouble, want %d (the cut ones)", got, len(cut))
	}
	if n := r.smtp.Connections(); n < len(cut)+1 {
		t.Errorf("%d connections, want a new one after each of the %d cuts", n, len(cut))
	}
}

// TestEngineChecksTheSubscriberAtSendTime unsubscribes some subscribers
// after the digest was compiled: they get nothing, and the digest counts
// their deliveries as cancelled.
func TestEngineChecksTheSubscriberAtSendTime(t *testing.T) {
	r := newRig(t, subscribers, fastSettings())
	left := r.every(20)
	if err := r.unsubscribe(left); err != nil {
		t.Fatal(err)
	}
	d := r.deliver(t, r.digest, nil)
	checkCounts(t, d, counts{sent: subscribers - len(left), cancelled: len(left)})
	checkDelivered(t, r.smtp, r.except(left), 1)
	checkTried(t, r.smtp, left, 0)
}

// TestEngineRechecksARecipientWhoseClaimHasAged has a rate-limited worker
// take two seconds over one claim, and some of its recipients unsubscribe
// once it has begun: the claim read them as subscribed, but by their turn
// that reading is too old, and they get nothing.
func TestEngineRechecksARecipientWhoseClaimHasAged(t *testing.T) {
	settings := fastSettings()
	settings.Workers = 1
	settings.RatePerSecond = 20
	const n = 40 // one claim, sent over two seconds
	r := newRig(t, n, settings)
	left := r.emails[n-5:]
	d := r.deliver(t, r.digest, func() {
		r.smtp.WaitCount(t, 1, deliveryTimeout)
		if err := r.unsubscribe(left); err != nil {
			t.Error(err)
		}
	})
	checkCounts(t, d, counts{sent: n - len(left), cancelled: len(left)})
	checkDelivered(t, r.smtp, r.except(left), 1)
}

// TestEngineSendsAMessageOnceWhenAClaimOutlastsItsLease has the relay
// take its time over the first 64 recipients, so that the worker which
// claimed them cannot get through them before their lease runs out, while
// the other worker races through the rest and then looks for due messages.
// Each message must still go out once: a worker sends only while its lease
// has time left and hands back the rest of its claim.
func TestEngineSendsAMessageOnceWhenAClaimOutlastsItsLease(t *testing.T) {
	settings := fastSettings()
	settings.Workers = 2
	// Half the lease is the margin a send begun in time has to finish and be
	// recorded before another worker may claim the message: two seconds,
	// so that a machine loaded many times over running the race detector
	// keeps to it (at one second, one such run in many sent twice).
	settings.Lease = 4 * time.Second
	r := newRig(t, subscribers, settings)
	slow := r.emails[:64] // one claim's worth, the first claimed
	r.smtp.OnData(func(to []string, _ int) error {
		if contains(slow, to[0]) {
			time.Sleep(80 * time.Millisecond) // 64 of them outlast the lease
		}
		return nil
	})
	d := r.deliver(t, r.digest, nil)
	checkCounts(t, d, counts{sent: subscribers})
	checkDelivered(t, r.smtp, r.emails, 1)
	t.Logf("%d messages accepted by the relay for %d recipients", r.smtp.Received(), len(r.emails))
}

// TestEngineRecordsInTheDatabaseWhenItHasNoSentLog gives the database a
// name that leaves no room for a sent log's beside it (a file name has at
// most 255 bytes), as a platform without file locks leaves the engine
// without one: every outcome then goes to the database, and delivery is
// still exactly once, retries included, with the digest's counts true.
func TestEngineRecordsInTheDatabaseWhenItHasNoSentLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), strings.Repeat("a", 240)+".db")
	r := newRigAt(t, path, subscribers, fastSettings())
	retried := r.every(9)
	r.smtp.OnRcpt(func(rcpt string, attempt int) error {
		if contains(retried, rcpt) && attempt == 1 {
			return mailtest.Reply(451, "4.3.0 Try again later")
		}
		return nil
	})
	d := r.deliver(t, r.digest, nil)
	checkCounts(t, d, counts{sent: subscribers})
	checkDelivered(t, r.smtp, r.emails, 1)
	if !strings.Contains(r.logs.String(), "no sent log") {
		t.Errorf("the engine kept a sent log, and the test needs one without; its log:\n%s", r.logs)
	}
}
