package bounce

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/alertd/alertd"
)

// maxMailgunTokens bounds the tokens remembered against replay: Mailgun
// sends far fewer signed requests than this within Freshness.
const maxMailgunTokens = 10000

// Mailgun checks Mailgun's webhook signatures and refuses replays: a token
// is remembered for as long as its timestamp is fresh, after which the
// timestamp check refuses it anyway.
type Mailgun struct {
	key []byte
	now func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // token → its timestamp
}

// NewMailgun returns the checker for the HTTP webhook signing key.
func NewMailgun(signingKey string, now func() time.Time) *Mailgun {
	return &Mailgun{key: []byte(signingKey), now: now, seen: map[string]time.Time{}}
}

type mailgunWebhook struct {
	Signature struct {
		Timestamp string `json:"timestamp"`
		Token     string `json:"token"`
		Signature string `json:"signature"`
	} `json:"signature"`
	EventData json.RawMessage `json:"event-data"`
}

// Verify checks body's signature, its timestamp's freshness and that its
// token was not used before, and returns the token, now remembered; a caller
// that fails to record the request gives it back with Forget, so Mailgun's
// retry is accepted. Every failed check is ErrUnauthenticated.
func (m *Mailgun) Verify(body []byte) (token string, err error) {
	var w mailgunWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return "", fmt.Errorf("%w: not a Mailgun webhook: %v", ErrUnauthenticated, err)
	}
	s := w.Signature
	mac := hmac.New(sha256.New, m.key)
	mac.Write([]byte(s.Timestamp + s.Token))
	got, err := hex.DecodeString(s.Signature)
	if err != nil || s.Token == "" || !hmac.Equal(got, mac.Sum(nil)) {
		return "", fmt.Errorf("%w: wrong Mailgun signature", ErrUnauthenticated)
	}
	secs, err := strconv.ParseInt(s.Timestamp, 10, 64)
	now := m.now()
	if err != nil || !fresh(time.Unix(secs, 0), now) {
		return "", fmt.Errorf("%w: Mailgun timestamp %q is not within %s of now", ErrUnauthenticated, s.Timestamp, Freshness)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, replayed := m.seen[s.Token]; replayed {
		return "", fmt.Errorf("%w: Mailgun token used before", ErrUnauthenticated)
	}
	if len(m.seen) >= maxMailgunTokens {
		for t, at := range m.seen {
			if !fresh(at, now) {
				delete(m.seen, t)
			}
		}
		if len(m.seen) >= maxMailgunTokens {
			return "", ErrTooBusy
		}
	}
	m.seen[s.Token] = time.Unix(secs, 0)
	return s.Token, nil
}

// Forget gives back a token Verify remembered.
func (m *Mailgun) Forget(token string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.seen, token)
}

type mailgunEvent struct {
	ID             string  `json:"id"`
	Event          string  `json:"event"`
	Timestamp      float64 `json:"timestamp"`
	Severity       string  `json:"severity"`
	Reason         string  `json:"reason"`
	Recipient      string  `json:"recipient"`
	DeliveryStatus struct {
		Code         json.Number `json:"code"`
		Message      string      `json:"message"`
		Description  string      `json:"description"`
		EnhancedCode string      `json:"enhanced-code"`
	} `json:"delivery-status"`
	Message struct {
		Headers struct {
			MessageID string `json:"message-id"`
		} `json:"headers"`
	} `json:"message"`
	Envelope struct {
		Sender string `json:"sender"`
	} `json:"envelope"`
}

// ParseMailgun reads a Mailgun webhook's event-data: a "failed" event is a
// hard (or, for 5.7.x, policy) bounce when permanent and a soft one when
// temporary; "complained" is a complaint; "unsubscribed" an unsubscribe.
// Other events give no bounce.
func ParseMailgun(body []byte) ([]alertd.Bounce, error) {
	var w mailgunWebhook
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, fmt.Errorf("not a Mailgun webhook: %w", err)
	}
	var e mailgunEvent
	if err := json.Unmarshal(w.EventData, &e); err != nil {
		return nil, fmt.Errorf("Mailgun event-data: %w", err)
	}
	ds := e.DeliveryStatus
	status := statusIn(ds.EnhancedCode, ds.Message, ds.Description)
	var kind alertd.BounceKind
	switch {
	case e.Event == "failed" && e.Severity == "permanent":
		kind = failureKind(status)
	case e.Event == "failed" && e.Severity == "temporary":
		kind = alertd.BounceSoft
	case e.Event == "failed":
		kind = alertd.BounceUnrecognised
	case e.Event == "complained":
		kind = alertd.BounceComplaint
	case e.Event == "unsubscribed":
		kind = alertd.BounceUnsubscribe
	default:
		return nil, nil
	}
	if e.Recipient == "" {
		return nil, fmt.Errorf("Mailgun %s event has no recipient", e.Event)
	}
	diagnostic := ds.Description
	if diagnostic == "" {
		diagnostic = ds.Message
	}
	if code := ds.Code.String(); code != "" && diagnostic != "" {
		diagnostic = code + " " + diagnostic
	}
	id := e.ID
	if id == "" {
		id = e.Message.Headers.MessageID + ":" + string(kind)
	}
	at := time.Time{}
	if e.Timestamp > 0 && e.Timestamp < math.MaxInt32*4 {
		sec, frac := math.Modf(e.Timestamp)
		at = eventTime(time.Unix(int64(sec), int64(frac*1e9)))
	}
	return []alertd.Bounce{{
		At: at, Kind: kind, Source: alertd.SourceMailgun,
		Email: e.Recipient, Status: status, Diagnostic: diagnostic,
		Evidence: cutEvidence(string(w.EventData)), Key: eventKey(alertd.SourceMailgun, id, e.Recipient),
		ReturnPath: e.Envelope.Sender,
	}}, nil
}
