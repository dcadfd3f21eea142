package web

import (
	"net/http"
	"strconv"

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
		var before int64
		if s := r.URL.Query().Get("before"); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil || n < 1 {
				p.render(w, r, http.StatusBadRequest, "admin/message", messageView{"Bad page", "before must be a positive whole number."})
				return
			}
			before = n
		}
		entries, err := svc.AuditLog(r.Context(), auditPage+1, before)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v := auditView{Entries: entries}
		if len(entries) > auditPage {
			v.Entries = entries[:auditPage]
			v.Older = v.Entries[auditPage-1].ID
		}
		p.render(w, r, http.StatusOK, "admin/audit", v)
	}
}
