package bounce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/metrics"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

// Rules are the operator's settings for bounces.
type Rules struct {
	// SoftLimit soft bounces within SoftWindow make a subscriber bounced.
	SoftLimit  int
	SoftWindow time.Duration
	// UnsubscribeMailto is the address of mail.unsubscribe_mailto (without
	// "mailto:"); mail to it unsubscribes its sender.
	UnsubscribeMailto string
	// Domain is bounce.domain, "" while alertd's mail has no VERP
	// envelope sender.
	Domain string
}

// Service keeps bounces and complaints and applies them to subscribers.
type Service struct {
	store   *store.Store
	rules   Rules
	signer  Signer
	now     func() time.Time
	metrics *metrics.Metrics
}

// NewService returns a Service; m may be nil when nothing is measured.
func NewService(st *store.Store, rules Rules, signer Signer, now func() time.Time, m *metrics.Metrics) *Service {
	return &Service{store: st, rules: rules, signer: signer, now: now, metrics: m}
}

// Record keeps a bounce and applies its rule, both in one write
// transaction, which the store commits together with the concurrent writes
// (other reports, the delivery engine's), a failing one rolling back only
// its own; Record returns once it is committed. applied is false when a
// bounce with its key was kept already, which then changes nothing, so the
// same report heard twice counts once, also when both are in one commit.
//
// How it is matched: b.MessageID, when not 0, must come from a verified
// reference (a VERP address or Signer.Verify); the message then names the
// subscriber and the digest, whatever address the report gives. Without
// one, a provider webhook's event (whose request was authenticated) and an
// unsubscribe request are matched to the subscriber with the address they
// name. But a provider account may carry other applications' mail too:
// with VERP on (Rules.Domain), an event whose b.ReturnPath is alertd's
// signed envelope sender is matched by its message, and one with any other
// is about someone else's mail and counts against nobody. A report by
// mail without a verified reference is about a message alertd cannot be
// shown to have sent, and counts against nobody.
//
// The rules: hard makes the subscriber bounced at once; soft does when it
// makes SoftLimit messages that soft-bounced within SoftWindow; policy is
// kept against the send and leaves the address alone; complaint
// unsubscribes a confirmed subscriber and puts the address on the
// suppression list, so only a fresh double opt-in brings it back (an
// import skips it); unsubscribe unsubscribes a confirmed subscriber;
// unrecognised is only kept.
func (s *Service) Record(ctx context.Context, b alertd.Bounce) (applied bool, err error) {
	applied, _, err = s.record(ctx, b)
	return applied, err
}

// record is Record that also says whether the bounce was matched to a
// subscriber.
func (s *Service) record(ctx context.Context, b alertd.Bounce) (applied, matched bool, err error) {
	if b.At.IsZero() {
		b.At = s.now()
	}
	b.At = b.At.UTC()
	b.Evidence = cutEvidence(b.Evidence)
	b.Diagnostic = cutText(b.Diagnostic, MaxDiagnostic)
	if b.Key == "" {
		b.Key = evidenceKey(string(b.Source), b.Email, string(b.Kind), b.Status, b.Evidence)
	}
	byAddress := b.Kind == alertd.BounceUnsubscribe || isWebhook(b.Source)
	if b.MessageID == 0 && isWebhook(b.Source) && b.ReturnPath != "" && s.rules.Domain != "" {
		b.MessageID, _ = s.signer.AddressMessage(b.ReturnPath) // 0: not alertd's
		byAddress = false
	}
	// A message's recipient and digest never change, so they are read
	// before the write transaction: every statement in it holds up the
	// writes of everyone else (the delivery engine's, the other reports').
	var subscriberID int64
	b.DigestID = 0
	if b.MessageID != 0 {
		err = s.store.Read(ctx, func(tx *store.Tx) error {
			var err error
			subscriberID, b.DigestID, err = tx.MessageRecipient(b.MessageID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return false, false, err
		}
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		// The store may run this twice (a batch that failed runs again
		// write by write): each run sets the results afresh.
		b.SubscriberID, applied, matched = 0, false, false
		var (
			sub alertd.Subscriber
			err error
		)
		if subscriberID != 0 {
			if sub, err = tx.SubscriberByID(subscriberID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		} else if b.MessageID == 0 && byAddress && b.Email != "" {
			if sub, err = tx.SubscriberByKey(subscription.AddressKey(b.Email)); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		b.SubscriberID = sub.ID
		matched = sub.ID != 0
		kept := b
		kept.Email = cutText(b.Email, MaxDiagnostic) // cut once matched, so a cut address matches nobody else
		var inserted bool
		if _, inserted, err = tx.InsertBounce(kept); err != nil || !inserted {
			return err
		}
		applied = true
		if sub.ID == 0 {
			return nil
		}
		return s.apply(tx, b, sub)
	})
	if err != nil {
		return false, false, err
	}
	if applied && s.metrics != nil {
		s.metrics.Bounces.WithLabelValues(string(b.Kind), string(b.Source)).Inc()
	}
	return applied, matched, nil
}

// apply changes the matched subscriber as the bounce's kind says.
func (s *Service) apply(tx *store.Tx, b alertd.Bounce, sub alertd.Subscriber) error {
	switch b.Kind {
	case alertd.BounceHard:
		_, err := tx.MarkBounced(sub.ID, b.At)
		return err
	case alertd.BounceSoft:
		n, err := tx.CountBounces(sub.ID, alertd.BounceSoft, b.At.Add(-s.rules.SoftWindow))
		if err != nil || n < s.rules.SoftLimit {
			return err
		}
		_, err = tx.MarkBounced(sub.ID, b.At)
		return err
	case alertd.BounceComplaint:
		if err := unsubscribeConfirmed(tx, sub, b.At); err != nil {
			return err
		}
		return tx.Suppress(subscription.SuppressionHash(sub.Email), "complaint", b.At)
	case alertd.BounceUnsubscribe:
		return unsubscribeConfirmed(tx, sub, b.At)
	}
	// policy counts against the send (kept with its digest), unrecognised
	// against nobody.
	return nil
}

// unsubscribeConfirmed unsubscribes a confirmed subscriber. A pending
// sign-up stays pending: its owner never subscribed (a complaint about a
// confirmation mail is someone who did not ask for it), and it expires
// unless confirmed.
func unsubscribeConfirmed(tx *store.Tx, sub alertd.Subscriber, at time.Time) error {
	if sub.Status != alertd.StatusConfirmed {
		return nil
	}
	_, err := tx.Unsubscribe(sub.ID, at)
	return err
}

// Bounces returns up to limit kept bounces with an id above since, in id
// order.
func (s *Service) Bounces(ctx context.Context, since int64, limit int) ([]alertd.Bounce, error) {
	return s.store.Bounces(ctx, since, limit)
}

func isWebhook(source alertd.BounceSource) bool {
	switch source {
	case alertd.SourceSES, alertd.SourcePostmark, alertd.SourceMailgun, alertd.SourceSendGrid:
		return true
	}
	return false
}

// MaxDiagnostic bounds a kept bounce's diagnostic text and address: an
// MTA's diagnostic is a line or a few and an address at most 254 bytes, but
// a hostile report can carry most of a mebibyte in either.
const MaxDiagnostic = 4 << 10

// cutEvidence cuts text to alertd.MaxEvidence bytes without splitting a
// character.
func cutEvidence(text string) string {
	return cutText(text, alertd.MaxEvidence)
}

// cutText cuts text to at most max bytes without splitting a character.
func cutText(text string, max int) string {
	if len(text) <= max {
		return text
	}
	n := max
	for n > 0 && !utf8.RuneStart(text[n]) {
		n--
	}
	return text[:n]
}

// evidenceKey is the key of a report that names no id of its own: a hash
// of what it says, so the same bytes heard twice give the same key.
func evidenceKey(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Counts returns how many bounces of each kind were kept over the last n
// UTC days, today the last of them, from the counts kept per day.
func (s *Service) Counts(ctx context.Context, n int) (map[alertd.BounceKind]int, error) {
	today := s.now().UTC()
	return s.store.BounceDays(ctx, today.AddDate(0, 0, -(n-1)), today)
}
