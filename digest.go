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
}
