package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/config"
	"github.com/alertd/alertd/internal/schedule"
	"github.com/alertd/alertd/internal/web"
)

// purgeEvery is how often stale sign-ups and old finished messages are
// deleted.
const purgeEvery = time.Hour

func (env *environment) serve(ctx context.Context, args []string) error {
	if len(args) > 0 {
		return usagef("serve takes no arguments")
	}
	a, err := env.newApp(ctx)
	if err != nil {
		return err
	}
	defer a.close()
	cfg := env.cfg
	var digests []*schedule.Digests
	for _, f := range cfg.Frequencies {
		d, err := schedule.NewDigests(f.ID, f.Schedule, cfg.Digest.Location, a.store, func(ctx context.Context) error {
			d, created, err := a.catalogue.CompileDigest(ctx, f.ID)
			if err == nil && created {
				a.log.Info("digest compiled", "frequency", f.ID, "id", d.ID, "reports", d.Reports, "recipients", d.Recipients)
			} else if err == nil {
				a.log.Info("no new reports; no digest", "frequency", f.ID)
			}
			return err
		}, time.Now, a.log)
		if err != nil {
			return &config.Error{Key: "frequencies.schedule", Msg: err.Error()}
		}
		digests = append(digests, d)
	}
	// The dashboard and the stats give the next time any series fires.
	nextDigest := func() time.Time {
		next := digests[0].Next()
		for _, d := range digests[1:] {
			if at := d.Next(); at.Before(next) {
				next = at
			}
		}
		return next
	}
	var sources []schedule.Source
	for _, src := range cfg.Sources {
		sources = append(sources, schedule.Source{URL: src.URL, Schedule: src.Schedule})
	}
	feeds, err := schedule.NewSources(sources, cfg.Digest.Location, a.pollFeed, a.log)
	if err != nil {
		return &config.Error{Key: "sources", Msg: err.Error()}
	}
	webhooks, err := a.webhooks(cfg.Webhooks)
	if err != nil {
		return err
	}
	handler, err := web.NewServer(web.Deps{
		Config: web.Config{
			ServiceName: env.serviceName(), BaseURL: cfg.Server.BaseURL, TrustedOrigins: cfg.Server.TrustedOrigins,
			TrustedProxies: cfg.Server.TrustedProxies, PerIPPerHour: cfg.Subscribe.PerIPPerHour,
			AdminToken: cfg.Admin.Token, Topics: cfg.Topics, Languages: cfg.Site.Languages, Settings: webSettings(cfg),
			Location: cfg.Digest.Location,
		},
		Templates: a.templates, Subscriptions: a.subscriptions, Catalogue: a.catalogue, Admin: a.admin,
		NextDigest: nextDigest, Metrics: a.metrics, Log: a.log, Now: time.Now,
		PreviewDigest: a.renderer.PreviewDigest,
		Bounces:       a.bounces, Webhooks: webhooks,
	})
	if err != nil {
		return err
	}
	listener, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return &config.Error{Key: "server.listen", Msg: err.Error()}
	}
	var bounceListener net.Listener
	if cfg.Bounce.Listen != "" {
		if bounceListener, err = net.Listen("tcp", cfg.Bounce.Listen); err != nil {
			listener.Close()
			return &config.Error{Key: "bounce.listen", Msg: err.Error()}
		}
		fmt.Fprintf(env.stdout, "alertd: bounce and complaint mail taken over SMTP on %s\n", bounceListener.Addr())
	}
	server := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	fmt.Fprintf(env.stdout, "alertd: subscription form at %s/ (listening on %s)\n", cfg.Server.BaseURL, listener.Addr())
	if cfg.Mail.Transport == config.TransportFile {
		fmt.Fprintf(env.stdout, "alertd: mail is written as .eml files into %s (set smtp.host to send)\n", cfg.Mail.Dir)
	} else {
		fmt.Fprintf(env.stdout, "alertd: mail goes to %s:%d over SMTP\n", cfg.SMTP.Host, cfg.SMTP.Port)
	}

	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { a.engine.Run(workCtx) })
	background.Go(func() { a.purgeLoop(workCtx, time.Duration(cfg.Delivery.KeepMessagesFor)) })
	for _, d := range digests {
		background.Go(func() { d.Run(workCtx) })
	}
	background.Go(func() { feeds.Run(workCtx) })
	if bounceListener != nil {
		receiver := &bounce.Receiver{
			Domain: cfg.Bounce.Domain, Addresses: []string{cfg.Mail.UnsubscribeAddress()},
			Handle: a.bounces.Receive, Log: a.log,
		}
		background.Go(func() {
			if err := receiver.Serve(workCtx, bounceListener); err != nil {
				a.log.Error("bounce receiver stopped", "err", err)
			}
		})
	}
	if u := cfg.Bounce.IMAPURL.URL(); u != nil {
		poller := &bounce.Poller{URL: u, Every: time.Duration(cfg.Bounce.PollEvery), Handle: a.bounces.Receive, Log: a.log}
		background.Go(func() { poller.Run(workCtx) })
	}
	a.engine.Wake()

	serveErr := make(chan error, 1)
	go func() { serveErr <- server.Serve(listener) }()
	select {
	case err = <-serveErr:
	case <-ctx.Done():
		a.log.Info("shutting down: finishing requests and messages in flight")
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = server.Shutdown(shutdownCtx)
		cancel()
	}
	stopWork()
	background.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// pollFeed imports what is new in a feed source, and counts the poll by its
// outcome.
func (a *app) pollFeed(ctx context.Context, url string) error {
	result, err := a.catalogue.Poll(ctx, a.fetchClient, url)
	if ctx.Err() != nil {
		return err
	}
	if err != nil {
		a.metrics.SourcePolls.WithLabelValues(url, string(alertd.PollError)).Inc()
		return err
	}
	a.metrics.SourcePolls.WithLabelValues(url, string(alertd.PollOK)).Inc()
	a.log.Info("polled feed source", "url", url, "added", result.Added, "unchanged", result.Unchanged,
		"rejected", len(result.Rejected))
	for _, r := range result.Rejected {
		a.log.Warn("feed item rejected", "url", url, "item", r.Line, "reason", r.Reason)
	}
	return nil
}

// purgeLoop deletes stale sign-ups, and the messages that finished more
// than keepMessages ago, at start and then every purgeEvery.
func (a *app) purgeLoop(ctx context.Context, keepMessages time.Duration) {
	ticker := time.NewTicker(purgeEvery)
	defer ticker.Stop()
	for {
		if n, err := a.subscriptions.Purge(ctx); err != nil && ctx.Err() == nil {
			a.log.Error("purge stale sign-ups", "err", err)
		} else if n > 0 {
			a.log.Info("purged stale sign-ups", "count", n)
		}
		if n, err := a.store.DeleteFinishedMessages(ctx, time.Now().Add(-keepMessages)); err != nil && ctx.Err() == nil {
			a.log.Error("delete old finished messages", "err", err)
		} else if n > 0 {
			a.log.Info("deleted old finished messages", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// webhooks are the providers' bounce webhooks that have their key set.
func (a *app) webhooks(cfg config.Webhooks) (web.Webhooks, error) {
	wh := web.Webhooks{Recorder: a.bounces, PostmarkToken: cfg.PostmarkToken}
	if cfg.MailgunSigningKey != "" {
		wh.Mailgun = bounce.NewMailgun(cfg.MailgunSigningKey, time.Now)
	}
	if cfg.SendGridPublicKey != "" {
		key, err := bounce.ParseSendGridKey(cfg.SendGridPublicKey)
		if err != nil {
			return wh, &config.Error{Key: "webhooks.sendgrid_public_key", Msg: err.Error()}
		}
		sendGrid := bounce.NewSendGrid(key, time.Now)
		wh.SendGrid = &sendGrid
	}
	if cfg.SESTopicARN != "" {
		sns, err := bounce.NewSNS(cfg.SESTopicARN)
		if err != nil {
			return wh, &config.Error{Key: "webhooks.ses_topic_arn", Msg: err.Error()}
		}
		wh.SES = sns
	}
	return wh, nil
}

// webSettings is the configuration as the dashboard's settings page shows
// it, secrets masked.
func webSettings(cfg config.Config) []web.Setting {
	var out []web.Setting
	for _, s := range cfg.Settings() {
		out = append(out, web.Setting{Key: s.Key, Value: s.Value})
	}
	return out
}
