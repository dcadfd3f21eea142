package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

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
	_, err := s.UnsubscribeID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return ErrUnknownToken
	}
	return err
}

// UnsubscribeID ends the subscription of the subscriber with the id, as
// Unsubscribe does, and reports whether it changed anything: a subscriber
// already unsubscribed or bounced stays as they are. ErrNotFound when there
// is no such subscriber.
func (s *Service) UnsubscribeID(ctx context.Context, id int64) (changed bool, err error) {
	now := s.now()
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.SubscriberByID(id); errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		changed, err = tx.Unsubscribe(id, now)
		return err
	})
	return changed, err
}

// SetTopics changes the topics of the subscriber an unsubscribe token names.
func (s *Service) SetTopics(ctx context.Context, token string, chosen []string) error {
	topics, err := s.checkTopics(chosen)
	if err != nil {
		return err
	}
	return s.change(ctx, token, func(tx *store.Tx, id int64) error { return tx.SetTopics(id, topics) })
}

// SetLang changes the language of the subscriber an unsubscribe token names.
func (s *Service) SetLang(ctx context.Context, token, lang string) error {
	if lang == "" {
		return fmt.Errorf("%w: none chosen", ErrUnknownLanguage)
	}
	lang, err := s.checkLang(lang)
	if err != nil {
		return err
	}
	return s.change(ctx, token, func(tx *store.Tx, id int64) error { return tx.SetLang(id, lang) })
}

// change applies a reader's change to the subscriber an unsubscribe token
// names, ErrUnknownToken when it names none (a forged token, or an erased
// subscriber's).
func (s *Service) change(ctx context.Context, token string, apply func(tx *store.Tx, id int64) error) error {
	id, ok := s.signer.Verify(token)
	if !ok {
		return ErrUnknownToken
	}
	return s.store.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.SubscriberByID(id); errors.Is(err, store.ErrNotFound) {
			return ErrUnknownToken
		} else if err != nil {
			return err
		}
		return apply(tx, id)
	})
}

// giveLangBatch is how many subscribers one transaction of GiveLang
// changes: an upgraded list of a million is changed in small writes, each
// soon committed, rather than in one that holds every changed page.
const giveLangBatch = 10_000

// GiveLang gives the first offered language to the subscribers who have
// none: those from before languages were kept. With none left, as at every
// start after the first, it costs one look at an empty index.
func (s *Service) GiveLang(ctx context.Context) error {
	for {
		var changed int64
		err := s.store.Write(ctx, func(tx *store.Tx) error {
			var err error
			changed, err = tx.GiveLang(s.rules.Languages[0], giveLangBatch)
			return err
		})
		if err != nil || changed < giveLangBatch {
			return err
		}
	}
}

// SetFrequency moves the subscriber an unsubscribe token names to the
// frequency chosen (an error wrapping alertd.ErrUnknownFrequency for one not
// configured). A confirmed reader misses no report by it and gets none
// twice: what their new series announced and their old one had still to
// send them is mailed at once, and what their old series sent them is left
// out of their new series' digests.
func (s *Service) SetFrequency(ctx context.Context, token, chosen string) error {
	id, ok := s.signer.Verify(token)
	if !ok {
		return ErrUnknownToken
	}
	frequency, err := alertd.ChooseFrequency(s.rules.Frequencies, chosen)
	if err != nil {
		return err
	}
	now := s.now()
	queued := false
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		queued = false
		sub, err := tx.SubscriberByID(id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrUnknownToken
		} else if err != nil || sub.Frequency == frequency {
			return err
		}
		pending, err := s.rules.Pending(tx, sub.Frequency, now)
		if err != nil {
			return err
		}
		owed, err := tx.SwitchFrequency(id, frequency, pending)
		if err != nil || len(owed) == 0 {
			return err
		}
		payload, err := json.Marshal(alertd.CopyPayload{Reports: owed})
		if err != nil {
			return err
		}
		_, err = tx.Enqueue(alertd.KindCatchUp, id, string(payload), now)
		queued = err == nil
		return err
	})
	if queued {
		s.queued()
	}
	return err
}
