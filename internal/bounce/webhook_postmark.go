package bounce

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/alertd/alertd"
)

// CheckPostmark checks a Postmark webhook request's credentials. Postmark
// signs nothing; its documented protection is HTTP Basic authentication
// written into the webhook URL (https://alertd:TOKEN@host/webhooks/postmark),
// so the token is the Basic password and the user name is not checked.
func CheckPostmark(r *http.Request, token string) error {
	_, password, ok := r.BasicAuth()
	if !ok || token == "" || subtle.ConstantTimeCompare([]byte(password), []byte(token)) != 1 {
		return ErrUnauthenticated
	}
	return nil
}

// postmarkKinds maps Postmark's bounce Type to a kind. A type that is not
// listed is kept as unrecognised; postmarkIgnored types are not recorded.
var postmarkKinds = map[string]alertd.BounceKind{
	"HardBounce":        alertd.BounceHard,
	"BadEmailAddress":   alertd.BounceHard,
	"SoftBounce":        alertd.BounceSoft,
	"Transient":         alertd.BounceSoft,
	"DnsError":          alertd.BounceSoft,
	"SpamNotification":  alertd.BouncePolicy,
	"VirusNotification": alertd.BouncePolicy,
	"Blocked":           alertd.BouncePolicy,
	"DMARCPolicy":       alertd.BouncePolicy,
	"SpamComplaint":     alertd.BounceComplaint,
	"Unsubscribe":       alertd.BounceUnsubscribe,
}

// postmarkIgnored are the automatic answers that say nothing about the
// address or the message: like any auto-reply, they are not recorded.
var postmarkIgnored = map[string]bool{
	"AutoResponder":         true,
	"AddressChange":         true,
	"ChallengeVerification": true,
	"Subscribe":             true,
}

type postmarkEvent struct {
	RecordType  string
	ID          json.Number
	Type        string
	MessageID   string
	Email       string
	Description string
	Details     string
	BouncedAt   time.Time
}

// ParsePostmark reads one Postmark Bounce or SpamComplaint webhook. Other
// record types (Delivery, Open, Click, SubscriptionChange) give no bounce.
func ParsePostmark(body []byte) ([]alertd.Bounce, error) {
	var e postmarkEvent
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("not a Postmark webhook: %w", err)
	}
	if e.RecordType != "Bounce" && e.RecordType != "SpamComplaint" {
		return nil, nil
	}
	if e.Email == "" {
		return nil, fmt.Errorf("Postmark %s has no Email", e.RecordType)
	}
	if postmarkIgnored[e.Type] {
		return nil, nil
	}
	kind, ok := postmarkKinds[e.Type]
	if e.RecordType == "SpamComplaint" {
		kind, ok = alertd.BounceComplaint, true
	}
	if !ok {
		kind = alertd.BounceUnrecognised
	}
	status := statusIn(e.Details, e.Description)
	if kind == alertd.BounceHard {
		kind = failureKind(status)
	}
	diagnostic := e.Details
	if diagnostic == "" {
		diagnostic = e.Description
	}
	id := e.ID.String()
	if _, err := strconv.ParseInt(id, 10, 64); err != nil || id == "0" {
		id = e.MessageID + ":" + string(kind)
	}
	return []alertd.Bounce{{
		At: eventTime(e.BouncedAt), Kind: kind, Source: alertd.SourcePostmark,
		Email: e.Email, Status: status, Diagnostic: diagnostic,
		Evidence: cutEvidence(string(body)), Key: eventKey(alertd.SourcePostmark, id, e.Email),
	}}, nil
}
