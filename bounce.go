package alertd

import "time"

// BounceKind is what a report about a sent message says.
type BounceKind string

const (
	// BounceHard: the address does not exist or cannot exist (5.1.x,
	// 5.2.1); the subscriber is bounced at once.
	BounceHard BounceKind = "hard"
	// BounceSoft: a temporary failure or a delay (4.x.x, Action: delayed);
	// enough of them within a window make the subscriber bounced.
	BounceSoft BounceKind = "soft"
	// BouncePolicy: the message was refused for what it is (5.7.x,
	// "looks like spam"); it counts against the send, not the address.
	BouncePolicy BounceKind = "policy"
	// BounceComplaint: the reader marked the mail as spam (an ARF abuse
	// report or a provider's complaint event); the subscriber is
	// unsubscribed and suppressed.
	BounceComplaint BounceKind = "complaint"
	// BounceUnsubscribe: a mail to the List-Unsubscribe mailto address
	// that names a subscriber (RFC 2369).
	BounceUnsubscribe BounceKind = "unsubscribe"
	// BounceUnrecognised: a mail that could not be read as any of the
	// above; kept for review, it counts against nobody.
	BounceUnrecognised BounceKind = "unrecognised"
)

// BounceSource is where a bounce or complaint came from.
type BounceSource string

const (
	SourceSMTPReply BounceSource = "smtp"     // the relay's reply during the send
	SourceDSN       BounceSource = "dsn"      // a delivery status notification by mail
	SourceARF       BounceSource = "arf"      // a feedback report by mail
	SourceMail      BounceSource = "mail"     // other mail: auto-replies, unsubscribe requests, unreadable mail
	SourceSES       BounceSource = "ses"      // Amazon SES through SNS
	SourcePostmark  BounceSource = "postmark" // Postmark's webhook
	SourceMailgun   BounceSource = "mailgun"  // Mailgun's webhook
	SourceSendGrid  BounceSource = "sendgrid" // SendGrid's event webhook
)

// MaxEvidence bounds the machine-readable part kept with a bounce.
const MaxEvidence = 64 << 10

// Bounce is one bounce or complaint as it is kept for evidence.
type Bounce struct {
	ID     int64        `json:"id"`
	At     time.Time    `json:"at"`
	Kind   BounceKind   `json:"kind"`
	Source BounceSource `json:"source"`
	// MessageID, SubscriberID and DigestID are what the report was matched
	// to; 0 when it could not be matched.
	MessageID    int64 `json:"message_id"`
	SubscriberID int64 `json:"subscriber_id"`
	DigestID     int64 `json:"digest_id"`
	// Email is the recipient the report names, as it names it.
	Email string `json:"email"`
	// Status is the enhanced status code (RFC 3463), e.g. "5.1.1", when
	// the report gives one.
	Status     string `json:"status"`
	Diagnostic string `json:"diagnostic"`
	// Evidence is the report's machine-readable part (the DSN's
	// message/delivery-status, the ARF's message/feedback-report, the
	// webhook's JSON), at most MaxEvidence bytes.
	Evidence string `json:"evidence"`
	// Key identifies the report, so that the same report received twice
	// (by mailbox and webhook, or redelivered) is kept and counted once.
	Key string `json:"key"`
	// ReturnPath is the envelope sender of the message a provider's event
	// is about, when the provider gives it (SES's mail.source, Mailgun's
	// envelope.sender): what tells alertd's mail from other mail sent
	// through the same account. It is read, not kept.
	ReturnPath string `json:"-"`
}
