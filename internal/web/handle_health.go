package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// handleHealth answers 200 while the database answers, else 503. Anyone may
// ask, so why it does not answer goes to the log only.
func handleHealth(check func(context.Context) error, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Cache-Control", "no-store")
		if err := check(ctx); err != nil {
			logFailure(log, r, err)
			http.Error(w, "unavailable", errorStatus(err))
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	}
}
