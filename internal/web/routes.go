// Package web is alertd's HTTP face: the subscription pages, the one-click
// unsubscribe endpoint, the dashboard, the admin API and the health check.
package web

import (
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/lang"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/subscription"
)

// Config is what the web layer needs to know of the operator's settings.
type Config struct {
	ServiceName string
	// BaseURL is the public origin, for absolute links (the Atom feed).
	BaseURL        string
	TrustedOrigins []string
	TrustedProxies []netip.Prefix
	// PerIPPerHour caps sign-up requests per client IP; 0 means no cap.
	PerIPPerHour int
	// AdminToken enables the admin API and /metrics; empty disables them.
	AdminToken string
	Topics     []alertd.Topic
	// Languages are the language tags readers may choose, the first for
	// those who have not; empty = English alone.
	Languages []string
	// Settings are the effective configuration, secrets already masked,
	// for the dashboard's settings page.
	Settings []Setting
	// Location is the zone the public pages' dates are written in, that of
	// digest.timezone; nil = UTC.
	Location *time.Location
}

// Setting is one configuration key and its value as the dashboard shows it.
type Setting struct {
	Key   string // dotted: the part before the dot is its section
	Value string
}

// Deps are the parts the handlers use. The handlers reach the data only
// through the services.
type Deps struct {
	Config        Config
	Templates     fs.FS
	Subscriptions *subscription.Service
	Bounces       *bounce.Service
	Catalogue     *catalogue.Service
	Admin         *admin.Service
	// NextDigest tells when the schedule fires next.
	NextDigest func() time.Time
	Metrics    *metrics.Metrics
	Log        *slog.Logger
	// Now is the clock the rate limits count by.
	Now func() time.Time
	// Webhooks are the bounce webhooks of the mail providers.
	Webhooks Webhooks

	// PreviewDigest renders a digest as the real mail does.
	PreviewDigest PreviewDigest
}

// NewServer returns the HTTP handler with every route.
func NewServer(d Deps) (http.Handler, error) {
	langs, err := lang.Load(d.Templates, d.Config.Languages, d.Config.Location)
	if err != nil {
		return nil, err
	}
	pages, err := loadPages(d.Templates, d.Config.ServiceName, d.Config.Topics, langs, d.Log)
	if err != nil {
		return nil, err
	}
	if frequencies := d.Catalogue.Frequencies(); len(frequencies) > 1 {
		pages.frequencies = frequencies
	}
	static, err := fs.Sub(d.Templates, "static")
	if err != nil {
		return nil, err
	}
	ips := clientIPs{trusted: d.Config.TrustedProxies}

	crossOrigin := http.NewCrossOriginProtection()
	for _, origin := range d.Config.TrustedOrigins {
		if err := crossOrigin.AddTrustedOrigin(origin); err != nil {
			return nil, fmt.Errorf("server.trusted_origins: %w", err)
		}
	}
	// RFC 8058 one-click POSTs come from mail providers with no browser
	// context; the token in the URL is the proof.
	crossOrigin.AddInsecureBypassPattern("POST /unsubscribe/{token}")
	for _, pattern := range webhookPatterns {
		crossOrigin.AddInsecureBypassPattern(pattern)
	}
	crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.message(w, r, http.StatusForbidden, "error_refused_title", "error_refused")
	}))

	perIP := func(next http.Handler) http.Handler { return next }
	if d.Config.PerIPPerHour > 0 {
		perIP = limitPerClient(newLimiter(d.Config.PerIPPerHour, time.Hour, maxLimitedClients, d.Now), ips,
			func(w http.ResponseWriter, r *http.Request) {
				d.Metrics.SubscribeRequests.WithLabelValues("rate_limited").Inc()
				tooManyRequests(w, r, pages)
			})
	}
	admin := requireAdmin(d.Config.AdminToken, newLimiter(adminFailures, adminFailureWindow, maxLimitedClients, d.Now), ips)

	r := chi.NewRouter()
	r.Use(recoverPanics(pages), securityHeaders, limitBody, crossOrigin.Handler)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		pages.message(w, r, http.StatusNotFound, "error_not_found_title", "error_not_found")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		pages.message(w, r, http.StatusMethodNotAllowed, "error_method_title", "error_method")
	})

	r.Get("/", handleForm(pages, d.Catalogue.Published))
	r.With(perIP).Post("/subscribe", handleSubscribe(pages, d.Subscriptions, ips, d.Metrics.SubscribeRequests))
	// A reload of a refused form arrives here as a GET: show the form.
	r.Get("/subscribe", http.RedirectHandler("/", http.StatusSeeOther).ServeHTTP)
	r.Get("/subscribe/check-email", handleCheckEmail(pages))
	r.Group(func(r chi.Router) {
		r.Use(noReferrer)
		r.Get("/confirm/{token}", handleConfirmPage(pages, d.Subscriptions))
		r.Post("/confirm/{token}", handleConfirm(pages, d.Subscriptions, ips))
		r.Get("/unsubscribe/{token}", handleUnsubscribePage(pages, d.Subscriptions))
		r.Post("/unsubscribe/{token}", handleUnsubscribe(pages, d.Subscriptions))
	})
	r.Get("/reports", handleReports(pages, d.Catalogue.Published))
	r.Get("/reports/feed.atom", handleFeed(pages, d.Config.ServiceName, d.Config.BaseURL, d.Catalogue.Published, d.Log))
	r.Get("/digests", handleArchivedDigests(pages, d.Catalogue))
	r.Get("/digests/feed.atom", handleDigestFeed(pages, d.Config.ServiceName, d.Config.BaseURL, d.Catalogue, d.Log))
	r.Get("/digests/{id}", handleArchivedDigest(pages, d.Catalogue))
	r.Handle("/static/*", http.StripPrefix("/static/", http.FileServerFS(static)))
	r.Get("/healthz", handleHealth(d.Catalogue.Health, d.Log))
	r.Head("/healthz", handleHealth(d.Catalogue.Health, d.Log))
	r.With(admin).Handle("/metrics", d.Metrics.Handler())
	webhookRoutes(r, d.Webhooks, d.Now, d.Log)

	r.Route("/admin", dashboardRoutes(d, pages, ips))

	r.Route("/api/v1", func(r chi.Router) {
		r.Use(admin)
		r.Get("/subscribers", handleListSubscribers(d.Subscriptions, d.Log))
		r.Get("/subscribers/{email}", handleGetSubscriber(d.Subscriptions, d.Log))
		r.Delete("/subscribers/{email}", handleEraseSubscriber(d.Subscriptions, d.Log))
		r.Get("/stats", handleStats(d.Catalogue, d.NextDigest, d.Log))
		r.Post("/reports", handleCreateReport(d.Catalogue, d.Log))
		r.Get("/reports", handleListReports(d.Catalogue, d.Log))
		r.Delete("/reports/{id}", handleRetractReport(d.Catalogue, d.Log))
		r.Post("/reports/{id}/approve", handleApproveReport(d.Catalogue, d.Log))
		r.Get("/sources", handleListSources(d.Catalogue, d.Log))
		r.Post("/digests", handleCompileDigest(d.Catalogue, d.Log))
		r.Get("/digests/{id}", handleGetDigest(d.Catalogue, d.Log))
		r.Get("/bounces", handleListBounces(d.Bounces, d.Log))
	})
	return r, nil
}

// dashboardRoutes are the routes under /admin: the sign-in pages, and the
// pages that need a session.
func dashboardRoutes(d Deps, pages *pages, ips clientIPs) func(chi.Router) {
	cookie := newSessionCookie(d.Config.BaseURL)
	// The site-wide protection lets server.trusted_origins post the
	// subscription form; no other site may post to the dashboard.
	crossOrigin := http.NewCrossOriginProtection()
	crossOrigin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.render(w, r, http.StatusForbidden, "admin/message", messageView{"Request refused",
			"This form was sent from another site. Please use the dashboard itself."})
	}))
	perIP := func(next http.Handler) http.Handler { return next }
	if d.Config.PerIPPerHour > 0 {
		perIP = limitPerClient(newLimiter(d.Config.PerIPPerHour, time.Hour, maxLimitedClients, d.Now), ips,
			func(w http.ResponseWriter, r *http.Request) {
				pages.render(w, r, http.StatusTooManyRequests, "admin/message", messageView{"Too many requests",
					"Too many sign-in requests came from your network. Please try again later."})
			})
	}
	audit := auditor{d.Admin, d.Log}
	return func(r chi.Router) {
		r.Use(adminHeaders, crossOrigin.Handler)
		r.Get("/login", handleAdminLoginForm(pages))
		r.With(perIP).Post("/login", handleAdminLogin(pages, d.Admin))
		r.Get("/login/check-email", handleAdminCheckEmail(pages))
		r.Get("/login/{token}", handleAdminSignInPage(pages, d.Admin))
		r.Post("/login/{token}", handleAdminSignIn(pages, d.Admin, cookie))
		r.Group(func(r chi.Router) {
			r.Use(requireSession(pages, d.Admin, cookie))
			r.Post("/logout", handleAdminLogout(pages, d.Admin, cookie))
			r.Get("/", handleAdminOverview(pages, d.Catalogue, d.Subscriptions, d.Bounces, d.NextDigest))
			r.Get("/audit", handleAdminAudit(pages, d.Admin))
			r.Get("/sources", handleAdminSources(pages, d.Catalogue))
			r.Get("/settings", handleAdminSettings(pages, d.Config.Settings))
			r.Post("/settings/test-mail", handleAdminTestMail(pages, d.Admin, audit, d.Config.Settings))
			r.Get("/digests", handleAdminDigests(pages, d.Catalogue, d.PreviewDigest, d.Config.Topics))
			r.Get("/digests/preview", handleAdminDigestFrame(pages, d.Catalogue, d.PreviewDigest, d.Config.Topics))
			r.Get("/digests/send", handleAdminDigestConfirm(pages, d.Catalogue))
			r.Post("/digests/send", handleAdminDigestSend(pages, d.Catalogue, audit))
			r.Get("/digests/{id}", handleAdminDigest(pages, d.Catalogue))
			r.Get("/digests/{id}/progress", handleGetDigest(d.Catalogue, d.Log))
			r.Get("/reports", handleAdminReports(pages, d.Catalogue, d.Now))
			r.Get("/reports/review", handleAdminReview(pages, d.Catalogue))
			r.Get("/reports/new", handleAdminReportNew(pages))
			r.Post("/reports/new", handleAdminReportCreate(pages, d.Catalogue, audit))
			r.Get("/reports/{id}", handleAdminReport(pages, d.Catalogue, d.Now))
			r.Get("/reports/{id}/edit", handleAdminReportEditPage(pages, d.Catalogue))
			r.Post("/reports/{id}/edit", handleAdminReportEdit(pages, d.Catalogue, audit))
			r.Get("/reports/{id}/retract", handleAdminRetractPage(pages, d.Catalogue))
			r.Post("/reports/{id}/retract", handleAdminReportAction(pages, d.Catalogue, audit, retractAction))
			r.Post("/reports/{id}/restore", handleAdminReportAction(pages, d.Catalogue, audit, restoreAction))
			r.Post("/reports/{id}/approve", handleAdminReportAction(pages, d.Catalogue, audit, approveAction))
			r.Post("/reports/{id}/reject", handleAdminReportAction(pages, d.Catalogue, audit, rejectAction))
			r.Get("/subscribers", handleAdminSubscribers(pages, d.Subscriptions, d.Config.Topics))
			r.Get("/subscribers/export.csv", handleAdminExport(pages, d.Subscriptions, audit))
			r.Get("/subscribers/import", handleAdminImportForm(pages))
			r.Post("/subscribers/import", handleAdminImport(pages, d.Subscriptions, audit))
			r.Get("/subscribers/{id}", handleAdminSubscriber(pages, d.Subscriptions))
			r.Post("/subscribers/{id}/unsubscribe", handleAdminUnsubscribe(pages, d.Subscriptions, audit))
			r.Post("/subscribers/{id}/erase", handleAdminErase(pages, d.Subscriptions, audit))
			r.NotFound(func(w http.ResponseWriter, r *http.Request) {
				pages.render(w, r, http.StatusNotFound, "admin/message", messageView{"Page not found", "There is no dashboard page at this address."})
			})
		})
	}
}
