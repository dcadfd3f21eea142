package web

import (
	"net/http"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
)

// statusCount is one row of the overview's subscriber table.
type statusCount struct {
	Status alertd.SubscriberStatus
	Count  int
}

type overviewView struct {
	Subscribers []statusCount
	LastDigest  *alertd.Digest
	NextDigest  time.Time
}

func handleAdminOverview(p *pages, cat *catalogue.Service, nextDigest func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		stats, err := cat.Stats(r.Context())
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v := overviewView{LastDigest: stats.LastDigest, NextDigest: nextDigest()}
		for _, s := range []alertd.SubscriberStatus{alertd.StatusConfirmed, alertd.StatusPending, alertd.StatusUnsubscribed, alertd.StatusBounced} {
			v.Subscribers = append(v.Subscribers, statusCount{s, stats.Subscribers[s]})
		}
		p.render(w, r, http.StatusOK, "admin/overview", v)
	}
}
