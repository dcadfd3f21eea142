package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/mail"
	"os"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/config"
	"github.com/alertd/alertd/internal/delivery"
	alertmail "github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// environment is one run of a command: the configuration and the streams.
type environment struct {
	cfg            config.Config
	configPath     string
	stdin          io.Reader
	stdout, stderr io.Writer
}

func (env *environment) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(env.stderr, nil))
}

func (env *environment) openStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, env.cfg.Database.Path, alertd.Migrations())
}

// templates are the embedded templates, under the operator's overrides.
func (env *environment) templates() (fs.FS, error) {
	if env.cfg.Templates.Dir == "" {
		return alertd.Templates(), nil
	}
	if _, err := os.Stat(env.cfg.Templates.Dir); err != nil {
		return nil, &config.Error{Key: "templates.dir", Msg: err.Error()}
	}
	return alertd.Overlay(os.DirFS(env.cfg.Templates.Dir), alertd.Templates()), nil
}

// serviceName is how pages and mails name the service: the From display name.
func (env *environment) serviceName() string {
	if addr, err := mail.ParseAddress(env.cfg.Mail.From); err == nil && addr.Name != "" {
		return addr.Name
	}
	return "Report Alerts"
}

// core is what every command on the database uses: the store and the
// services over it, which are the commands' only way to the data.
type core struct {
	store         *store.Store
	templates     fs.FS
	signer        subscription.UnsubscribeSigner
	bounceSigner  bounce.Signer
	subscriptions *subscription.Service
	catalogue     *catalogue.Service
	admin         *admin.Service
	log           *slog.Logger
}

// openCore opens the store and builds the services on it; queued is told
// when mail has been committed to the outbox.
func (env *environment) openCore(ctx context.Context, queued func()) (*core, error) {
	templates, err := env.templates()
	if err != nil {
		return nil, err
	}
	st, err := env.openStore(ctx)
	if err != nil {
		return nil, err
	}
	c := &core{store: st, templates: templates, log: env.logger()}
	if err := env.wireServices(ctx, c, queued); err != nil {
		st.Close()
		return nil, err
	}
	return c, nil
}

func (env *environment) wireServices(ctx context.Context, c *core, queued func()) error {
	cfg := env.cfg
	secret, err := env.secret(ctx, c.store)
	if err != nil {
		return err
	}
	if c.signer, err = subscription.NewUnsubscribeSigner(secret); err != nil {
		return &config.Error{Key: "security.secret", Msg: err.Error()}
	}
	if c.bounceSigner, err = bounce.NewSigner(secret); err != nil {
		return &config.Error{Key: "security.secret", Msg: err.Error()}
	}
	consentVersion, err := consentVersion(c.templates)
	if err != nil {
		return err
	}
	c.subscriptions = subscription.NewService(c.store, subscription.Rules{
		ConfirmTTL: time.Duration(cfg.Subscribe.ConfirmTTL), ResendCooldown: time.Duration(cfg.Subscribe.ResendCooldown),
		MaxConfirmationsPerDay: cfg.Subscribe.MaxConfirmationsPerDay,
		PurgeUnconfirmedAfter:  time.Duration(cfg.Subscribe.PurgeUnconfirmedAfter), Welcome: cfg.Subscribe.Welcome,
		ConsentVersion: consentVersion, Topics: cfg.Topics, Frequencies: cfg.Frequencies,
		Languages: cfg.Site.Languages,
		// The catalogue, made next, holds the rule of what a series has
		// still to announce.
		Pending: func(tx *store.Tx, frequency string, now time.Time) (store.DigestSelection, error) {
			return c.catalogue.Selection(tx, frequency, now)
		},
	}, c.signer, time.Now, rand.Reader, queued)
	if err := c.subscriptions.GiveLang(ctx); err != nil {
		return err
	}
	c.catalogue = catalogue.NewService(c.store, catalogue.Rules{
		FirstWindow: time.Duration(cfg.Digest.FirstWindow), Topics: cfg.Topics, Frequencies: cfg.Frequencies, Sources: catalogueSources(cfg.Sources),
	}, time.Now, queued)
	c.admin = admin.NewService(c.store, admin.Rules{
		Emails: cfg.Admin.Emails, SessionTTL: time.Duration(cfg.Admin.SessionTTL),
	}, time.Now, rand.Reader, queued)
	return nil
}

func catalogueSources(sources []config.Source) []catalogue.Source {
	var out []catalogue.Source
	for _, src := range sources {
		out = append(out, catalogue.Source{URL: src.URL, Schedule: src.Schedule, Review: src.Review, HTML: src.HTML})
	}
	return out
}

func (c *core) close() error {
	return c.store.Close()
}

// withCore runs fn on the store and the services, for a command that sends
// no mail itself: what it queues, 'alertd serve' sends.
func (env *environment) withCore(ctx context.Context, fn func(*core) error) error {
	c, err := env.openCore(ctx, func() {})
	if err != nil {
		return err
	}
	defer c.close()
	return fn(c)
}

// app is everything a long-running command wires together: the core and
// the mail side (templates, DKIM, transport, the outbox workers).
type app struct {
	*core
	fetchClient *http.Client // for feed sources
	renderer    delivery.MailRenderer
	engine      *delivery.Engine
	metrics     *metrics.Metrics
	bounces     *bounce.Service
}

func (env *environment) newApp(ctx context.Context) (*app, error) {
	a := &app{}
	c, err := env.openCore(ctx, func() { a.engine.Wake() })
	if err != nil {
		return nil, err
	}
	a.core = c
	if err := env.wireDelivery(a); err != nil {
		c.close()
		return nil, err
	}
	return a, nil
}

func (env *environment) wireDelivery(a *app) error {
	cfg := env.cfg
	composer, err := alertmail.NewComposer(alertmail.Settings{
		ServiceName: env.serviceName(), From: cfg.Mail.From, ReplyTo: cfg.Mail.ReplyTo,
		ListID: cfg.Mail.ListID, UnsubscribeMailto: cfg.Mail.UnsubscribeMailto, BaseURL: cfg.Server.BaseURL,
		Location: cfg.Digest.Location, Languages: cfg.Site.Languages,
	}, a.templates)
	if err != nil {
		return err
	}
	transport, err := env.transport()
	if err != nil {
		return err
	}
	subject, err := alertmail.ParseSubject("digest.subject", cfg.Digest.Subject)
	if err != nil {
		return &config.Error{Key: "digest.subject", Msg: err.Error()}
	}
	a.renderer = delivery.MailRenderer{
		Composer: composer, BaseURL: cfg.Server.BaseURL, UnsubscribeToken: a.signer.Token,
		MaxReports: cfg.Digest.MaxReports, Subject: subject,
		Digests: delivery.NewDigestCache(a.store.DigestReports), ReportsByID: a.store.ReportsByID,
		LatestReports: func(ctx context.Context) ([]alertd.Report, error) {
			return a.catalogue.Published(ctx, cfg.Digest.MaxReports, 0)
		},
		Now: time.Now,
	}
	if domain := cfg.Bounce.Domain; domain != "" {
		a.renderer.ReturnPath = func(messageID int64) string { return a.bounceSigner.Address(messageID, domain) }
	}
	a.metrics = metrics.New(func() float64 {
		n, err := a.store.QueueDepth(context.Background())
		if err != nil {
			a.log.Error("queue depth for metrics", "err", err)
		}
		return float64(n)
	})
	a.bounces = bounce.NewService(a.store, bounce.Rules{
		SoftLimit: cfg.Bounce.SoftLimit, SoftWindow: time.Duration(cfg.Bounce.SoftWindow),
		UnsubscribeMailto: cfg.Mail.UnsubscribeAddress(), Domain: cfg.Bounce.Domain,
	}, a.bounceSigner, time.Now, a.metrics)
	a.engine = delivery.New(a.store, transport, a.renderer, delivery.Settings{
		Workers: cfg.SMTP.Connections, RatePerSecond: cfg.SMTP.RatePerSecond, RetrySchedule: cfg.Delivery.RetrySchedule,
		Lease: time.Duration(cfg.Delivery.Lease),
	}, time.Now, a.log, a.metrics)
	a.fetchClient = catalogue.NewClient(cfg.Fetch.AllowPrivateNetworks)
	return nil
}

// dkimSigner reads the DKIM key when dkim.* is configured; nil otherwise.
func (env *environment) dkimSigner() (*alertmail.DKIMSigner, error) {
	d := env.cfg.DKIM
	if !d.Enabled() {
		return nil, nil
	}
	keyPEM, err := os.ReadFile(d.PrivateKeyFile)
	if err != nil {
		return nil, &config.Error{Key: "dkim.private_key_file", Msg: err.Error()}
	}
	signer, err := alertmail.NewDKIMSigner(d.Domain, d.Selector, keyPEM)
	if err != nil {
		return nil, &config.Error{Key: "dkim.private_key_file", Msg: err.Error()}
	}
	return signer, nil
}

// secret is the key that signs unsubscribe links: security.secret, or one
// generated on first use and kept in the database.
func (env *environment) secret(ctx context.Context, st *store.Store) ([]byte, error) {
	if s := env.cfg.Security.Secret; s != "" {
		return []byte(s), nil
	}
	return st.Secret(ctx, "security.secret", func() ([]byte, error) {
		key := make([]byte, 32)
		_, err := rand.Read(key)
		return key, err
	})
}

// consentVersion names the wording of the subscription form: a hash of its
// template, so that changing the text changes the version recorded.
func consentVersion(templates fs.FS) (string, error) {
	form, err := fs.ReadFile(templates, "pages/form.html")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(form)
	return "form-" + hex.EncodeToString(sum[:6]), nil
}

func (env *environment) transport() (alertmail.Transport, error) {
	if env.cfg.Mail.Transport == config.TransportFile {
		dkim, err := env.dkimSigner()
		if err != nil {
			return nil, err
		}
		t := alertmail.NewFileTransport(env.cfg.Mail.Dir)
		t.DKIM = dkim
		return t, nil
	}
	return env.smtpTransport()
}

func (env *environment) smtpTransport() (*alertmail.SMTPTransport, error) {
	dkim, err := env.dkimSigner()
	if err != nil {
		return nil, err
	}
	s := env.cfg.SMTP
	return alertmail.NewSMTPTransport(alertmail.SMTPSettings{
		Host: s.Host, Port: s.Port, Username: s.Username, Password: s.Password,
		TLS: string(s.TLS), Timeout: time.Duration(s.Timeout), DKIM: dkim,
	})
}

func (env *environment) migrate(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("migrate takes no arguments")
	}
	st, err := env.openStore(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "database %s is up to date\n", env.cfg.Database.Path)
	return st.Close()
}

func (env *environment) backup(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return usagef("backup takes one argument: the file to write")
	}
	st, err := env.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Backup(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "wrote a copy of %s to %s\n", env.cfg.Database.Path, args[0])
	return nil
}

func (env *environment) check(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("check takes no arguments")
	}
	source := env.configPath
	if source == "" {
		source = "built-in defaults"
	}
	fmt.Fprintf(env.stdout, "configuration: %s is valid\n", source)
	for _, w := range env.cfg.Warnings() {
		fmt.Fprintf(env.stdout, "warning: %s\n", w)
	}
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	stats, err := a.catalogue.Stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "database: %s (subscribers: %d confirmed, %d pending)\n",
		env.cfg.Database.Path, stats.Subscribers[alertd.StatusConfirmed], stats.Subscribers[alertd.StatusPending])
	if env.cfg.Mail.Transport == config.TransportFile {
		fmt.Fprintf(env.stdout, "mail: written as .eml files into %s (file transport)\n", env.cfg.Mail.Dir)
		return nil
	}
	t, err := env.smtpTransport()
	if err != nil {
		return err
	}
	res, err := t.Verify(ctx)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	tlsState := "without TLS"
	if res.TLSVersion != "" {
		tlsState = "with " + res.TLSVersion
	}
	auth := "no AUTH"
	if res.Authenticated {
		auth = "authenticated as " + env.cfg.SMTP.Username
	}
	fmt.Fprintf(env.stdout, "smtp: connected to %s %s, %s (no mail sent)\n", res.Addr, tlsState, auth)
	return nil
}
