// Package bounce hears what the mail world answers after the relay said
// yes: delivery status notifications, feedback (complaint) reports,
// provider webhooks and unsubscribe requests by mail. It reads them,
// matches them to the message they are about by the signed reference in
// the envelope sender, and applies them to the subscribers.
package bounce

import "net/textproto"

// ReportType is what kind of mail a report is.
type ReportType string

const (
	// TypeDSN is a delivery status notification (RFC 3464).
	TypeDSN ReportType = "dsn"
	// TypeFeedback is a feedback report (RFC 5965 ARF).
	TypeFeedback ReportType = "feedback"
	// TypeAutoReply is an automatic reply that is neither of the above:
	// a vacation notice, an "I have moved" message and the like.
	TypeAutoReply ReportType = "auto-reply"
	// TypeOther is mail that is none of the above, such as an
	// unsubscribe request written by a person or a mail client.
	TypeOther ReportType = "other"
)

// Report is what one mail says, as Read makes it out.
type Report struct {
	Type ReportType
	// Recipients are a DSN's per-recipient parts, in order.
	Recipients []Recipient
	// FeedbackType is a feedback report's Feedback-Type, lower case
	// ("abuse", "fraud", "not-spam", ...).
	FeedbackType string
	// Header is the header of the mail itself.
	Header textproto.MIMEHeader
	// Original is the header of the message the report is about, when it
	// quotes it (message/rfc822 or text/rfc822-headers); nil when not.
	Original textproto.MIMEHeader
	// Evidence is the machine-readable part (message/delivery-status or
	// message/feedback-report), cut to alertd.MaxEvidence bytes.
	Evidence string
}

// Recipient is one recipient's part of a DSN.
type Recipient struct {
	// Final is the Final-Recipient address, Original the
	// Original-Recipient when the DSN gives one; both without the
	// "rfc822;" type.
	Final, Original string
	// Action is "failed", "delayed", "delivered", "relayed" or "expanded".
	Action string
	// Status is the enhanced status code, e.g. "5.1.1".
	Status string
	// Diagnostic is the Diagnostic-Code's text, without its type.
	Diagnostic string
}
