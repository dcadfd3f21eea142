package alertd

import "time"

// PollOutcome is how a poll of a feed source ended.
type PollOutcome string

const (
	// PollOK: the feed was read and its new items stored.
	PollOK PollOutcome = "ok"
	// PollError: the feed could not be fetched, was refused, or its items
	// could not be stored; nothing of it was taken.
	PollError PollOutcome = "error"
)

// SourceStatus is what the polls of one configured feed source have done.
// The times are nil, and Outcome empty, until the source has been polled.
type SourceStatus struct {
	URL string `json:"url"`
	// Schedule is when the source is polled, a cron spec.
	Schedule string `json:"schedule"`
	// Review: the source's new items are held until approved.
	Review     bool        `json:"review"`
	LastPollAt *time.Time  `json:"last_poll_at"`
	Outcome    PollOutcome `json:"outcome"`
	// LastAdded counts the reports the last poll stored (held ones too);
	// TotalAdded, those of every poll.
	LastAdded     int        `json:"last_added"`
	TotalAdded    int        `json:"total_added"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	// LastError is the reason of the last poll that failed, kept after
	// later polls succeed, with its time.
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"`
}
