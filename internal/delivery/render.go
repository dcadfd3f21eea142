package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// MailRenderer renders the outbox's message kinds with the mail templates.
type MailRenderer struct {
	Composer *mail.Composer
	BaseURL  string
	// UnsubscribeToken returns a subscriber's unsubscribe link token.
	UnsubscribeToken func(subscriberID int64) string
	// LatestReports lists the catalogue for the welcome mail.
	LatestReports func(ctx context.Context) ([]alertd.Report, error)
	Now           func() time.Time
}

// Render builds the message for one outbox row.
func (r MailRenderer) Render(ctx context.Context, m store.Message, sub alertd.Subscriber) (*gomail.Msg, error) {
	switch m.Kind {
	case subscription.KindConfirmation:
		var p subscription.ConfirmationPayload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			return nil, fmt.Errorf("confirmation payload: %w", err)
		}
		return r.Composer.Confirmation(mail.Confirmation{
			To: sub.Email, ConfirmURL: r.BaseURL + "/confirm/" + p.Token, ExpiresAt: p.ExpiresAt,
		}, r.Now())
	case subscription.KindWelcome:
		reports, err := r.LatestReports(ctx)
		if err != nil {
			return nil, fmt.Errorf("latest reports: %w", err)
		}
		return r.Composer.Welcome(mail.Welcome{
			To: sub.Email, UnsubscribeURL: r.unsubscribeURL(sub.ID), Reports: reports,
		}, r.Now())
	}
	return nil, fmt.Errorf("unknown message kind %q", m.Kind)
}

func (r MailRenderer) unsubscribeURL(subscriberID int64) string {
	return r.BaseURL + "/unsubscribe/" + r.UnsubscribeToken(subscriberID)
}
