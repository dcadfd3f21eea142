package subscription

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// Request is one sign-up, as it came from the form or the API.
type Request struct {
	Email  string
	Topics []string
	// Lang is the language chosen for pages and mails; empty = the first
	// offered.
	Lang string
	// Frequency is the id of the series chosen; "" for the first configured.
	Frequency string
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
// alertd.ErrUnknownTopic, ErrUnknownLanguage; code Invalid) and
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
	lang, err := s.checkLang(req.Lang)
	if err != nil {
		return err
	}
	frequency, err := s.checkFrequency(req.Frequency)
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
		id, send, err := s.recordSignup(tx, email, topics, lang, frequency, consent, link)
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
func (s *Service) recordSignup(tx *store.Tx, email string, topics []string, lang, frequency string, consent alertd.Consent, link store.Confirmation) (id int64, send bool, err error) {
	now := consent.SignupAt
	key := AddressKey(email)
	link.Sends = []time.Time{now}
	id, inserted, err := tx.InsertSubscriber(key, alertd.Subscriber{
		Email: email, Status: alertd.StatusPending, Topics: topics, Lang: lang, Frequency: frequency, CreatedAt: now, Consent: consent,
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
		if err := tx.RestartSignup(sub.ID, email, topics, frequency, consent); err != nil {
			return 0, false, err
		}
	case alertd.StatusPending:
		if now.Sub(sub.Consent.SignupAt) > s.rules.ConfirmTTL {
			if err := tx.RestartSignup(sub.ID, email, topics, frequency, consent); err != nil {
				return 0, false, err
			}
		}
	}
	// A sign-up not yet confirmed is in the language of its latest form, so
	// that the confirmation it is sent can be read.
	if err := tx.SetLang(sub.ID, lang); err != nil {
		return 0, false, err
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

// checkLang returns the language chosen, the first offered when none is,
// or ErrUnknownLanguage.
func (s *Service) checkLang(chosen string) (string, error) {
	switch {
	case chosen == "":
		return s.rules.Languages[0], nil
	case slices.Contains(s.rules.Languages, chosen):
		return chosen, nil
	}
	return "", fmt.Errorf("%w %q: choose one of %v", ErrUnknownLanguage, chosen, s.rules.Languages)
}

// checkFrequency returns the id of the frequency chosen: the first
// configured when chosen is empty (a form that offers no choice), or an
// error wrapping alertd.ErrUnknownFrequency.
func (s *Service) checkFrequency(chosen string) (string, error) {
	if chosen == "" {
		return s.rules.Frequencies[0].ID, nil
	}
	return alertd.ChooseFrequency(s.rules.Frequencies, chosen)
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
