package web_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/delivery"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/mail/mailtest"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
	"github.com/alertd/alertd/internal/web"
)

// clock is a time that moves only when a test advances it.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// rules are the sign-up settings' defaults, as config.example.toml gives them.
var rules = subscription.Rules{
	ConfirmTTL: 72 * time.Hour, ResendCooldown: 10 * time.Minute, MaxConfirmationsPerDay: 3,
	PurgeUnconfirmedAfter: 720 * time.Hour, Welcome: true, ConsentVersion: "test-form",
}

// options are the operator's settings a test varies.
type options struct {
	PerIPPerHour   int
	TrustedProxies []netip.Prefix
	TrustedOrigins []string
	Topics         []alertd.Topic
	AdminToken     string
	// Sources are the configured feed sources.
	Sources []catalogue.Source
	// Mail runs the delivery engine against an in-process SMTP server.
	Mail bool
	// AdminEmails may sign in to the dashboard.
	AdminEmails []string
	// BaseURL is server.base_url; empty = the test server's own.
	BaseURL string
	// Settings are what the dashboard's settings page lists.
	Settings []web.Setting
	// ReportSearchBudget is how many reports a page of the dashboard's
	// search reads; 0 for the catalogue's own.
	ReportSearchBudget int
	// Webhooks are the provider webhooks.
	Webhooks web.Webhooks
	// Languages are site.languages; empty = English alone.
	Languages []string
	// Frequencies are the configured frequencies; none: the one weekly.
	Frequencies []alertd.Frequency
	// Location is digest.timezone, the zone of the dates readers see;
	// nil = UTC.
	Location *time.Location
}

// sessionTTL is the dashboard sessions' length in the tests.
const sessionTTL = 12 * time.Hour

// harness is the real web server over a real SQLite file, with a clock the
// test controls.
type harness struct {
	t     *testing.T
	url   string
	clock *clock
	store *store.Store
	subs  *subscription.Service
	cat   *catalogue.Service
	dash  *admin.Service
	// bounces keeps bounces and complaints, as the intake does
	bounces *bounce.Service
	smtp    *mailtest.Server // nil without options.Mail
	// renderer renders mail as the delivery engine does
	renderer delivery.MailRenderer
	// metrics counts what the handlers do, as GET /metrics shows it
	metrics *metrics.Metrics
	// clients by the loopback address they send from
	clients map[string]*http.Client
	// logs is what the server has logged
	logs *alerttest.Buffer
	// closeStore closes the database, once, as the test's end does
	closeStore func()
	// dbPath is the database file
	dbPath string
}

// in returns the harness for use in the subtest t.
func (h *harness) in(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

func newHarness(t *testing.T, opts options) *harness {
	t.Helper()
	ctx := context.Background()
	h := &harness{t: t, clients: map[string]*http.Client{}, clock: &clock{now: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}}
	h.metrics = metrics.New(func() float64 { return 0 })
	h.logs = &alerttest.Buffer{}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(t.Output(), h.logs), nil))
	h.dbPath = filepath.Join(t.TempDir(), "alertd.db")
	st, err := store.Open(ctx, h.dbPath, alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	var closeOnce sync.Once
	h.closeStore = func() { closeOnce.Do(func() { st.Close() }) }
	t.Cleanup(h.closeStore)
	h.store = st
	signer, err := subscription.NewUnsubscribeSigner([]byte(strings.Repeat("s", subscription.MinSecretLength)))
	if err != nil {
		t.Fatal(err)
	}
	// The server's address is known before it starts, so that mail links
	// can point at it.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	h.url = "http://" + srv.Listener.Addr().String()
	renderer := h.mailRenderer(st, signer, opts.Languages, opts.Location)
	h.renderer = renderer
	queued := func() {}
	if opts.Mail {
		h.smtp = mailtest.NewServer(t)
		queued = h.startDelivery(st, renderer, log)
	}

	r := rules
	r.Languages = opts.Languages
	r.Topics, r.Frequencies = opts.Topics, opts.Frequencies
	r.Pending = func(tx *store.Tx, frequency string, now time.Time) (store.DigestSelection, error) {
		return h.cat.Selection(tx, frequency, now)
	}
	h.subs = subscription.NewService(st, r, signer, h.clock.Now, rand.Reader, queued)
	h.cat = catalogue.NewService(st, catalogue.Rules{FirstWindow: 168 * time.Hour, Topics: opts.Topics, Frequencies: opts.Frequencies,
		Sources: opts.Sources, SearchBudget: opts.ReportSearchBudget}, h.clock.Now, queued)
	h.dash = admin.NewService(st, admin.Rules{Emails: opts.AdminEmails, SessionTTL: sessionTTL}, h.clock.Now, rand.Reader, queued)
	bounceSigner, err := bounce.NewSigner([]byte(strings.Repeat("s", subscription.MinSecretLength)))
	if err != nil {
		t.Fatal(err)
	}
	h.bounces = bounce.NewService(st, bounce.Rules{SoftLimit: 3, SoftWindow: 720 * time.Hour}, bounceSigner, h.clock.Now, h.metrics)
	baseURL := opts.BaseURL
	if baseURL == "" {
		baseURL = h.url
	}
	handler, err := web.NewServer(web.Deps{
		Config: web.Config{
			ServiceName: "Research Alerts", BaseURL: baseURL, TrustedOrigins: opts.TrustedOrigins, TrustedProxies: opts.TrustedProxies,
			PerIPPerHour: opts.PerIPPerHour, AdminToken: opts.AdminToken, Topics: opts.Topics, Settings: opts.Settings,
			Languages: opts.Languages, Location: opts.Location,
		},
		Templates:     alertd.Templates(),
		Subscriptions: h.subs,
		Bounces:       h.bounces,
		Catalogue:     h.cat,
		Admin:         h.dash,
		Metrics:       h.metrics,
		NextDigest:    func() time.Time { return h.clock.Now().Add(24 * time.Hour) },
		Log:           log,
		Now:           h.clock.Now,
		PreviewDigest: renderer.PreviewDigest,
		Webhooks:      opts.Webhooks,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = handler
	srv.Start()
	return h
}

// mailRenderer renders mail with the real templates, as the delivery
// engine and the dashboard's preview do.
func (h *harness) mailRenderer(st *store.Store, signer subscription.UnsubscribeSigner, languages []string, zone *time.Location) delivery.MailRenderer {
	composer, err := mail.NewComposer(mail.Settings{
		ServiceName: "Research Alerts", From: "Research Alerts <alerts@example.org>", BaseURL: h.url, Languages: languages, Location: zone,
	}, alertd.Templates())
	if err != nil {
		h.t.Fatal(err)
	}
	return delivery.MailRenderer{
		Composer: composer, BaseURL: h.url, UnsubscribeToken: signer.Token, MaxReports: 50,
		Subject:       template.Must(template.New("subject").Parse("New reports: {{.Count}}")),
		Digests:       delivery.NewDigestCache(st.DigestReports),
		ReportsByID:   st.ReportsByID,
		LatestReports: func(context.Context) ([]alertd.Report, error) { return nil, nil },
		Now:           h.clock.Now,
	}
}

// startDelivery runs the outbox workers until the test ends and returns
// their wake-up call.
func (h *harness) startDelivery(st *store.Store, renderer delivery.MailRenderer, log *slog.Logger) func() {
	t := h.t
	transport, err := mail.NewSMTPTransport(mail.SMTPSettings{Host: h.smtp.Host, Port: h.smtp.Port, TLS: "none"})
	if err != nil {
		t.Fatal(err)
	}
	engine := delivery.New(st, transport, renderer, delivery.Settings{Workers: 1}, h.clock.Now, log, nil)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		engine.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	return engine.Wake
}

// response is an answer read in full.
type response struct {
	*http.Response
	body string
}

// noRedirects shows redirects instead of following them.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func (h *harness) request(method, path, contentType string, body io.Reader) *http.Request {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// do sends req from the loopback address 127.0.0.1.
func (h *harness) do(req *http.Request) response {
	h.t.Helper()
	return h.doFrom("127.0.0.1", req)
}

// doFrom sends req from another loopback address (127.0.0.0/8 is all
// local on Linux), so the server sees another peer IP.
func (h *harness) doFrom(ip string, req *http.Request) response {
	h.t.Helper()
	client, ok := h.clients[ip]
	if !ok {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		transport := &http.Transport{DialContext: dialer.DialContext}
		h.t.Cleanup(transport.CloseIdleConnections)
		client = &http.Client{CheckRedirect: noRedirects, Transport: transport}
		h.clients[ip] = client
	}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{Response: resp, body: string(b)}
}

func (h *harness) get(path string) response {
	h.t.Helper()
	return h.do(h.request(http.MethodGet, path, "", nil))
}

func (h *harness) postForm(path string, form url.Values) response {
	h.t.Helper()
	return h.do(h.request(http.MethodPost, path, "application/x-www-form-urlencoded", strings.NewReader(form.Encode())))
}

func (h *harness) postJSON(path, body string) response {
	h.t.Helper()
	return h.do(h.request(http.MethodPost, path, "application/json", strings.NewReader(body)))
}

func (h *harness) subscribe(email string) response {
	h.t.Helper()
	return h.postForm("/subscribe", url.Values{"email": {email}})
}

// subscriber reads the stored subscriber with the address.
func (h *harness) subscriber(email string) (alertd.Subscriber, bool) {
	h.t.Helper()
	sub, err := h.subs.Lookup(context.Background(), email)
	if errors.Is(err, subscription.ErrNotFound) {
		return sub, false
	}
	if err != nil {
		h.t.Fatal(err)
	}
	return sub, true
}

func (h *harness) status(email string) alertd.SubscriberStatus {
	h.t.Helper()
	sub, ok := h.subscriber(email)
	if !ok {
		h.t.Fatalf("no subscriber %s", email)
	}
	return sub.Status
}

// confirmationsQueued counts the confirmation mails put in the outbox for
// the address.
func (h *harness) confirmationsQueued(email string) int {
	h.t.Helper()
	export, err := h.subs.Export(context.Background(), email)
	if err != nil {
		h.t.Fatalf("export %s: %v", email, err)
	}
	n := 0
	for _, m := range export.Messages {
		if m.Kind == alertd.KindConfirmation {
			n++
		}
	}
	return n
}

// outboxSize counts every message in the outbox, whatever its state.
func (h *harness) outboxSize() int {
	h.t.Helper()
	counts, err := h.store.MessageCounts(context.Background())
	return total(h.t, counts, err)
}

// subscriberCount counts every stored subscriber, whatever its status.
func (h *harness) subscriberCount() int {
	h.t.Helper()
	counts, err := h.store.CountSubscribers(context.Background())
	return total(h.t, counts, err)
}

// total sums counts kept by status, failing the test on err.
func total[K comparable](t *testing.T, counts map[K]int, err error) int {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		n += c
	}
	return n
}

// confirmed adds a confirmed subscriber (as a trusted import does) and
// returns its unsubscribe link's path.
func (h *harness) confirmed(email string, topics ...string) string {
	h.t.Helper()
	ctx := context.Background()
	_, rejected, err := h.subs.ImportConfirmed(ctx, []subscription.ImportRow{{Email: email, Topics: topics}}, "test")
	if err != nil || len(rejected) > 0 {
		h.t.Fatalf("import %s: %v %v", email, err, rejected)
	}
	sub, ok := h.subscriber(email)
	if !ok {
		h.t.Fatalf("import of %s stored nothing", email)
	}
	return "/unsubscribe/" + h.subs.UnsubscribeToken(sub.ID)
}

var confirmPath = regexp.MustCompile(`/confirm/[A-Za-z0-9_.-]+`)

// confirmationLink waits for the first confirmation mail to the address and
// returns the path of its link.
func (h *harness) confirmationLink(email string) string {
	h.t.Helper()
	for n := 1; ; n++ {
		m := h.smtp.Wait(h.t, n)[n-1]
		if len(m.To) != 1 || m.To[0] != email {
			continue
		}
		if link := confirmPath.FindString(m.Parse(h.t).Text); link != "" {
			return link
		}
	}
}
