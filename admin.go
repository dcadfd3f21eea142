package alertd

import "time"

// Session is a signed-in dashboard user.
type Session struct {
	Email     string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AuditEntry is one change made through the dashboard, or a sign-in or
// sign-out: who did what, to what, when.
type AuditEntry struct {
	ID int64
	At time.Time
	// Who is the signed-in address, or "cli" for the command line.
	Who     string
	Action  string
	Subject string
	Detail  string
}
