package bounce

import (
	"errors"
	"strings"
	"time"

	"github.com/alertd/alertd"
)

// ErrUnauthenticated is a webhook request that failed its provider's check:
// a wrong token or signature, a stale timestamp, a replayed token or an
// untrusted signer. It changes nothing.
var ErrUnauthenticated = errors.New("the request failed the provider's authentication")

// ErrTooBusy is a valid Mailgun request that cannot be checked for replay
// because too many tokens are remembered; the provider retries later.
var ErrTooBusy = errors.New("too many webhook requests at once; retry later")

// Freshness is how far a signed webhook timestamp may be from now, either
// way: old enough to allow for the provider's queueing, short enough that a
// captured request soon stops working.
const Freshness = 5 * time.Minute

// statusIn returns the first enhanced status code in texts, or "", for
// providers that give the code only inside a message.
func statusIn(texts ...string) string {
	for _, t := range texts {
		if s := alertd.EnhancedStatus(t); s != "" {
			return s
		}
	}
	return ""
}

// failureKind is the kind of a failure a provider calls permanent. With a
// status it is what that status means in a DSN, so a provider's
// "permanent" for a full mailbox (5.2.2) or for giving up on a temporary
// failure (4.x.x) is soft, and only 5.1.x and 5.2.1 are hard; without one
// the provider's word decides: hard.
func failureKind(status string) alertd.BounceKind {
	if status == "" {
		return alertd.BounceHard
	}
	if kind, ok := (Recipient{Action: "failed", Status: status}).Kind(); ok {
		return kind
	}
	return alertd.BounceUnrecognised // a 2.x.x "failure" says nothing
}

// eventKey is the dedupe key of one provider event about one recipient:
// the provider's event id when it has one, so a redelivery counts once.
func eventKey(source alertd.BounceSource, id, email string) string {
	return string(source) + ":" + id + ":" + strings.ToLower(email)
}

// eventTime is a provider's time of an event when it is a plausible one
// (2000 to 2199), and the zero time, for which the service's clock stands
// in, when not: a timestamp in the wrong unit or a default date is the
// provider's mistake, and kept as it is it would count a soft bounce in
// every window to come or fail to be written as JSON.
func eventTime(t time.Time) time.Time {
	if t.Year() < 2000 || t.Year() >= 2200 {
		return time.Time{}
	}
	return t.UTC()
}

// fresh reports whether at is within Freshness of now.
func fresh(at, now time.Time) bool {
	d := now.Sub(at)
	return d <= Freshness && d >= -Freshness
}
