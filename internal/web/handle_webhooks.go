package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/bounce"
)

// maxWebhookBody bounds a webhook request: SES and SendGrid post batches.
const maxWebhookBody = 1 << 20

// BounceRecorder keeps one bounce or complaint and applies it; applied is
// false when the same report (by Key) was kept before.
type BounceRecorder interface {
	Record(ctx context.Context, b alertd.Bounce) (applied bool, err error)
}

// Webhooks are the providers' bounce webhooks; a provider left nil (or an
// empty Postmark token) has no route.
type Webhooks struct {
	Recorder      BounceRecorder
	PostmarkToken string
	Mailgun       *bounce.Mailgun
	SendGrid      *bounce.SendGrid
	SES           *bounce.SNS
}

// webhookRoutes are the provider webhooks' patterns, which the cross-origin
// protection lets through: providers post server to server, and each
// request carries its own proof.
var webhookPatterns = []string{"POST /webhooks/ses", "POST /webhooks/postmark", "POST /webhooks/mailgun", "POST /webhooks/sendgrid"}

// webhookRoutes adds a route for each configured provider.
func webhookRoutes(r chi.Router, wh Webhooks, now func() time.Time, log *slog.Logger) {
	if wh.Recorder == nil {
		return
	}
	if wh.PostmarkToken != "" {
		r.Post("/webhooks/postmark", handleWebhook(wh.Recorder, now, log, func(r *http.Request, body []byte) ([]alertd.Bounce, func(), error) {
			if err := bounce.CheckPostmark(r, wh.PostmarkToken); err != nil {
				return nil, nil, err
			}
			b, err := bounce.ParsePostmark(body)
			return b, nil, err
		}))
	}
	if wh.Mailgun != nil {
		r.Post("/webhooks/mailgun", handleWebhook(wh.Recorder, now, log, func(r *http.Request, body []byte) ([]alertd.Bounce, func(), error) {
			token, err := wh.Mailgun.Verify(body)
			if err != nil {
				return nil, nil, err
			}
			b, err := bounce.ParseMailgun(body)
			return b, func() { wh.Mailgun.Forget(token) }, err
		}))
	}
	if wh.SendGrid != nil {
		r.Post("/webhooks/sendgrid", handleWebhook(wh.Recorder, now, log, func(r *http.Request, body []byte) ([]alertd.Bounce, func(), error) {
			err := wh.SendGrid.Verify(r.Header.Get("X-Twilio-Email-Event-Webhook-Signature"), r.Header.Get("X-Twilio-Email-Event-Webhook-Timestamp"), body)
			if err != nil {
				return nil, nil, err
			}
			b, err := bounce.ParseSendGrid(body)
			return b, nil, err
		}))
	}
	if wh.SES != nil {
		r.Post("/webhooks/ses", handleWebhook(wh.Recorder, now, log, func(r *http.Request, body []byte) ([]alertd.Bounce, func(), error) {
			env, err := wh.SES.Verify(r.Context(), body)
			if err != nil {
				return nil, nil, err
			}
			switch env.Type {
			case "SubscriptionConfirmation":
				if err := wh.SES.Confirm(r.Context(), env); err != nil {
					return nil, nil, fmt.Errorf("%w: %v", errConfirm, err)
				}
				log.Info("confirmed the SNS subscription", "topic", env.TopicArn)
				return nil, nil, nil
			case "Notification":
				b, err := bounce.ParseSES(env.Message)
				return b, nil, err
			}
			log.Info("SNS subscription ended", "topic", env.TopicArn, "type", env.Type)
			return nil, nil, nil
		}))
	}
}

// errConfirm is an SNS subscription that could not be confirmed; SNS sends
// the confirmation again.
var errConfirm = errors.New("could not confirm the SNS subscription")

// webhookCheck authenticates and parses a provider's request; undo, when
// not nil, gives back what the check took (a replay token) if recording
// fails, so the provider's retry is accepted.
type webhookCheck func(r *http.Request, body []byte) (bounces []alertd.Bounce, undo func(), err error)

// handleWebhook reads the body, has check authenticate and parse it, and
// records each bounce: 401 when the check fails (nothing recorded), 400
// when the payload cannot be read, 204 once all are recorded.
func handleWebhook(rec BounceRecorder, now func() time.Time, log *slog.Logger, check webhookCheck) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			if isTooLarge(err) {
				http.Error(w, "Request body too large: the limit is 1 MiB.", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "Could not read the request body.", http.StatusBadRequest)
			return
		}
		bounces, undo, err := check(r, body)
		switch {
		case errors.Is(err, bounce.ErrUnauthenticated):
			log.Warn("webhook refused", "path", r.URL.Path, "err", err)
			http.Error(w, "The request failed authentication.", http.StatusUnauthorized)
			return
		case errors.Is(err, errConfirm):
			log.Error("webhook", "path", r.URL.Path, "err", err)
			http.Error(w, "Could not confirm the subscription; please retry.", http.StatusBadGateway)
			return
		case errors.Is(err, bounce.ErrTooBusy):
			w.Header().Set("Retry-After", "60")
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		case err != nil:
			http.Error(w, "Unreadable webhook payload: "+err.Error(), http.StatusBadRequest)
			return
		}
		for _, b := range bounces {
			if b.At.IsZero() {
				b.At = now()
			}
			if _, err := rec.Record(r.Context(), b); err != nil {
				if undo != nil {
					undo()
				}
				log.Error("webhook: recording a bounce", "path", r.URL.Path, "key", b.Key, "err", err)
				http.Error(w, "The bounce could not be recorded; please retry.", http.StatusInternalServerError)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
