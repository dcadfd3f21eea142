package web

import (
	"encoding/json"
	"log/slog"
	"mime"
	"net/http"

	"github.com/alertd/alertd"
)

// errorStatus is the HTTP status that answers err, by its code: 4xx for a
// mistake of the caller, 5xx for a failure of alertd.
func errorStatus(err error) int {
	switch alertd.ErrorCode(err) {
	case alertd.Invalid:
		return http.StatusBadRequest
	case alertd.NotFound:
		return http.StatusNotFound
	case alertd.Conflict:
		return http.StatusConflict
	case alertd.Unauthorized:
		return http.StatusUnauthorized
	case alertd.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// logFailure logs a request that alertd failed to answer, with the cause,
// which the answer itself never shows.
func logFailure(log *slog.Logger, r *http.Request, err error) {
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
}

// apiError answers an admin API request that err stopped: with err's
// message when the caller can act on it (4xx), else with failed, which says
// what did not happen, after logging the cause.
func apiError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, failed string) {
	status := errorStatus(err)
	if status < http.StatusInternalServerError {
		jsonError(w, status, err.Error())
		return
	}
	logFailure(log, r, err)
	jsonError(w, status, failed)
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// jsonError answers {"error": message}.
func jsonError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}

// wantsJSON reports whether the request body is JSON, so the answer is too.
func wantsJSON(r *http.Request) bool {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mediaType == "application/json"
}

// decodeJSON reads one JSON value into v, refusing unknown fields and
// trailing data.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errTrailingData
	}
	return nil
}

// parseForm reads an urlencoded or multipart form body.
func parseForm(r *http.Request) error {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType == "multipart/form-data" {
		return r.ParseMultipartForm(maxBody)
	}
	return r.ParseForm()
}

func tooManyRequests(w http.ResponseWriter, r *http.Request, p *pages) {
	if wantsJSON(r) {
		jsonError(w, http.StatusTooManyRequests, "Too many sign-up requests from your network. Please try again later.")
		return
	}
	p.message(w, r, http.StatusTooManyRequests, "error_too_many_title", "error_too_many")
}

func recoverPanics(p *pages) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					p.log.Error("panic in handler", "path", r.URL.Path, "panic", v)
					http.Error(w, "Internal error.", http.StatusInternalServerError)
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}
