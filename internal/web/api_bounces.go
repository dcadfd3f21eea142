package web

import (
	"log/slog"
	"net/http"

	"github.com/alertd/alertd/internal/bounce"
)

// handleListBounces answers the kept bounces and complaints, oldest first,
// a page at a time: since is the last id the reader has seen.
func handleListBounces(bounces *bounce.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit, ok := listLimit(w, r, 100)
		if !ok {
			return
		}
		since, err := parseCursor(r.URL.Query().Get("since"))
		if err != nil {
			jsonError(w, http.StatusBadRequest, "since must be the id of a bounce (the last one seen), or absent")
			return
		}
		list, err := bounces.Bounces(r.Context(), since, limit)
		if err != nil {
			apiError(w, r, log, err, "the bounces could not be read; try again")
			return
		}
		writeJSON(w, http.StatusOK, list)
	}
}
