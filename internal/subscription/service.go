// Package subscription holds the double opt-in rules: which sign-up gets a
// confirmation e-mail and when, what confirming and unsubscribing change, and
// the tokens that prove a link was mailed to the address. It speaks neither
// HTTP nor SQL.
package subscription

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
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
	// ErrUnknownLanguage is a language that is not offered.
	ErrUnknownLanguage = alertd.Errorf(alertd.Invalid, "unknown language")
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
	// Languages are the language tags readers may choose, the first for
	// those who have not; empty = English alone.
	Languages []string
	// Frequencies are the configured series of digests, the first being
	// the one a sign-up that names none reads; none: the one weekly.
	Frequencies []alertd.Frequency
	// Pending is the catalogue's rule of what the next digest of a series
	// would announce, which a reader changing frequency is owed.
	Pending func(tx *store.Tx, frequency string, now time.Time) (store.DigestSelection, error)
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
	if len(rules.Languages) == 0 {
		rules.Languages = []string{"en"}
	}
	if len(rules.Frequencies) == 0 {
		rules.Frequencies = []alertd.Frequency{{ID: alertd.DefaultFrequency, Name: "Weekly"}}
	}
	return &Service{store: st, rules: rules, signer: signer, now: now, random: random, queued: queued}
}

// SuppressionHash is what the suppression list keeps of an address.
func SuppressionHash(email string) string {
	sum := sha256.Sum256([]byte(AddressKey(email)))
	return hex.EncodeToString(sum[:])
}
