package alertd

import "time"

// DigestStatus is where a digest's deliveries stand.
type DigestStatus string

const (
	// DigestSending: some copies are still to be sent, or retried.
	DigestSending DigestStatus = "sending"
	// DigestDone: every copy is sent, failed or cancelled (or there were
	// no recipients).
	DigestDone DigestStatus = "done"
)

// Digest is one compiled digest with its delivery counts.
type Digest struct {
	ID         int64        `json:"id"`
	CreatedAt  time.Time    `json:"created_at"`
	Status     DigestStatus `json:"status"`
	Reports    int          `json:"reports"`
	Recipients int          `json:"recipients"`
	Sent       int          `json:"sent"`
	Failed     int          `json:"failed"`
	Pending    int          `json:"pending"`
	// Cancelled counts recipients who left before their copy was sent.
	Cancelled int `json:"cancelled"`
	// Frequency is the id of the series the digest belongs to.
	Frequency string `json:"frequency"`
}

// DeliveryFailure is one copy of a digest that could not be delivered, with
// the relay's reply.
type DeliveryFailure struct {
	// MessageID is the outbox row's id; the list is in its order.
	MessageID int64 `json:"message_id"`
	// Email is the recipient's address; empty once they are erased.
	Email string    `json:"email"`
	Error string    `json:"error"`
	At    time.Time `json:"at"`
}

// TopicChoice is how many confirmed subscribers made one choice of topics
// (none: every report).
type TopicChoice struct {
	Topics      []string
	Subscribers int
}

// CopyPayload is what one reader's copy needs beyond the digest, for the
// few readers who changed frequency: LeaveOut, on a digest copy, names the
// reports their old series had sent them already; Reports, on a catch-up,
// the reports it brings.
type CopyPayload struct {
	LeaveOut []int64 `json:"leave_out,omitempty"`
	Reports  []int64 `json:"reports,omitempty"`
}
