package alertd

import "time"

// Archived reports whether the digest is in the public archive, that is
// whether it counts as sent: a copy of it has been sent, or is still on its
// way. A digest compiled for nobody, or whose every copy failed or was
// cancelled, reached no reader and is not archived. A digest on its way is:
// the "View in browser" link must work in the first copy that arrives, and
// a copy is counted as sent only some moments after the relay took it.
// A digest is never seen while it is being compiled: its reports and its
// deliveries are recorded in one transaction.
//
// The store states this rule once more in SQL (store.ArchivedDigests), to
// page through the archive; its tests check the two agree.
func (d Digest) Archived() bool { return d.Sent > 0 || d.Pending > 0 }

// ArchivedDigest is a sent digest as the public archive shows it.
type ArchivedDigest struct {
	ID int64
	// SentAt is when the digest was compiled and its delivery began.
	SentAt time.Time
	// Reports are the reports it announced, newest first, as its mail
	// lists them, less those retracted since: a retracted report leaves
	// the archive too.
	Reports []Report
	// Updated is when its page last changed: when it was sent, or when
	// one of its reports was retracted since.
	Updated time.Time
	// Frequency is the id of the series it belongs to.
	Frequency string
}
