package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// handleCreateReport stores a report: 201 when new, 200 with the stored
// report when its guid was known (idempotent), 400 for invalid input.
func handleCreateReport(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in catalogue.Input
		if err := decodeJSON(r, &in); err != nil {
			if isTooLarge(err) {
				jsonError(w, http.StatusRequestEntityTooLarge, "the request body is over 64 KiB")
				return
			}
			// A report that is well-formed JSON but wrong in a field is
			// not "invalid JSON": say only what is wrong with the field.
			if alertd.ErrorCode(err) == alertd.Invalid {
				jsonError(w, http.StatusBadRequest, err.Error())
				return
			}
			jsonError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
		rep, created, err := cat.Add(r.Context(), in, false)
		switch {
		case err != nil:
			apiError(w, r, log, err, "the report could not be stored; try again")
		case created:
			writeJSON(w, http.StatusCreated, rep)
		default:
			writeJSON(w, http.StatusOK, rep)
		}
	}
}

// handleRetractReport takes a report back: 200 with the report, its
// retracted_at set; the same again is harmless. 404 when there is none.
func handleRetractReport(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err != nil || id < 1 {
			jsonError(w, http.StatusBadRequest, "a report id is a positive whole number")
			return
		}
		rep, _, err := cat.Retract(r.Context(), id)
		if err != nil {
			apiError(w, r, log, err, "the report could not be retracted; try again")
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}
}

// maxListLimit bounds one page of a list in the API.
const maxListLimit = 500

// listLimit reads a list request's ?limit=, def when absent; a bad one is
// answered 400 and ok is false.
func listLimit(w http.ResponseWriter, r *http.Request, def int) (limit int, ok bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxListLimit {
		jsonError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 500")
		return 0, false
	}
	return n, true
}

// handleApproveReport releases a held report: 200 with the report, its
// held_at cleared; approving a report not held is harmless. 404 when there
// is none.
func handleApproveReport(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err != nil || id < 1 {
			jsonError(w, http.StatusBadRequest, "a report id is a positive whole number")
			return
		}
		rep, _, err := cat.Approve(r.Context(), id)
		if err != nil {
			apiError(w, r, log, err, "the report could not be approved; try again")
			return
		}
		writeJSON(w, http.StatusOK, rep)
	}
}

// handleListReports lists the reports readers see, or with ?status=held
// the review queue.
func handleListReports(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		list := cat.All
		switch r.URL.Query().Get("status") {
		case "":
		case "held":
			list = cat.Held
		default:
			jsonError(w, http.StatusBadRequest, "status must be held (the review queue), or absent")
			return
		}
		limit, ok := listLimit(w, r, 50)
		if !ok {
			return
		}
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			jsonError(w, http.StatusBadRequest, "before must be the id of a report")
			return
		}
		reports, err := list(r.Context(), limit, before)
		if err != nil {
			apiError(w, r, log, err, "the reports could not be read; try again")
			return
		}
		if reports == nil {
			writeJSON(w, http.StatusOK, []struct{}{})
			return
		}
		writeJSON(w, http.StatusOK, reports)
	}
}

// handleListSources answers the status of each configured feed source.
func handleListSources(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sources, err := cat.Sources(r.Context())
		if err != nil {
			apiError(w, r, log, err, "the sources could not be read; try again")
			return
		}
		writeJSON(w, http.StatusOK, sources)
	}
}

// handleCompileDigest compiles and enqueues the next digest now, of the
// frequency the optional body names ({"frequency": F}; none: the only one).
func handleCompileDigest(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Frequency string `json:"frequency"`
		}
		if err := decodeJSON(r, &in); err != nil && !errors.Is(err, io.EOF) {
			if isTooLarge(err) {
				jsonError(w, http.StatusRequestEntityTooLarge, "the request body is over 64 KiB")
				return
			}
			jsonError(w, http.StatusBadRequest, "invalid JSON: "+err.Error())
			return
		}
		d, created, err := cat.CompileDigest(r.Context(), in.Frequency)
		switch {
		case err != nil:
			apiError(w, r, log, err, "the digest could not be compiled; try again")
		case !created:
			writeJSON(w, http.StatusOK, map[string]string{"skipped": "no new reports"})
		default:
			writeJSON(w, http.StatusCreated, map[string]any{"id": d.ID, "reports": d.Reports, "recipients": d.Recipients})
		}
	}
}

func handleGetDigest(cat *catalogue.Service, log *slog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
		if err != nil || id < 1 {
			jsonError(w, http.StatusBadRequest, "a digest id is a positive whole number")
			return
		}
		d, err := cat.Digest(r.Context(), id)
		if err != nil {
			apiError(w, r, log, err, "the digest could not be read; try again")
			return
		}
		writeJSON(w, http.StatusOK, d)
	}
}
