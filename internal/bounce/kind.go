package bounce

import (
	"strings"

	"github.com/alertd/alertd"
)

// Kind says what a DSN recipient's Action and Status (RFC 3464, RFC 3463)
// mean for the subscriber, and false when they mean nothing (delivered,
// relayed, expanded). The rule, first match wins:
//
//   - Action delayed, or a 4.x.x status (also with Action failed: an MTA
//     that gave up after retrying a temporary failure): soft.
//   - 5.1.7, 5.1.8 (the sender's address is bad): policy, it is about the
//     send.
//   - 5.1.x (bad mailbox, bad domain, bad address syntax) and 5.2.1
//     (mailbox disabled): hard.
//   - 5.7.x (security or policy), 5.6.x (the content), 5.2.3 and 5.3.4
//     (the message too big): policy.
//   - any other 5.x.x, a failure without a status and 5.0.0 (mailbox
//     full 5.2.2, system full or not accepting 5.3.x, routing 5.4.x even
//     where a server means a missing address by it, protocol 5.5.x):
//     soft. Their cause may pass; if it does not, repeated soft bounces
//     make the subscriber bounced.
func (r Recipient) Kind() (alertd.BounceKind, bool) {
	switch r.Action {
	case "delivered", "relayed", "expanded":
		return "", false
	case "delayed":
		return alertd.BounceSoft, true
	}
	status := r.Status
	switch {
	case strings.HasPrefix(status, "2."):
		return "", false
	case strings.HasPrefix(status, "4."):
		return alertd.BounceSoft, true
	case status == "5.1.7" || status == "5.1.8":
		return alertd.BouncePolicy, true
	case strings.HasPrefix(status, "5.1.") || status == "5.2.1":
		return alertd.BounceHard, true
	case strings.HasPrefix(status, "5.7.") || strings.HasPrefix(status, "5.6.") || status == "5.2.3" || status == "5.3.4":
		return alertd.BouncePolicy, true
	}
	return alertd.BounceSoft, true
}
