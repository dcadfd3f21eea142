// Package alertd holds the domain of the e-mail alert service: subscribers,
// reports and digests, and the files (templates, migrations) that are embedded
// into the binary. The packages under internal/ implement and use these types;
// this package depends on none of them.
package alertd

import (
	"embed"
	"errors"
	"io/fs"
	"slices"
	"time"
)

//go:embed templates migrations
var embedded embed.FS

// Templates returns the embedded HTML pages, e-mail templates and stylesheet,
// rooted at the templates/ folder (e.g. "mail/confirmation.txt").
func Templates() fs.FS { return sub("templates") }

// Migrations returns the embedded numbered .sql files, rooted at migrations/.
func Migrations() fs.FS { return sub("migrations") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(embedded, dir)
	if err != nil {
		panic(err) // dir is a constant that go:embed has already checked
	}
	return f
}

// SubscriberStatus is where a subscriber stands in the double opt-in lifecycle.
type SubscriberStatus string

// The lifecycle: pending → confirmed on the link's click, → unsubscribed at the
// reader's word; confirmed → bounced on a permanent bad-address reply.
const (
	StatusPending      SubscriberStatus = "pending"
	StatusConfirmed    SubscriberStatus = "confirmed"
	StatusUnsubscribed SubscriberStatus = "unsubscribed"
	StatusBounced      SubscriberStatus = "bounced"
)

// Valid reports whether s is one of the known statuses.
func (s SubscriberStatus) Valid() bool {
	switch s {
	case StatusPending, StatusConfirmed, StatusUnsubscribed, StatusBounced:
		return true
	}
	return false
}

// MessageKind is what an e-mail in the outbox is for.
type MessageKind string

const (
	// KindConfirmation asks a pending subscriber to confirm (double opt-in).
	KindConfirmation MessageKind = "confirmation"
	// KindWelcome tells a subscriber that the subscription is active.
	KindWelcome MessageKind = "welcome"
	// KindDigest is one subscriber's copy of a digest.
	KindDigest MessageKind = "digest"
	// KindCatchUp carries to a reader who changed frequency the reports
	// their new series announced before the change and their old one had
	// not yet: the payload (CopyPayload) lists them.
	KindCatchUp MessageKind = "catch-up"
	// KindAdminSignIn carries a one-time dashboard sign-in link to an
	// address in admin.emails; it goes to no subscriber.
	KindAdminSignIn MessageKind = "admin_sign_in"
	// KindAdminTest is the test mail an operator asks for from the
	// dashboard's settings; it goes to no subscriber.
	KindAdminTest MessageKind = "admin_test"
)

// ToSubscriber reports whether a message of the kind goes to a subscriber,
// whose status is checked when it is sent; the others name their recipient
// in the payload.
func (k MessageKind) ToSubscriber() bool { return k != KindAdminSignIn && k != KindAdminTest }

// MessageStatus is where an e-mail stands in the outbox: queued (due, or
// waiting for a retry) → sending (claimed by a worker) → sent, failed or
// cancelled, the final three; a temporary failure puts it back to queued.
type MessageStatus string

const (
	MessageQueued    MessageStatus = "queued"
	MessageSending   MessageStatus = "sending"
	MessageSent      MessageStatus = "sent"
	MessageFailed    MessageStatus = "failed"
	MessageCancelled MessageStatus = "cancelled"
)

// Consent is the proof kept for a subscription: who asked, from where, and
// which wording they agreed to.
type Consent struct {
	SignupAt       time.Time `json:"signup_at"`
	SignupIP       string    `json:"signup_ip,omitempty"`
	SignupUA       string    `json:"signup_user_agent,omitempty"`
	FormURL        string    `json:"form_url,omitempty"`
	ConsentVersion string    `json:"consent_version,omitempty"`
	ConfirmAt      time.Time `json:"confirm_at,omitzero"`
	ConfirmIP      string    `json:"confirm_ip,omitempty"`
	ConfirmUA      string    `json:"confirm_user_agent,omitempty"`
}

// Subscriber is one address on the list.
type Subscriber struct {
	ID     int64            `json:"-"`
	Email  string           `json:"email"`
	Status SubscriberStatus `json:"status"`
	Topics []string         `json:"topics"`
	// Lang is the language tag the subscriber reads pages and mails in.
	Lang string `json:"lang"`
	// Frequency is the id of the series of digests the subscriber reads.
	Frequency      string     `json:"frequency"`
	CreatedAt      time.Time  `json:"created_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at"`
	Consent        Consent    `json:"-"`
}

// Report is one publication in the catalogue.
type Report struct {
	ID          int64     `json:"id"`
	GUID        string    `json:"guid"`
	URL         string    `json:"url"`
	Title       string    `json:"title"`
	PublishedAt time.Time `json:"published_at"`
	Series      string    `json:"series,omitempty"`
	Number      string    `json:"number,omitempty"`
	Authors     []string  `json:"authors,omitempty"`
	Abstract    string    `json:"abstract,omitempty"`
	Keywords    []string  `json:"keywords,omitempty"`
	Topics      []string  `json:"topics,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// RetractedAt is when the report was taken back; nil while it is out.
	RetractedAt *time.Time `json:"retracted_at,omitempty"`
	// HeldAt is when the report came in from a source under review; nil
	// once approved, or when it needed no approval. A held report is
	// shown to no reader.
	HeldAt *time.Time `json:"held_at,omitempty"`
}

// ReportStatus is where a report stands: published (readers see it once its
// publication time has come), held for review, or retracted. A retracted
// report is retracted whether or not it was held.
type ReportStatus string

const (
	ReportPublished ReportStatus = "published"
	ReportHeld      ReportStatus = "held"
	ReportRetracted ReportStatus = "retracted"
)

// Status returns where the report stands.
func (r Report) Status() ReportStatus {
	switch {
	case r.RetractedAt != nil:
		return ReportRetracted
	case r.HeldAt != nil:
		return ReportHeld
	}
	return ReportPublished
}

// Topic is an optional subject a subscriber may choose.
type Topic struct {
	ID   string `json:"id" toml:"id"`
	Name string `json:"name" toml:"name"`
}

// Overlay returns a file system that serves each file from over when it is
// there, and from base otherwise: an operator's templates directory over the
// embedded templates. Files must be opened by name; directory listings come
// from over alone.
func Overlay(over, base fs.FS) fs.FS { return overlay{over: over, base: base} }

type overlay struct{ over, base fs.FS }

func (o overlay) Open(name string) (fs.File, error) {
	f, err := o.over.Open(name)
	if errors.Is(err, fs.ErrNotExist) {
		return o.base.Open(name)
	}
	return f, err
}

// ReportsFor returns the reports, in their order, that a subscriber who chose
// topics receives: all of them when none were chosen, else only those that
// share a topic with the choice (none, when nothing matches).
//
// This is the topic rule. The digest compile states it once more, as a set
// in SQL (store.Tx.CompileDigest), to choose a million recipients in one
// statement without loading them; a copy is sent to exactly those for whom
// ReportsFor is not empty, which the store's tests check against this
// function.
func ReportsFor(reports []Report, topics []string) []Report {
	if len(topics) == 0 {
		return reports
	}
	var matching []Report
	for _, r := range reports {
		if slices.ContainsFunc(r.Topics, func(t string) bool { return slices.Contains(topics, t) }) {
			matching = append(matching, r)
		}
	}
	return matching
}
