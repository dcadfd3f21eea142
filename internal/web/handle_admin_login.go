package web

import (
	"errors"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd/internal/admin"
)

func handleAdminLoginForm(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "admin/login", nil)
	}
}

// handleAdminLogin answers every request the same way, whether the address
// may sign in or not, so the form tells no one who the admins are.
func handleAdminLogin(p *pages, svc *admin.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := parseForm(r)
		if isTooLarge(err) {
			p.render(w, r, http.StatusRequestEntityTooLarge, "admin/message", messageView{"Request too large", "The form sent more than it should. Please try again."})
			return
		}
		if err == nil {
			err = svc.RequestLink(r.Context(), r.PostForm.Get("email"))
		}
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		http.Redirect(w, r, "/admin/login/check-email", http.StatusSeeOther)
	}
}

func handleAdminCheckEmail(p *pages) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.render(w, r, http.StatusOK, "admin/check_email", nil)
	}
}

// handleAdminSignInPage shows the sign-in button. It changes nothing: mail
// scanners follow links, and only a person presses the button.
func handleAdminSignInPage(p *pages, svc *admin.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := svc.CheckLink(r.Context(), chi.URLParam(r, "token"))
		switch {
		case errors.Is(err, admin.ErrLinkExpired):
			p.render(w, r, http.StatusGone, "admin/link_expired", nil)
		case err != nil:
			p.serverError(w, r, err)
		default:
			p.render(w, r, http.StatusOK, "admin/sign_in", nil)
		}
	}
}

func handleAdminSignIn(p *pages, svc *admin.Service, cookie sessionCookie) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, sess, err := svc.SignIn(r.Context(), chi.URLParam(r, "token"))
		switch {
		case errors.Is(err, admin.ErrLinkExpired):
			p.render(w, r, http.StatusGone, "admin/link_expired", nil)
		case err != nil:
			p.serverError(w, r, err)
		default:
			cookie.set(w, secret, sess.ExpiresAt)
			http.Redirect(w, r, "/admin", http.StatusSeeOther)
		}
	}
}

// handleAdminLogout ends the session on the server and in the browser.
func handleAdminLogout(p *pages, svc *admin.Service, cookie sessionCookie) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := svc.SignOut(r.Context(), cookie.value(r)); err != nil {
			p.serverError(w, r, err)
			return
		}
		cookie.clear(w)
		http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
	}
}
