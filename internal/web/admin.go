package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
)

// adminHeaders are the dashboard's headers: a policy that allows the
// site's own styles and scripts but nothing inline, no framing, no
// referrer, and no copy of a page in any cache.
func adminHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// sessionCookie names the dashboard's session cookie. On https the
// __Host- prefix makes the browser refuse it unless it is Secure, for
// Path=/ and set by this host itself, so no subdomain can plant one.
type sessionCookie struct{ secure bool }

func newSessionCookie(baseURL string) sessionCookie {
	return sessionCookie{secure: strings.HasPrefix(baseURL, "https://")}
}

func (c sessionCookie) name() string {
	if c.secure {
		return "__Host-alertd_session"
	}
	return "alertd_session"
}

// value returns the cookie's value in r, "" when there is none.
func (c sessionCookie) value(r *http.Request) string {
	cookie, err := r.Cookie(c.name())
	if err != nil {
		return ""
	}
	return cookie.Value
}

// set gives the browser the session cookie until expires.
func (c sessionCookie) set(w http.ResponseWriter, value string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: c.name(), Value: value, Path: "/", Expires: expires,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

// clear tells the browser to forget the session cookie.
func (c sessionCookie) clear(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: c.name(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
	})
}

type sessionKey struct{}

// sessionOf returns the signed-in session of r, the zero Session outside
// the dashboard's signed-in pages.
func sessionOf(r *http.Request) alertd.Session {
	s, _ := r.Context().Value(sessionKey{}).(alertd.Session)
	return s
}

// requireSession lets through only requests with a live session, which
// it puts in the request's context; the others are sent to sign in.
func requireSession(p *pages, svc *admin.Service, cookie sessionCookie) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sess, err := svc.Session(r.Context(), cookie.value(r))
			switch {
			case alertd.ErrorCode(err) == alertd.Unauthorized:
				http.Redirect(w, r, "/admin/login", http.StatusSeeOther)
			case err != nil:
				p.serverError(w, r, err)
			default:
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
			}
		})
	}
}
