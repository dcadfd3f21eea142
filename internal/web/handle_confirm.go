package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd/internal/subscription"
)

// handleConfirmPage shows the confirmation button. It changes nothing: mail
// scanners follow links, and only a person presses the button.
func handleConfirmPage(p *pages, subs *subscription.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := subs.CheckConfirmation(r.Context(), chi.URLParam(r, "token"))
		renderConfirmation(p, w, r, err, "confirm")
	}
}

func handleConfirm(p *pages, subs *subscription.Service, ips clientIPs) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, err := subs.Confirm(r.Context(), subscription.ConfirmRequest{
			Token: chi.URLParam(r, "token"), IP: ips.of(r), UserAgent: r.UserAgent(),
		})
		renderConfirmation(p, w, r, err, "confirmed")
	}
}

// renderConfirmation answers a confirmation link: the page that says it has
// expired, a server error, or page when err is nil.
func renderConfirmation(p *pages, w http.ResponseWriter, r *http.Request, err error, page string) {
	switch {
	case errors.Is(err, subscription.ErrTokenExpired):
		p.render(w, r, http.StatusGone, "confirm_expired", nil)
	case err != nil:
		p.serverError(w, r, err)
	default:
		p.render(w, r, http.StatusOK, page, nil)
	}
}
