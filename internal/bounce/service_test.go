package bounce

import (
	"context"
	"net/textproto"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
	dto "github.com/prometheus/client_model/go"
)

// rig is a bounce service on a real database file, with confirmed
// subscribers and a clock the test moves.
type rig struct {
	t       *testing.T
	store   *store.Store
	subs    *subscription.Service
	svc     *Service
	signer  Signer
	metrics *metrics.Metrics
	now     time.Time
}

const testSecret = "0123456789abcdef0123456789abcdef"

func newRig(t *testing.T, emails ...string) *rig {
	t.Helper()
	r := &rig{t: t, now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	r.store = alerttest.OpenStore(t, filepath.Join(t.TempDir(), "alertd.db"))
	unsub, err := subscription.NewUnsubscribeSigner([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	clock := func() time.Time { return r.now }
	r.subs = subscription.NewService(r.store, subscription.Rules{ConfirmTTL: time.Hour}, unsub, clock, strings.NewReader(strings.Repeat("x", 4096)), func() {})
	if r.signer, err = NewSigner([]byte(testSecret)); err != nil {
		t.Fatal(err)
	}
	r.metrics = metrics.New(func() float64 { return 0 })
	r.svc = NewService(r.store, Rules{SoftLimit: 3, SoftWindow: 720 * time.Hour, UnsubscribeMailto: "unsubscribe@alerts.example"}, r.signer, clock, r.metrics)
	r.importConfirmed(emails...)
	return r
}

func (r *rig) importConfirmed(emails ...string) subscription.ImportCounts {
	r.t.Helper()
	var rows []subscription.ImportRow
	for i, e := range emails {
		rows = append(rows, subscription.ImportRow{Line: i + 1, Email: e})
	}
	counts, rejected, err := r.subs.ImportConfirmed(context.Background(), rows, "test")
	if err != nil || len(rejected) > 0 {
		r.t.Fatalf("import: %v %v", err, rejected)
	}
	return counts
}

func (r *rig) subscriber(email string) alertd.Subscriber {
	r.t.Helper()
	var sub alertd.Subscriber
	err := r.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		sub, err = tx.SubscriberByKey(subscription.AddressKey(email))
		return err
	})
	if err != nil {
		r.t.Fatalf("subscriber %s: %v", email, err)
	}
	return sub
}

// message queues a mail to the subscriber and returns its outbox id.
func (r *rig) message(email string) int64 {
	r.t.Helper()
	sub := r.subscriber(email)
	var id int64
	err := r.store.Write(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = tx.Enqueue(alertd.KindWelcome, sub.ID, "", r.now)
		return err
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return id
}

func (r *rig) record(b alertd.Bounce) bool {
	r.t.Helper()
	applied, err := r.svc.Record(context.Background(), b)
	if err != nil {
		r.t.Fatalf("Record(%+v): %v", b, err)
	}
	return applied
}

func (r *rig) wantStatus(email string, want alertd.SubscriberStatus) {
	r.t.Helper()
	if got := r.subscriber(email).Status; got != want {
		r.t.Errorf("%s is %s, want %s", email, got, want)
	}
}

func (r *rig) bounces() []alertd.Bounce {
	r.t.Helper()
	bs, err := r.store.Bounces(context.Background(), 0, 1000)
	if err != nil {
		r.t.Fatal(err)
	}
	return bs
}

func TestHardBounceMakesTheSubscriberBouncedAtOnce(t *testing.T) {
	r := newRig(t, "gone@example.org", "other@example.org")
	id := r.message("gone@example.org")
	r.record(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourceDSN, MessageID: id, Email: "gone@example.org", Status: "5.1.1", Key: "k1"})
	r.wantStatus("gone@example.org", alertd.StatusBounced)
	r.wantStatus("other@example.org", alertd.StatusConfirmed)
	bs := r.bounces()
	if len(bs) != 1 || bs[0].SubscriberID != r.subscriber("gone@example.org").ID || bs[0].MessageID != id || bs[0].Status != "5.1.1" {
		t.Errorf("kept %+v", bs)
	}
	var m dto.Metric
	if err := r.metrics.Bounces.WithLabelValues("hard", "dsn").Write(&m); err != nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("bounces{hard,dsn} = %v (%v), want 1", m.GetCounter().GetValue(), err)
	}
}

func TestSoftBouncesMakeTheSubscriberBouncedAtTheLimitWithinTheWindow(t *testing.T) {
	r := newRig(t, "slow@example.org", "patient@example.org")
	start := r.now
	soft := func(email, key string) {
		r.record(alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: r.message(email), Status: "4.2.2", Key: key})
	}
	// Within the window: the third makes the subscriber bounced.
	soft("slow@example.org", "s1")
	r.now = start.Add(10 * 24 * time.Hour)
	soft("slow@example.org", "s2")
	r.wantStatus("slow@example.org", alertd.StatusConfirmed)
	r.now = start.Add(29 * 24 * time.Hour)
	soft("slow@example.org", "s3")
	r.wantStatus("slow@example.org", alertd.StatusBounced)

	// Spread beyond the window: never three within 30 days.
	r.now = start
	soft("patient@example.org", "p1")
	r.now = start.Add(20 * 24 * time.Hour)
	soft("patient@example.org", "p2")
	r.now = start.Add(31 * 24 * time.Hour)
	soft("patient@example.org", "p3")
	r.wantStatus("patient@example.org", alertd.StatusConfirmed)
}

func TestPolicyRejectionIsKeptAgainstTheSendAndLeavesTheAddress(t *testing.T) {
	r := newRig(t, "reader@example.org")
	id := r.message("reader@example.org")
	if !r.record(alertd.Bounce{Kind: alertd.BouncePolicy, Source: alertd.SourceDSN, MessageID: id, Status: "5.7.1", Diagnostic: "looks like spam", Key: "p"}) {
		t.Fatal("policy bounce not applied")
	}
	r.wantStatus("reader@example.org", alertd.StatusConfirmed)
	if bs := r.bounces(); len(bs) != 1 || bs[0].Kind != alertd.BouncePolicy || bs[0].MessageID != id {
		t.Errorf("kept %+v", bs)
	}
}

func TestComplaintUnsubscribesAndSuppresses(t *testing.T) {
	r := newRig(t, "angry@example.org")
	r.record(alertd.Bounce{Kind: alertd.BounceComplaint, Source: alertd.SourceSES, Email: "Angry@Example.org", Key: "c"})
	r.wantStatus("angry@example.org", alertd.StatusUnsubscribed)
	var suppressed bool
	if err := r.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		suppressed, err = tx.Suppressed(subscription.SuppressionHash("angry@example.org"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !suppressed {
		t.Error("a complaint left the address off the suppression list")
	}
	// An import of the address as confirmed, even after it was erased,
	// does not bring it back.
	if c := r.importConfirmed("angry@example.org"); c.Added != 0 {
		t.Errorf("import added the complainant back: %+v", c)
	}
	if err := r.subs.Erase(context.Background(), "angry@example.org"); err != nil {
		t.Fatal(err)
	}
	if c := r.importConfirmed("angry@example.org"); c.Added != 0 {
		t.Errorf("import after erase added the complainant back: %+v", c)
	}
}

func TestUnsubscribeRequestUnsubscribes(t *testing.T) {
	r := newRig(t, "leaving@example.org", "staying@example.org")
	h := textproto.MIMEHeader{}
	h.Set("From", "Leaving Reader <leaving@example.org>")
	h.Set("To", "unsubscribe@alerts.example")
	h.Set("Message-Id", "<u1@mail.example>")
	recognised, err := r.svc.receive(context.Background(), "", Report{Type: TypeOther, Header: h}, nil)
	if err != nil || !recognised {
		t.Fatalf("receive = %v, %v; want recognised", recognised, err)
	}
	r.wantStatus("leaving@example.org", alertd.StatusUnsubscribed)
	r.wantStatus("staying@example.org", alertd.StatusConfirmed)

	// Mail to another address is not an unsubscribe request.
	h.Set("From", "staying@example.org")
	h.Set("To", "hello@alerts.example")
	h.Set("Message-Id", "<u2@mail.example>")
	if recognised, err := r.svc.receive(context.Background(), "", Report{Type: TypeOther, Header: h}, []byte("hi")); err != nil || recognised {
		t.Fatalf("receive = %v, %v; want not recognised", recognised, err)
	}
	r.wantStatus("staying@example.org", alertd.StatusConfirmed)
}

func TestForgedReferenceCountsAgainstNobody(t *testing.T) {
	r := newRig(t, "victim@example.org")
	id := r.message("victim@example.org")
	forger, err := NewSigner([]byte("another secret, another forger's key"))
	if err != nil {
		t.Fatal(err)
	}
	h := textproto.MIMEHeader{}
	h.Set("Message-Id", "<dsn1@mx.example>")
	report := Report{Type: TypeDSN, Header: h, Evidence: "Final-Recipient: rfc822; victim@example.org",
		Recipients: []Recipient{{Final: "victim@example.org", Action: "failed", Status: "5.1.1"}}}
	recognised, err := r.svc.receive(context.Background(), forger.Address(id, "bounces.example"), report, nil)
	if err != nil || recognised {
		t.Fatalf("receive = %v, %v; want kept but not recognised", recognised, err)
	}
	r.wantStatus("victim@example.org", alertd.StatusConfirmed)
	if bs := r.bounces(); len(bs) != 1 || bs[0].SubscriberID != 0 || bs[0].MessageID != 0 {
		t.Errorf("kept %+v, want one unmatched bounce", bs)
	}

	// The genuine reference, in any case, matches.
	h.Set("Message-Id", "<dsn2@mx.example>")
	rcpt := strings.ToUpper(r.signer.Address(id, "bounces.example"))
	if recognised, err := r.svc.receive(context.Background(), rcpt, report, nil); err != nil || !recognised {
		t.Fatalf("receive = %v, %v; want recognised", recognised, err)
	}
	r.wantStatus("victim@example.org", alertd.StatusBounced)
}

func TestSameReportTwiceCountsOnce(t *testing.T) {
	r := newRig(t, "twice@example.org")
	id := r.message("twice@example.org")
	b := alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: id, Status: "4.4.7", Key: "same"}
	if !r.record(b) {
		t.Fatal("first report not applied")
	}
	for range 3 {
		if r.record(b) {
			t.Fatal("the same report applied again")
		}
	}
	r.wantStatus("twice@example.org", alertd.StatusConfirmed)
	if bs := r.bounces(); len(bs) != 1 {
		t.Errorf("kept %d bounces, want 1", len(bs))
	}
}

func TestDSNReferenceFoundInTheQuotedOriginal(t *testing.T) {
	r := newRig(t, "quoted@example.org")
	id := r.message("quoted@example.org")
	orig := textproto.MIMEHeader{}
	orig.Set("Return-Path", "<"+r.signer.Address(id, "bounces.example")+">")
	report := Report{Type: TypeDSN, Header: textproto.MIMEHeader{}, Original: orig, Evidence: "x",
		Recipients: []Recipient{{Final: "quoted@example.org", Action: "failed", Status: "5.2.1"}}}
	if recognised, err := r.svc.receive(context.Background(), "", report, nil); err != nil || !recognised {
		t.Fatalf("receive = %v, %v", recognised, err)
	}
	r.wantStatus("quoted@example.org", alertd.StatusBounced)
}

func TestDSNWithoutReferenceDoesNotMatchByAddress(t *testing.T) {
	r := newRig(t, "named@example.org")
	report := Report{Type: TypeDSN, Header: textproto.MIMEHeader{}, Evidence: "e",
		Recipients: []Recipient{{Final: "named@example.org", Action: "failed", Status: "5.1.1"}}}
	if recognised, err := r.svc.receive(context.Background(), "", report, nil); err != nil || recognised {
		t.Fatalf("receive = %v, %v; want not recognised", recognised, err)
	}
	r.wantStatus("named@example.org", alertd.StatusConfirmed)
}

func TestAutoReplyIsIgnored(t *testing.T) {
	r := newRig(t)
	if recognised, err := r.svc.receive(context.Background(), "", Report{Type: TypeAutoReply, Header: textproto.MIMEHeader{}}, []byte("away")); err != nil || recognised {
		t.Fatalf("receive = %v, %v", recognised, err)
	}
	if bs := r.bounces(); len(bs) != 0 {
		t.Errorf("kept %+v", bs)
	}
}

func TestVERPReference(t *testing.T) {
	s, _ := NewSigner([]byte(testSecret))
	addr := s.Address(42, "b.example")
	if !strings.HasPrefix(addr, "bounces+42-") || strings.ToLower(addr) != addr || len(addr) > 40 {
		t.Errorf("address %q", addr)
	}
	if id, ok := s.AddressMessage("<" + addr + ">"); !ok || id != 42 {
		t.Errorf("AddressMessage = %d, %v", id, ok)
	}
	ref := s.Ref(42)
	unsub, _ := subscription.NewUnsubscribeSigner([]byte(testSecret))
	for _, bad := range []string{"", "42", "43" + ref[2:], ref[:len(ref)-1], ref + "a", "042" + ref[2:], unsub.Token(42)} {
		if _, ok := s.Verify(bad); ok {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
}

func TestDSNThatReportsNoFailureIsNotRemoved(t *testing.T) {
	// A DSN about alertd's message that says it was delivered or relayed
	// keeps nothing: it is no bounce, so a mailbox poller must leave it.
	r := newRig(t, "fine@example.org")
	id := r.message("fine@example.org")
	h := textproto.MIMEHeader{}
	h.Set("Message-Id", "<delivered@mx.example>")
	report := Report{Type: TypeDSN, Header: h, Evidence: "Action: delivered",
		Recipients: []Recipient{{Final: "fine@example.org", Action: "delivered", Status: "2.0.0"}, {Final: "fine@example.org", Action: "relayed", Status: "2.0.0"}}}
	recognised, err := r.svc.receive(context.Background(), r.signer.Address(id, "bounces.example"), report, nil)
	if err != nil || recognised {
		t.Fatalf("receive = %v, %v; want not recognised", recognised, err)
	}
	if bs := r.bounces(); len(bs) != 0 {
		t.Errorf("kept %+v", bs)
	}
	r.wantStatus("fine@example.org", alertd.StatusConfirmed)
}

func TestSoftBouncesOfOneMessageCountOnce(t *testing.T) {
	// Exim warns of a delay once a day until it gives up, and a report may
	// come by mail and again by webhook: the soft limit counts messages
	// that soft-bounced, not the reports about one message.
	r := newRig(t, "delayed@example.org")
	id := r.message("delayed@example.org")
	for i, key := range []string{"warn-day-1", "warn-day-2", "warn-day-3", "warn-day-4"} {
		r.now = r.now.Add(24 * time.Hour)
		if !r.record(alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: id, Status: "4.4.7", Key: key}) {
			t.Fatalf("warning %d not kept", i+1)
		}
	}
	r.wantStatus("delayed@example.org", alertd.StatusConfirmed)
	// Two more messages that soft-bounce make three.
	r.record(alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: r.message("delayed@example.org"), Status: "4.2.2", Key: "second"})
	r.wantStatus("delayed@example.org", alertd.StatusConfirmed)
	r.record(alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: r.message("delayed@example.org"), Status: "4.2.2", Key: "third"})
	r.wantStatus("delayed@example.org", alertd.StatusBounced)
}

func TestDiagnosticAndAddressAreKeptBounded(t *testing.T) {
	// Only the evidence was cut: a subject or diagnostic of most of a
	// mebibyte made each kept row as big as the mail.
	r := newRig(t)
	huge := strings.Repeat("é", 300<<10)
	raw := "From: someone@example.net\r\nTo: bounces@bounces.example\r\nSubject: " + huge + "\r\nMessage-Id: <big@example.net>\r\n\r\nhello\r\n"
	if _, err := r.svc.Receive(context.Background(), "bounces@bounces.example", []byte(raw)); err != nil {
		t.Fatal(err)
	}
	r.record(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourcePostmark, Email: huge + "@example.org", Diagnostic: huge, Key: "big-webhook"})
	bs := r.bounces()
	if len(bs) != 2 {
		t.Fatalf("kept %d bounces, want 2", len(bs))
	}
	for _, b := range bs {
		if len(b.Diagnostic) > MaxDiagnostic || len(b.Email) > MaxDiagnostic || !utf8.ValidString(b.Diagnostic) || !utf8.ValidString(b.Email) {
			t.Errorf("kept a %s bounce with a diagnostic of %d bytes and an address of %d", b.Kind, len(b.Diagnostic), len(b.Email))
		}
	}
}

func TestWebhookEventAboutAnotherSendersMailCountsAgainstNobody(t *testing.T) {
	// A provider account is often shared with other applications: with
	// VERP on, alertd's mail has its signed envelope sender, so an event
	// whose envelope sender is anything else is about someone else's mail.
	r := newRig(t, "shared@example.org", "ours@example.org")
	r.svc.rules.Domain = "bounces.example"
	r.record(alertd.Bounce{Kind: alertd.BounceComplaint, Source: alertd.SourceSES, Email: "shared@example.org",
		ReturnPath: "newsletter@other-app.example", Key: "foreign"})
	r.record(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourceMailgun, Email: "shared@example.org",
		ReturnPath: "bounces+1-aaaaaaaaaaaaaaaa@bounces.example", Key: "forged"})
	r.wantStatus("shared@example.org", alertd.StatusConfirmed)
	for _, b := range r.bounces() {
		if b.SubscriberID != 0 || b.MessageID != 0 {
			t.Errorf("a foreign event matched: %+v", b)
		}
	}

	// alertd's own: matched by the message its envelope sender names.
	id := r.message("ours@example.org")
	r.record(alertd.Bounce{Kind: alertd.BouncePolicy, Source: alertd.SourceSES, Email: "ours@example.org", Status: "5.7.1",
		ReturnPath: r.signer.Address(id, "bounces.example"), Key: "ours"})
	if bs := r.bounces(); bs[len(bs)-1].MessageID != id || bs[len(bs)-1].SubscriberID != r.subscriber("ours@example.org").ID {
		t.Errorf("alertd's own event kept as %+v", bs[len(bs)-1])
	}
}

func TestComplaintAboutAConfirmationLeavesThePendingSignUp(t *testing.T) {
	// A person who marks a confirmation mail as spam never subscribed:
	// the address goes on the suppression list, but a pending sign-up is
	// not an unsubscribed reader (it expires, or its owner confirms it).
	r := newRig(t)
	if err := r.subs.Subscribe(context.Background(), subscription.Request{Email: "unasked@example.org"}); err != nil {
		t.Fatal(err)
	}
	r.wantStatus("unasked@example.org", alertd.StatusPending)
	r.record(alertd.Bounce{Kind: alertd.BounceComplaint, Source: alertd.SourcePostmark, Email: "unasked@example.org", Key: "spam-click"})
	r.record(alertd.Bounce{Kind: alertd.BounceUnsubscribe, Source: alertd.SourceMail, Email: "unasked@example.org", Key: "unsub-mail"})
	r.wantStatus("unasked@example.org", alertd.StatusPending)
	var suppressed bool
	if err := r.store.Read(context.Background(), func(tx *store.Tx) error {
		var err error
		suppressed, err = tx.Suppressed(subscription.SuppressionHash("unasked@example.org"))
		return err
	}); err != nil || !suppressed {
		t.Errorf("suppressed = %v (%v), want true", suppressed, err)
	}
}

func TestRatesCountOnlyReportsAboutAlertdsMail(t *testing.T) {
	// The overview's bounce and complaint rates are set against the
	// providers' limits: a forged report, which counts against nobody,
	// must not move them either, or anyone could sound the alarm.
	r := newRig(t, "reader@example.org")
	r.record(alertd.Bounce{Kind: alertd.BounceComplaint, Source: alertd.SourceARF, Email: "reader@example.org", Key: "forged-arf"})
	r.record(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourceDSN, Email: "reader@example.org", Status: "5.1.1", Key: "forged-dsn"})
	counts, err := r.svc.Counts(context.Background(), 30)
	if err != nil {
		t.Fatal(err)
	}
	if counts[alertd.BounceComplaint] != 0 || counts[alertd.BounceHard] != 0 {
		t.Errorf("unmatched reports counted: %v", counts)
	}
	r.record(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourceDSN, MessageID: r.message("reader@example.org"), Status: "5.1.1", Key: "real"})
	if counts, err = r.svc.Counts(context.Background(), 30); err != nil || counts[alertd.BounceHard] != 1 {
		t.Errorf("counts %v (%v), want the one real hard bounce", counts, err)
	}
}

func TestOnlyAnAbuseReportIsAComplaint(t *testing.T) {
	// A DMARC failure report (auth-failure, RFC 6591) or a virus report
	// is an ARF report too, but no reader complained: it is kept, and the
	// reader stays.
	r := newRig(t, "reader@example.org", "angry@example.org")
	report := func(email, feedbackType string) {
		t.Helper()
		orig := textproto.MIMEHeader{}
		orig.Set("Return-Path", "<"+r.signer.Address(r.message(email), "bounces.example")+">")
		h := textproto.MIMEHeader{}
		h.Set("Message-Id", "<"+feedbackType+"@fbl.example>")
		if _, err := r.svc.receive(context.Background(), "", Report{Type: TypeFeedback, FeedbackType: feedbackType, Header: h, Original: orig, Evidence: "Feedback-Type: " + feedbackType}, nil); err != nil {
			t.Fatal(err)
		}
	}
	report("reader@example.org", "auth-failure")
	report("reader@example.org", "virus")
	r.wantStatus("reader@example.org", alertd.StatusConfirmed)
	report("angry@example.org", "abuse")
	r.wantStatus("angry@example.org", alertd.StatusUnsubscribed)
	for _, b := range r.bounces() {
		if want := map[bool]alertd.BounceKind{true: alertd.BounceComplaint, false: alertd.BounceUnrecognised}[b.Diagnostic == "feedback-type: abuse"]; b.Kind != want {
			t.Errorf("%s kept as %s, want %s", b.Diagnostic, b.Kind, want)
		}
	}
}
