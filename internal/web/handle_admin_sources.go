package web

import (
	"net/http"

	"github.com/alertd/alertd/internal/catalogue"
)

func handleAdminSources(p *pages, cat *catalogue.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sources, err := cat.Sources(r.Context())
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, "admin/sources", sources)
	}
}
