package subscription

import (
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// ConfirmRequest is the click on a confirmation link's button.
type ConfirmRequest struct {
	Token         string
	IP, UserAgent string
}

// Confirm confirms the subscription a token was mailed for and queues the
// welcome e-mail. Confirming twice is harmless.
func (s *Service) Confirm(ctx context.Context, req ConfirmRequest) (alertd.Subscriber, error) {
	now := s.now()
	var (
		sub    alertd.Subscriber
		queued bool
	)
	err := s.store.Write(ctx, func(tx *store.Tx) error {
		queued = false
		id, secret, ok := ParseConfirmationToken(req.Token)
		if !ok {
			return ErrTokenExpired
		}
		link, err := tx.Confirmation(id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !linkValid(link, secret, now)) {
			return ErrTokenExpired
		}
		if err != nil {
			return err
		}
		if sub, err = tx.SubscriberByID(id); err != nil {
			return err
		}
		switch sub.Status {
		case alertd.StatusConfirmed:
			return nil
		case alertd.StatusPending:
		default:
			return ErrTokenExpired
		}
		if err := tx.Confirm(id, now, req.IP, req.UserAgent); err != nil {
			return err
		}
		if err := tx.Unsuppress(SuppressionHash(sub.Email)); err != nil {
			return err
		}
		if s.rules.Welcome {
			if _, err := tx.Enqueue(alertd.KindWelcome, id, "", now); err != nil {
				return err
			}
			queued = true
		}
		sub, err = tx.SubscriberByID(id)
		return err
	})
	if err != nil {
		return alertd.Subscriber{}, err
	}
	if queued {
		s.queued()
	}
	return sub, nil
}

// CheckConfirmation reports whether a confirmation token would still work,
// without changing anything (GET pages must not change state).
func (s *Service) CheckConfirmation(ctx context.Context, token string) error {
	id, secret, ok := ParseConfirmationToken(token)
	if !ok {
		return ErrTokenExpired
	}
	return s.store.Read(ctx, func(tx *store.Tx) error {
		link, err := tx.Confirmation(id)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !linkValid(link, secret, s.now())) {
			return ErrTokenExpired
		}
		if err != nil {
			return err
		}
		sub, err := tx.SubscriberByID(id)
		if err != nil {
			return err
		}
		if sub.Status != alertd.StatusPending && sub.Status != alertd.StatusConfirmed {
			return ErrTokenExpired
		}
		return nil
	})
}

// linkValid reports whether secret is the live link's, in constant time,
// and the link has not expired.
func linkValid(link store.Confirmation, secret string, now time.Time) bool {
	match := subtle.ConstantTimeCompare([]byte(HashConfirmationToken(secret)), []byte(link.Hash)) == 1
	return match && link.Hash != "" && now.Before(link.ExpiresAt)
}
