// Package admin holds the dashboard's sign-in rules: who may sign in, the
// one-time links mailed to them, the sessions those links open, and the
// audit log of what is done while signed in. It speaks neither HTTP nor SQL.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
	"github.com/alertd/alertd/internal/subscription"
)

const (
	// LinkTTL is how long a sign-in link works: long enough to open the
	// mail, short enough that a link found later in a mailbox is spent.
	LinkTTL = 15 * time.Minute
	// linkCooldown is the least time between two links mailed to one
	// address, and maxLinksPerDay their number in 24 hours: whoever knows an
	// admin's address can make alertd mail it only this often.
	linkCooldown   = time.Minute
	maxLinksPerDay = 10
	// TestMailCooldown is the least time between two test mails one
	// operator asks for, so the button cannot be used to flood a mailbox
	// or the relay.
	TestMailCooldown = time.Minute
)

// The actions the service writes to the audit log.
const (
	ActionSignIn      = "signed in"
	ActionSignOut     = "signed out"
	ActionLinkPrinted = "link printed by the CLI"
	ActionTestMail    = "test e-mail sent"
	ActionDigestSent  = "digest sent now"

	ActionReportAdded     = "report added"
	ActionReportEdited    = "report edited"
	ActionReportRetracted = "report retracted"
	ActionReportRestored  = "report restored"
	ActionReportApproved  = "report approved"
	ActionReportRejected  = "report rejected"

	// The subscriber pages name a subscriber by id, never by address, so
	// that erasing the address leaves no copy of it in the log.
	ActionSubscriberUnsubscribed = "subscriber unsubscribed"
	ActionSubscriberErased       = "subscriber erased"
	ActionSubscribersExported    = "subscribers exported"
	ActionSubscribersImported    = "subscribers imported"
)

// WhoCLI is the audit log's name for the command line.
const WhoCLI = "cli"

var (
	// ErrLinkExpired means a sign-in link is unknown, used or expired.
	ErrLinkExpired = alertd.Errorf(alertd.NotFound, "this sign-in link has expired, has been used, or is not valid")
	// ErrTestMailTooSoon means the operator asked for a test mail less
	// than TestMailCooldown after the last one.
	ErrTestMailTooSoon = alertd.Errorf(alertd.Conflict, "a test e-mail was sent to you less than a minute ago; wait a minute before asking for another")
	// ErrNoSession means the cookie names no live session.
	ErrNoSession = alertd.Errorf(alertd.Unauthorized, "not signed in, or the session has ended")
)

// Rules are the operator's settings for the dashboard.
type Rules struct {
	// Emails are who may sign in.
	Emails     []string
	SessionTTL time.Duration
}

// SignInPayload is what a queued sign-in mail needs: it holds the only copy
// of the link's secret, which the outbox clears once the mail is final.
type SignInPayload struct {
	Email     string    `json:"email"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TestPayload is what a queued test mail needs: whom it goes to.
type TestPayload struct {
	Email string `json:"email"`
}

// Service applies the rules to the store.
type Service struct {
	store  *store.Store
	rules  Rules
	now    func() time.Time
	random io.Reader
	queued func()

	mu sync.Mutex
	// lastTest is when each operator last had a test mail queued by this
	// process.
	lastTest map[string]time.Time
}

// NewService returns a Service. now and random are the clock and the
// source of secrets; queued is called after mail has been committed to the
// outbox.
func NewService(st *store.Store, rules Rules, now func() time.Time, random io.Reader, queued func()) *Service {
	return &Service{store: st, rules: rules, now: now, random: random, queued: queued, lastTest: map[string]time.Time{}}
}

// admin returns the address as admin.emails spells it, and whether it is
// there; addresses are compared without regard to case.
func (s *Service) admin(email string) (string, bool) {
	email = strings.TrimSpace(email)
	for _, a := range s.rules.Emails {
		if strings.EqualFold(a, email) {
			return a, true
		}
	}
	return "", false
}

// RequestLink mails a sign-in link to email when it is in admin.emails and
// the per-address limits allow one. Whatever the address, the caller must
// answer the same way: the only error is a failure of the store.
func (s *Service) RequestLink(ctx context.Context, email string) error {
	email, ok := s.admin(email)
	if !ok {
		return nil
	}
	token, hash, err := subscription.NewConfirmationToken(s.random)
	if err != nil {
		return err
	}
	now := s.now()
	var queued bool
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		queued = false
		n, latest, err := tx.AdminLinksSince(email, now.Add(-24*time.Hour))
		if err != nil || n >= maxLinksPerDay || (n > 0 && now.Sub(latest) < linkCooldown) {
			return err
		}
		expires := now.Add(LinkTTL)
		if err := tx.InsertAdminLink(hash, email, now, expires, now.Add(-24*time.Hour)); err != nil {
			return err
		}
		payload, err := json.Marshal(SignInPayload{Email: email, Token: token, ExpiresAt: expires})
		if err != nil {
			return err
		}
		if _, err := tx.Enqueue(alertd.KindAdminSignIn, 0, string(payload), now); err != nil {
			return err
		}
		queued = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("sign-in link: %w", err)
	}
	if queued {
		s.queued()
	}
	return nil
}

// PrintLink makes a sign-in link for an address in admin.emails without
// mailing it, for the command line, and writes that to the audit log. It
// returns the link's token.
func (s *Service) PrintLink(ctx context.Context, email string) (string, error) {
	admin, ok := s.admin(email)
	if !ok {
		return "", alertd.Errorf(alertd.Invalid, "%q is not in admin.emails; add it there first", email)
	}
	token, hash, err := subscription.NewConfirmationToken(s.random)
	if err != nil {
		return "", err
	}
	now := s.now()
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAdminLink(hash, admin, now, now.Add(LinkTTL), now.Add(-24*time.Hour)); err != nil {
			return err
		}
		return tx.Audit(alertd.AuditEntry{At: now, Who: WhoCLI, Action: ActionLinkPrinted, Subject: admin})
	})
	if err != nil {
		return "", fmt.Errorf("sign-in link: %w", err)
	}
	return token, nil
}

// CheckLink returns ErrLinkExpired unless token is a live sign-in link. It
// changes nothing.
func (s *Service) CheckLink(ctx context.Context, token string) error {
	_, err := s.store.AdminLink(ctx, subscription.HashConfirmationToken(token), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return ErrLinkExpired
	}
	return err
}

// SignIn spends the sign-in link and opens a session, returning the secret
// the session cookie carries (only its hash is stored) and the session.
func (s *Service) SignIn(ctx context.Context, token string) (string, alertd.Session, error) {
	secret, hash, err := subscription.NewConfirmationToken(s.random)
	if err != nil {
		return "", alertd.Session{}, err
	}
	now := s.now()
	sess := alertd.Session{CreatedAt: now, ExpiresAt: now.Add(s.rules.SessionTTL)}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		email, err := tx.UseAdminLink(subscription.HashConfirmationToken(token), now)
		if err != nil {
			return err
		}
		// An address taken out of admin.emails after its link was mailed
		// signs in no more.
		if _, ok := s.admin(email); !ok {
			return store.ErrNotFound
		}
		sess.Email = email
		if err := tx.InsertAdminSession(hash, sess); err != nil {
			return err
		}
		return tx.Audit(alertd.AuditEntry{At: now, Who: email, Action: ActionSignIn})
	})
	if errors.Is(err, store.ErrNotFound) {
		return "", alertd.Session{}, ErrLinkExpired
	}
	if err != nil {
		return "", alertd.Session{}, fmt.Errorf("sign in: %w", err)
	}
	return secret, sess, nil
}

// Session returns the live session whose cookie carries secret, or
// ErrNoSession. An address taken out of admin.emails has none.
func (s *Service) Session(ctx context.Context, secret string) (alertd.Session, error) {
	if secret == "" {
		return alertd.Session{}, ErrNoSession
	}
	sess, err := s.store.AdminSession(ctx, subscription.HashConfirmationToken(secret), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return sess, ErrNoSession
	}
	if err != nil {
		return sess, err
	}
	if _, ok := s.admin(sess.Email); !ok {
		return alertd.Session{}, ErrNoSession
	}
	return sess, nil
}

// SignOut ends the session whose cookie carries secret; ending one that has
// already ended is harmless.
func (s *Service) SignOut(ctx context.Context, secret string) error {
	now := s.now()
	return s.store.Write(ctx, func(tx *store.Tx) error {
		email, err := tx.DeleteAdminSession(subscription.HashConfirmationToken(secret))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return tx.Audit(alertd.AuditEntry{At: now, Who: email, Action: ActionSignOut})
	})
}

// Record writes to the audit log that who made a change through the
// dashboard: action is what was done, subject what it was done to, detail
// anything a later reader needs to understand it.
func (s *Service) Record(ctx context.Context, who, action, subject, detail string) error {
	now := s.now()
	return s.store.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(alertd.AuditEntry{At: now, Who: who, Action: action, Subject: subject, Detail: detail})
	})
}

// AuditLog returns up to limit entries, newest first, those older than the
// entry with id before when it is positive.
func (s *Service) AuditLog(ctx context.Context, limit int, before int64) ([]alertd.AuditEntry, error) {
	return s.store.AuditLog(ctx, limit, before)
}

// SendTestMail queues a test mail to the signed-in operator email, at most
// one per TestMailCooldown (ErrTestMailTooSoon); it returns the address as
// admin.emails spells it. The mail goes through the outbox like every
// other, so it tests the whole way out.
func (s *Service) SendTestMail(ctx context.Context, email string) (string, error) {
	email, ok := s.admin(email)
	if !ok {
		return "", ErrNoSession
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if last, ok := s.lastTest[email]; ok && now.Sub(last) < TestMailCooldown {
		return "", ErrTestMailTooSoon
	}
	payload, err := json.Marshal(TestPayload{Email: email})
	if err != nil {
		return "", err
	}
	err = s.store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Enqueue(alertd.KindAdminTest, 0, string(payload), now)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("test mail: %w", err)
	}
	s.lastTest[email] = now
	s.queued()
	return email, nil
}
