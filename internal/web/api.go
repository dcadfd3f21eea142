package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/subscription"
)

// Failed admin authentications allowed per client (see clientKey) before
// the client is refused for the rest of the window.
const (
	adminFailures      = 5
	adminFailureWindow = 15 * time.Minute
)

// requireAdmin guards the admin API and /metrics with the bearer token. With
// no token configured they do not exist (404). A client whose wrong tokens
// have used up failures has every further wrong token answered 429 until
// its window ends.
func requireAdmin(token string, failures *limiter, ips clientIPs) func(http.Handler) http.Handler {
	tokenSum := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" {
				jsonError(w, http.StatusNotFound, "disabled: set admin.token to enable the admin API and /metrics")
				return
			}
			given, ok := bearer(r)
			// Hashes are compared, so that the time taken tells nothing
			// of the token's length either.
			givenSum := sha256.Sum256([]byte(given))
			if ok && subtle.ConstantTimeCompare(givenSum[:], tokenSum[:]) == 1 {
				next.ServeHTTP(w, r)
				return
			}
			// Only failures count, and the right token always passes: a
			// stranger's guesses must not lock the operators out, and a
			// token of 32 characters or more is not found by guessing.
			if wait, ok := failures.take(clientKey(ips.addr(r))); !ok {
				w.Header().Set("Retry-After", retryAfterSeconds(wait))
				jsonError(w, http.StatusTooManyRequests, "too many failed sign-ins from your network: try again later")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="alertd"`)
			jsonError(w, http.StatusUnauthorized, "missing or wrong bearer token")
		})
	}
}

func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// handleListSubscribers streams the subscribers as a JSON array, so a list of
// a million costs no more memory than a list of ten.
func handleListSubscribers(subs *subscription.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status := alertd.SubscriberStatus(r.URL.Query().Get("status"))
		if status != "" && !status.Valid() {
			jsonError(w, http.StatusBadRequest, "status must be one of pending, confirmed, unsubscribed, bounced")
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		enc := json.NewEncoder(w)
		sep := []byte("[")
		err := subs.List(r.Context(), status, func(sub alertd.Subscriber) error {
			if _, err := w.Write(sep); err != nil {
				return err
			}
			sep = []byte(",")
			return enc.Encode(sub)
		})
		switch {
		case err != nil && sep[0] == '[':
			apiError(w, r, log, err, "the subscribers could not be read; try again")
			return
		case err != nil:
			// Headers are gone; all that is left is to cut the array short.
			logFailure(log, r, err)
			return
		case sep[0] == '[':
			w.Write(sep)
		}
		w.Write([]byte("]\n"))
	}
}

// emailParam is the {email} of the path, unescaped: chi matches the path as
// sent, so an address written "bob%40example.org" (as encodeURIComponent
// writes it) would otherwise be looked up with its escape.
func emailParam(r *http.Request) string {
	raw := chi.URLParam(r, "email")
	if email, err := url.PathUnescape(raw); err == nil {
		return email
	}
	return raw
}

func handleGetSubscriber(subs *subscription.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sub, err := subs.Lookup(r.Context(), emailParam(r))
		if err != nil {
			apiError(w, r, log, err, "lookup failed")
			return
		}
		writeJSON(w, http.StatusOK, sub)
	}
}

func handleEraseSubscriber(subs *subscription.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := subs.Erase(r.Context(), emailParam(r)); err != nil {
			apiError(w, r, log, err, "erase failed")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleStats(cat *catalogue.Service, nextDigest func() time.Time, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		stats, err := cat.Stats(r.Context())
		if err != nil {
			apiError(w, r, log, err, "stats unavailable")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"subscribers": stats.Subscribers,
			"messages":    stats.Messages,
			"last_digest": stats.LastDigest,
			"next_digest": nextDigest(),
		})
	}
}
