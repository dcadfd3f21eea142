package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/admin"
	"github.com/alertd/alertd/internal/mail"
	"github.com/alertd/alertd/internal/subscription"
)

// MailRenderer renders the outbox's message kinds with the mail templates.
type MailRenderer struct {
	Composer *mail.Composer
	BaseURL  string
	// MaxReports caps the reports a digest lists; the rest are counted.
	MaxReports int
	// Subject renders digest.subject with the number of reports as .Count;
	// when it renders empty, each language's own subject is used.
	Subject *template.Template
	// Digests gives a digest's reports, newest first.
	Digests *DigestCache
	// UnsubscribeToken returns a subscriber's unsubscribe link token.
	UnsubscribeToken func(subscriberID int64) string
	// ReportsByID lists, newest first, the reports with the ids that are
	// still out, for a catch-up.
	ReportsByID func(ctx context.Context, ids []int64) ([]alertd.Report, error)
	// LatestReports lists the catalogue for the welcome mail.
	LatestReports func(ctx context.Context) ([]alertd.Report, error)
	Now           func() time.Time
	// ReturnPath, when set, gives each message its own envelope sender (a
	// VERP address naming the outbox message), so that a report mailed
	// back about it says which message and subscriber it is about. The
	// From header stays as it is. Nil: the envelope sender is the From
	// address.
	ReturnPath func(messageID int64) string
}

// Render builds the message for one outbox row; sub is its recipient, the
// zero Subscriber for a kind that goes to no subscriber.
func (r MailRenderer) Render(ctx context.Context, m alertd.Message, sub alertd.Subscriber) (mail.Message, error) {
	msg, err := r.render(ctx, m, sub)
	if err == nil && r.ReturnPath != nil {
		msg.From = "<" + r.ReturnPath(m.ID) + ">"
	}
	return msg, err
}

func (r MailRenderer) render(ctx context.Context, m alertd.Message, sub alertd.Subscriber) (mail.Message, error) {
	switch m.Kind {
	case alertd.KindConfirmation:
		var p subscription.ConfirmationPayload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			return mail.Message{}, fmt.Errorf("confirmation payload: %w", err)
		}
		return r.Composer.Confirmation(mail.Confirmation{
			To: sub.Email, ConfirmURL: r.BaseURL + "/confirm/" + p.Token, ExpiresAt: p.ExpiresAt, Lang: sub.Lang,
		}, r.Now())
	case alertd.KindAdminSignIn:
		var p admin.SignInPayload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			return mail.Message{}, fmt.Errorf("sign-in payload: %w", err)
		}
		return r.Composer.AdminSignIn(mail.AdminSignIn{
			To: p.Email, SignInURL: r.BaseURL + "/admin/login/" + p.Token, ExpiresAt: p.ExpiresAt,
		}, r.Now())
	case alertd.KindAdminTest:
		var p admin.TestPayload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			return mail.Message{}, fmt.Errorf("test mail payload: %w", err)
		}
		return r.Composer.AdminTest(p.Email, r.Now())
	case alertd.KindWelcome:
		reports, err := r.LatestReports(ctx)
		if err != nil {
			return mail.Message{}, fmt.Errorf("latest reports: %w", err)
		}
		return r.Composer.Welcome(mail.Welcome{
			To: sub.Email, UnsubscribeURL: r.unsubscribeURL(sub.ID), Reports: reports, Lang: sub.Lang,
		}, r.Now())
	case alertd.KindDigest:
		if m.Payload != "" {
			return r.personalDigest(ctx, m, sub)
		}
		prepared, err := r.Digests.Prepared(ctx, m.DigestID, sub.Topics, sub.Lang, r.prepareDigest)
		if err != nil {
			return mail.Message{}, err
		}
		return prepared.Message(sub.Email, r.unsubscribeURL(sub.ID), r.Now())
	case alertd.KindCatchUp:
		var p alertd.CopyPayload
		if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
			return mail.Message{}, fmt.Errorf("catch-up payload: %w", err)
		}
		reports, err := r.ReportsByID(ctx, p.Reports)
		if err != nil {
			return mail.Message{}, fmt.Errorf("catch-up reports: %w", err)
		}
		return r.copyOf(0, reports, sub)
	}
	return mail.Message{}, fmt.Errorf("unknown message kind %q", m.Kind)
}

// personalDigest renders the copy of a digest for a reader who changed
// frequency: the digest without the reports their old series sent them.
// Such readers are few, so their copies are rendered one by one.
func (r MailRenderer) personalDigest(ctx context.Context, m alertd.Message, sub alertd.Subscriber) (mail.Message, error) {
	var p alertd.CopyPayload
	if err := json.Unmarshal([]byte(m.Payload), &p); err != nil {
		return mail.Message{}, fmt.Errorf("digest copy payload: %w", err)
	}
	reports, err := r.Digests.Reports(ctx, m.DigestID)
	if err != nil {
		return mail.Message{}, err
	}
	reports = slices.DeleteFunc(slices.Clone(reports), func(rep alertd.Report) bool { return slices.Contains(p.LeaveOut, rep.ID) })
	return r.copyOf(m.DigestID, reports, sub)
}

// copyOf renders, for one reader, a digest of reports: those of digest
// digestID, or of no digest (0) for a catch-up.
func (r MailRenderer) copyOf(digestID int64, reports []alertd.Report, sub alertd.Subscriber) (mail.Message, error) {
	prepared, err := r.prepareDigest(digestID, reports, sub.Topics, sub.Lang)
	if err != nil {
		return mail.Message{}, err
	}
	return prepared.Message(sub.Email, r.unsubscribeURL(sub.ID), r.Now())
}

// ErrNothingToSend means the digest holds no report for the subscriber's
// topics any more (they changed their choice after it was compiled).
var ErrNothingToSend = errors.New("no report in this digest matches the subscriber's topics")

func (r MailRenderer) prepareDigest(digestID int64, reports []alertd.Report, topics []string, lang string) (*mail.PreparedDigest, error) {
	d, err := r.DigestFor(reports, topics)
	if err != nil {
		return nil, err
	}
	if len(d.Reports) == 0 {
		return nil, ErrNothingToSend
	}
	d.ID, d.Lang = digestID, lang
	return r.Composer.PrepareDigest(d)
}

// DigestFor picks, from a digest's reports, what a subscriber with the chosen
// topics is sent: the matching reports, the newest MaxReports of them listed
// and the rest counted, under the rendered digest.subject.
func (r MailRenderer) DigestFor(reports []alertd.Report, topics []string) (mail.Digest, error) {
	reports = alertd.ReportsFor(reports, topics)
	var subject strings.Builder
	if err := r.Subject.Execute(&subject, struct{ Count int }{len(reports)}); err != nil {
		return mail.Digest{}, fmt.Errorf("digest.subject: %w", err)
	}
	d := mail.Digest{Subject: subject.String(), Reports: reports}
	if len(reports) > r.MaxReports {
		d.Reports, d.More = reports[:r.MaxReports], len(reports)-r.MaxReports
	}
	return d, nil
}

// PreviewDigest renders, as the real mail would be, the subject and the
// text and HTML parts a subscriber with the chosen topics would get of a
// digest of reports, addressed to a placeholder reader with an unsubscribe
// link that works for nobody. ErrNothingToSend when no report matches.
func (r MailRenderer) PreviewDigest(reports []alertd.Report, topics []string) (subject, text, html string, err error) {
	d, err := r.DigestFor(reports, topics)
	if err != nil {
		return "", "", "", err
	}
	if len(d.Reports) == 0 {
		return "", "", "", ErrNothingToSend
	}
	d.To = "subscriber@example.org"
	d.UnsubscribeURL = r.BaseURL + "/unsubscribe/PREVIEW"
	return r.Composer.PreviewDigest(d)
}

func (r MailRenderer) unsubscribeURL(subscriberID int64) string {
	return r.BaseURL + "/unsubscribe/" + r.UnsubscribeToken(subscriberID)
}
