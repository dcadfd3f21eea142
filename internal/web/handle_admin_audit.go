package web

import (
	"net/http"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
)

// auditPage is how many audit entries one page shows.
const auditPage = 50

type auditView struct {
	Entries []alertd.AuditEntry
	// Older is the ?before= of the next page; 0 on the last.
	Older int64
}

func handleAdminAudit(p *pages, svc *admin.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		before, err := parseCursor(r.URL.Query().Get("before"))
		if err != nil {
			p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", "before must be a positive whole number."})
			return
		}
		entries, err := svc.AuditLog(r.Context(), auditPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		var v auditView
		v.Entries, v.Older = page(entries, auditPage, func(e alertd.AuditEntry) int64 { return e.ID })
		p.render(w, r, http.StatusOK, "admin/audit", v)
	}
}
