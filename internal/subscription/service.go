// Package subscription holds the double opt-in rules: which sign-up gets a
// confirmation e-mail and when, what confirming and unsubscribing change, and
// the tokens that prove a link was mailed to the address. It speaks neither
// HTTP nor SQL.
package subscription

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

var (
	// ErrTokenExpired means a confirmation link is unknown, expired or no
	// longer applies; the reader should subscribe again.
	ErrTokenExpired = alertd.Errorf(alertd.NotFound, "this confirmation link has expired or is not valid")
	// ErrUnknownToken means an unsubscribe link names nobody on the list.
	ErrUnknownToken = alertd.Errorf(alertd.NotFound, "this unsubscribe link is not valid")
	// ErrNotFound means no subscriber has the address.
	ErrNotFound = alertd.Errorf(alertd.NotFound, "no subscriber with this address")
)

// Rules are the operator's settings for sign-ups.
type Rules struct {
	ConfirmTTL             time.Duration
	ResendCooldown         time.Duration
	MaxConfirmationsPerDay int
	PurgeUnconfirmedAfter  time.Duration
	Welcome                bool
	// ConsentVersion names the wording of the form the reader agreed to.
	ConsentVersion string
	Topics         []alertd.Topic
}

// Service applies the rules to the store.
type Service struct {
	store  *store.Store
	rules  Rules
	signer UnsubscribeSigner
	now    func() time.Time
	random io.Reader
	// queued is told when new mail is in the outbox.
	queued func()
}

// NewService returns a Service. now and random are the clock and the source
// of token bytes; queued is called after mail has been committed to the outbox.
func NewService(st *store.Store, rules Rules, signer UnsubscribeSigner, now func() time.Time, random io.Reader, queued func()) *Service {
	return &Service{store: st, rules: rules, signer: signer, now: now, random: random, queued: queued}
}

// Request is one sign-up, as it came from the form or the API.
type Request struct {
	Email  string
	Topics []string
	// The consent proof: where the request came from.
	IP, UserAgent, FormURL string
}

// ConfirmationPayload is what a queued confirmation e-mail needs beyond the
// subscriber. It holds the only copy of the token, and the outbox clears it
// once the message is final.
type ConfirmationPayload struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Subscribe records a sign-up and queues a confirmation when the rules allow
// one. Its only errors are bad input (ErrInvalidAddress,
// alertd.ErrUnknownTopic; code Invalid) and
// failures of the store: whatever state the address is in, the caller must
// answer the same way.
func (s *Service) Subscribe(ctx context.Context, req Request) error {
	email, err := ParseAddress(req.Email)
	if err != nil {
		return err
	}
	topics, err := s.checkTopics(req.Topics)
	if err != nil {
		return err
	}
	secret, hash, err := NewConfirmationToken(s.random)
	if err != nil {
		return fmt.Errorf("confirmation token: %w", err)
	}
	now := s.now()
	consent := alertd.Consent{
		SignupAt: now, SignupIP: req.IP, SignupUA: req.UserAgent,
		FormURL: req.FormURL, ConsentVersion: s.rules.ConsentVersion,
	}
	link := store.Confirmation{Hash: hash, ExpiresAt: now.Add(s.rules.ConfirmTTL)}
	var queued bool
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		queued = false
		id, send, err := s.recordSignup(tx, email, topics, consent, link)
		if err != nil || !send {
			return err
		}
		payload, err := json.Marshal(ConfirmationPayload{Token: ConfirmationLinkToken(id, secret), ExpiresAt: link.ExpiresAt})
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue(alertd.KindConfirmation, id, string(payload), now); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if queued {
		s.queued()
	}
	return nil
}

// recordSignup brings the subscriber row in line with a new sign-up and,
// when the rules allow a confirmation e-mail now, stores link as the live
// confirmation link and reports send.
func (s *Service) recordSignup(tx *store.Tx, email string, topics []string, consent alertd.Consent, link store.Confirmation) (id int64, send bool, err error) {
	now := consent.SignupAt
	key := AddressKey(email)
	link.Sends = []time.Time{now}
	id, inserted, err := tx.InsertSubscriber(key, alertd.Subscriber{
		Email: email, Status: alertd.StatusPending, Topics: topics, CreatedAt: now, Consent: consent,
	}, link)
	if err != nil || inserted {
		return id, inserted, err
	}
	sub, err := tx.SubscriberByKey(key)
	if err != nil {
		return 0, false, err
	}
	switch sub.Status {
	case alertd.StatusConfirmed, alertd.StatusBounced:
		// Never mail a confirmed address again, nor one that cannot receive.
		return sub.ID, false, nil
	case alertd.StatusUnsubscribed:
		if err := tx.RestartSignup(sub.ID, email, topics, consent); err != nil {
			return 0, false, err
		}
	case alertd.StatusPending:
		if now.Sub(sub.Consent.SignupAt) > s.rules.ConfirmTTL {
			if err := tx.RestartSignup(sub.ID, email, topics, consent); err != nil {
				return 0, false, err
			}
		}
	}
	previous, err := tx.Confirmation(sub.ID)
	if err != nil {
		return 0, false, err
	}
	var today []time.Time
	for _, sent := range previous.Sends {
		if now.Sub(sent) < 24*time.Hour {
			today = append(today, sent)
		}
	}
	if len(today) >= s.rules.MaxConfirmationsPerDay ||
		(len(today) > 0 && now.Sub(slices.MaxFunc(today, time.Time.Compare)) < s.rules.ResendCooldown) {
		return sub.ID, false, nil
	}
	link.Sends = append(today, now)
	return sub.ID, true, tx.SetConfirmation(sub.ID, link)
}

// checkTopics returns chosen without repeats, or an error wrapping
// alertd.ErrUnknownTopic.
func (s *Service) checkTopics(chosen []string) ([]string, error) {
	if err := alertd.CheckTopics(s.rules.Topics, chosen); err != nil {
		return nil, err
	}
	var topics []string
	for _, id := range chosen {
		if !slices.Contains(topics, id) {
			topics = append(topics, id)
		}
	}
	return topics, nil
}

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
		if err := tx.Unsuppress(suppressionHash(sub.Email)); err != nil {
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

// UnsubscribeToken returns the link token for a subscriber.
func (s *Service) UnsubscribeToken(subscriberID int64) string { return s.signer.Token(subscriberID) }

// Subscriber returns the subscriber an unsubscribe token names.
func (s *Service) Subscriber(ctx context.Context, token string) (alertd.Subscriber, error) {
	id, ok := s.signer.Verify(token)
	if !ok {
		return alertd.Subscriber{}, ErrUnknownToken
	}
	var sub alertd.Subscriber
	err := s.store.Read(ctx, func(tx *store.Tx) error {
		var err error
		sub, err = tx.SubscriberByID(id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return sub, ErrUnknownToken
	}
	return sub, err
}

// Unsubscribe ends the subscription an unsubscribe token names, at once, and
// cancels its queued mail. Unsubscribing twice is harmless.
func (s *Service) Unsubscribe(ctx context.Context, token string) error {
	id, ok := s.signer.Verify(token)
	if !ok {
		return ErrUnknownToken
	}
	now := s.now()
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.SubscriberByID(id); errors.Is(err, store.ErrNotFound) {
			return ErrUnknownToken
		} else if err != nil {
			return err
		}
		_, err := tx.Unsubscribe(id, now)
		return err
	})
}

// SetTopics changes the topics of the subscriber an unsubscribe token names.
func (s *Service) SetTopics(ctx context.Context, token string, chosen []string) error {
	id, ok := s.signer.Verify(token)
	if !ok {
		return ErrUnknownToken
	}
	topics, err := s.checkTopics(chosen)
	if err != nil {
		return err
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.SubscriberByID(id); errors.Is(err, store.ErrNotFound) {
			return ErrUnknownToken
		} else if err != nil {
			return err
		}
		return tx.SetTopics(id, topics)
	})
}

// suppressionHash is what the suppression list keeps of an address.
func suppressionHash(email string) string {
	sum := sha256.Sum256([]byte(AddressKey(email)))
	return hex.EncodeToString(sum[:])
}
