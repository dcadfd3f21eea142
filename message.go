package alertd

import "time"

// Message is one outgoing e-mail as the outbox holds it.
type Message struct {
	ID           int64
	Kind         MessageKind
	SubscriberID int64
	// DigestID is the digest a digest delivery belongs to; 0 for other mail.
	DigestID int64
	// Payload is what the message needs beyond the subscriber (a confirmation
	// link, say); it is cleared once the message is final.
	Payload  string
	Attempts int
	// Recipient is the subscriber as the claim found them, in the same
	// transaction that leased the message, a moment before the send: id,
	// address, status and topics only. Nil when the subscriber has been
	// erased.
	Recipient *Subscriber
}

// Outcome is what became of one claimed message.
type Outcome struct {
	ID int64
	// DigestID is the message's digest, whose counts a final outcome
	// moves; 0 for other mail.
	DigestID int64
	// Status is sent, failed, cancelled or queued (retry at RetryAt).
	Status  MessageStatus
	RetryAt time.Time
	Error   string
	// Bounced marks the subscriber bounced (a permanent bad-address reply).
	Bounced      bool
	SubscriberID int64
	// RetriesExhausted and Connection say why, for the metrics: a failure
	// after the last retry, and a retry caused by connection trouble.
	RetriesExhausted, Connection bool
}
