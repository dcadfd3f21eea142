package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/subscription"
)

// statusCount is one row of the overview's subscriber table.
type statusCount struct {
	Status alertd.SubscriberStatus
	Count  int
}

// rateDays is the window of the delivery rates, the one the providers
// judge a sender by.
const rateDays = 30

// deliveryView is the overview's delivery health over rateDays.
type deliveryView struct {
	Days            int
	Sent, Failed    int
	Attempted       int
	BounceRate      string // "" when nothing was attempted
	BounceAboveWarn bool   // at or above the providers' review level
	// Reported counts the hard bounces reported after the relay took the
	// message; they count in the bounce rate with the refusals.
	Reported int
	// Complaints are the complaints received, out of the messages sent.
	Complaints         int
	ComplaintRate      string // "" when nothing was sent
	ComplaintAboveWarn bool   // at or above the providers' limit
}

type overviewView struct {
	Subscribers []statusCount
	LastDigest  *alertd.Digest
	NextDigest  time.Time
	Chart       chartView
	Delivery    deliveryView
}

func handleAdminOverview(p *pages, cat *catalogue.Service, subs *subscription.Service, bounces *bounce.Service, nextDigest func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		stats, err := cat.Stats(ctx)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		days, err := subs.Activity(ctx, chartDays)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		sent, failed, err := cat.Deliveries(ctx, rateDays)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		reported, err := bounces.Counts(ctx, rateDays)
		if err != nil {
			p.serverError(w, r, err)
			return
		}
		v := overviewView{
			LastDigest: stats.LastDigest, NextDigest: nextDigest(), Chart: newChart(days),
			Delivery: deliveryView{Days: rateDays, Sent: sent, Failed: failed, Attempted: sent + failed,
				Reported: reported[alertd.BounceHard], Complaints: reported[alertd.BounceComplaint]},
		}
		if n := v.Delivery.Attempted; n > 0 {
			bounced := failed + v.Delivery.Reported
			v.Delivery.BounceRate = fmt.Sprintf("%.2f %%", 100*float64(bounced)/float64(n))
			v.Delivery.BounceAboveWarn = bounced*100 >= bounceReviewPercent*n
		}
		if sent > 0 {
			c := v.Delivery.Complaints
			v.Delivery.ComplaintRate = fmt.Sprintf("%.2f %%", 100*float64(c)/float64(sent))
			v.Delivery.ComplaintAboveWarn = c*1000 >= complaintLimitPerMille*sent
		}
		for _, s := range []alertd.SubscriberStatus{alertd.StatusConfirmed, alertd.StatusPending, alertd.StatusUnsubscribed, alertd.StatusBounced} {
			v.Subscribers = append(v.Subscribers, statusCount{s, stats.Subscribers[s]})
		}
		p.render(w, r, http.StatusOK, "admin/overview", v)
	}
}

// bounceReviewPercent is the bounce rate at which Amazon SES puts a
// sender under review (it may pause one at 10 %).
const bounceReviewPercent = 5

// complaintLimitPerMille is the spam complaint rate, 0.3 %, that Gmail and
// Yahoo require bulk senders to stay below.
const complaintLimitPerMille = 3
