package bounce

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alertd/alertd"
)

// ParseSendGridKey reads the Signed Event Webhook's verification key as
// SendGrid shows it (base64 of the DER public key), or as PEM.
func ParseSendGridKey(s string) (*ecdsa.PublicKey, error) {
	der := []byte(nil)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		der = block.Bytes
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(s), ""))
		if err != nil {
			return nil, errors.New("must be the verification key SendGrid shows (base64) or a PEM public key")
		}
		der = b
	}
	key, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("not a public key: %v", err)
	}
	ecKey, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("must be an ECDSA public key, as SendGrid's Signed Event Webhook uses")
	}
	return ecKey, nil
}

// SendGrid checks SendGrid's Signed Event Webhook.
type SendGrid struct {
	key *ecdsa.PublicKey
	now func() time.Time
}

// NewSendGrid returns the checker for the verification key.
func NewSendGrid(key *ecdsa.PublicKey, now func() time.Time) SendGrid {
	return SendGrid{key: key, now: now}
}

// Verify checks the ECDSA signature (base64 ASN.1, from the
// X-Twilio-Email-Event-Webhook-Signature header) of the timestamp (the
// X-Twilio-Email-Event-Webhook-Timestamp header) followed by the raw body,
// and that the timestamp is fresh.
func (s SendGrid) Verify(signature, timestamp string, body []byte) error {
	sig, err := base64.StdEncoding.DecodeString(signature)
	if err != nil || signature == "" {
		return fmt.Errorf("%w: missing or unreadable SendGrid signature", ErrUnauthenticated)
	}
	digest := sha256.New()
	digest.Write([]byte(timestamp))
	digest.Write(body)
	if !ecdsa.VerifyASN1(s.key, digest.Sum(nil), sig) {
		return fmt.Errorf("%w: wrong SendGrid signature", ErrUnauthenticated)
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || !fresh(time.Unix(secs, 0), s.now()) {
		return fmt.Errorf("%w: SendGrid timestamp %q is not within %s of now", ErrUnauthenticated, timestamp, Freshness)
	}
	return nil
}

type sendGridEvent struct {
	Email     string `json:"email"`
	Timestamp int64  `json:"timestamp"`
	Event     string `json:"event"`
	Type      string `json:"type"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Response  string `json:"response"`
	EventID   string `json:"sg_event_id"`
	MessageID string `json:"sg_message_id"`
}

// sendGridDropped maps the reason SendGrid gives for dropping a message
// (it sent nothing because its own suppression list holds the address);
// other reasons are kept as unrecognised.
var sendGridDropped = map[string]alertd.BounceKind{
	"Bounced Address":        alertd.BounceHard,
	"Invalid":                alertd.BounceHard,
	"Spam Reporting Address": alertd.BounceComplaint,
	"Unsubscribed Address":   alertd.BounceUnsubscribe,
}

// ParseSendGrid reads a batch of SendGrid events: bounce (type "bounce")
// is hard, or policy for 5.7.x; bounce of type "blocked" is policy;
// deferred is soft; spamreport a complaint; unsubscribe and
// group_unsubscribe unsubscribes; dropped as sendGridDropped says. Other
// events (processed, delivered, open, click) give no bounce.
func ParseSendGrid(body []byte) ([]alertd.Bounce, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, fmt.Errorf("not a SendGrid event batch: %w", err)
	}
	var out []alertd.Bounce
	for i, raw := range raws {
		var e sendGridEvent
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("SendGrid event %d: %w", i, err)
		}
		status := statusIn(e.Status, e.Reason, e.Response)
		diagnostic := e.Reason
		if diagnostic == "" {
			diagnostic = e.Response
		}
		var kind alertd.BounceKind
		switch e.Event {
		case "bounce":
			kind = failureKind(status)
			if e.Type == "blocked" {
				kind = alertd.BouncePolicy
			}
		case "deferred":
			kind = alertd.BounceSoft
		case "spamreport":
			kind = alertd.BounceComplaint
		case "unsubscribe", "group_unsubscribe":
			kind = alertd.BounceUnsubscribe
		case "dropped":
			var ok bool
			if kind, ok = sendGridDropped[e.Reason]; !ok {
				kind = alertd.BounceUnrecognised
			}
		default:
			continue
		}
		if e.Email == "" {
			return nil, fmt.Errorf("SendGrid %s event %d has no email", e.Event, i)
		}
		id := e.EventID
		if id == "" {
			id = e.MessageID + ":" + string(kind)
		}
		out = append(out, alertd.Bounce{
			At: eventTime(time.Unix(e.Timestamp, 0)), Kind: kind, Source: alertd.SourceSendGrid,
			Email: e.Email, Status: status, Diagnostic: diagnostic,
			Evidence: cutEvidence(string(raw)), Key: eventKey(alertd.SourceSendGrid, id, e.Email),
		})
	}
	return out, nil
}
