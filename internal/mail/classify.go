package mail

import (
	"errors"
	"net/textproto"
	"strings"

	"github.com/alertd/alertd"
	gomail "github.com/wneessen/go-mail"
)

// Outcome is what a failed send means for the delivery: tried again later,
// failed for good, or failed with the subscriber bounced.
type Outcome int

const (
	// Temporary: try again later (SMTP 4xx, network trouble, timeouts,
	// an unreachable or misconfigured relay). The zero value, so that an
	// unclassified failure is retried rather than lost.
	Temporary Outcome = iota
	// Permanent: the relay refused this message for good (5xx); do not
	// retry it.
	Permanent
	// BadAddress: the recipient's mailbox does not exist or cannot exist
	// (5.1.x); the subscriber bounced.
	BadAddress
)

func (o Outcome) String() string {
	switch o {
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case BadAddress:
		return "bad address"
	}
	return "unknown"
}

// Classify says what a non-nil error from Conn.Send (or Transport.Dial)
// means for the delivery, following RFC 5321 and RFC 3463:
//
//   - 4xx replies, network errors, timeouts, dropped connections and any
//     failure to connect or log in to the relay: Temporary. (go-mail calls
//     network errors not temporary; for a delivery they are.)
//   - 5xx replies with an enhanced status 5.1.x about the recipient
//     (bad mailbox, bad domain, bad syntax), or a 550/551/553 to RCPT TO
//     from a relay without enhanced codes: BadAddress. ErrBadAddress too.
//   - other 5xx replies: Permanent.
func Classify(err error) Outcome {
	if errors.Is(err, ErrBadAddress) {
		return BadAddress
	}
	var connectErr *ConnectError
	if errors.As(err, &connectErr) {
		return Temporary
	}
	code, enhanced, atRcpt := reply(err)
	if code < 500 || code > 599 {
		return Temporary
	}
	if strings.HasPrefix(enhanced, "5.1.") {
		// 5.1.7 and 5.1.8 are about our own sender address, not the
		// recipient's.
		if enhanced == "5.1.7" || enhanced == "5.1.8" {
			return Permanent
		}
		return BadAddress
	}
	if enhanced == "" && atRcpt && (code == 550 || code == 551 || code == 553) {
		return BadAddress
	}
	return Permanent
}

// ConnectionTrouble reports whether a failed send means trouble with the
// connection or the relay itself (a 421 "closing", a network error, a failed
// connect or login) rather than with this one message: the sender should
// drop the connection and back off before it tries again.
func ConnectionTrouble(err error) bool {
	var connectErr *ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	code, _, _ := reply(err)
	return code == 0 || code == 421
}

// reply extracts the SMTP reply code and enhanced status code from err, and
// whether the reply answered RCPT TO. Code 0 means err holds no SMTP reply.
func reply(err error) (code int, enhanced string, atRcpt bool) {
	var sendErr *gomail.SendError
	if errors.As(err, &sendErr) {
		code = sendErr.ErrorCode()
		enhanced = sendErr.EnhancedStatusCode()
		atRcpt = sendErr.Reason == gomail.ErrSMTPRcptTo
		if code != 0 && enhanced == "" {
			// go-mail reports the enhanced code only when the relay
			// advertises ENHANCEDSTATUSCODES; many send one anyway.
			enhanced = alertd.EnhancedStatus(sendErr.Error())
		}
	} else {
		var protoErr *textproto.Error
		if !errors.As(err, &protoErr) {
			return 0, "", false
		}
		code = protoErr.Code
		enhanced = alertd.EnhancedStatus(protoErr.Msg)
		var rcptErr *RcptError
		atRcpt = errors.As(err, &rcptErr)
	}
	// An enhanced code of another class than the reply is not to be
	// trusted (RFC 3463 §2: the classes must agree).
	if enhanced != "" && enhanced[0] != byte('0'+code/100) {
		enhanced = ""
	}
	return code, enhanced, atRcpt
}
