package web

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/alertd/alertd/internal/admin"
)

// auditor writes the dashboard's changes to the audit log.
type auditor struct {
	svc *admin.Service
	log *slog.Logger
}

// record writes an entry for a change the signed-in operator has made. The
// change stands by then, so a failure to record it is not the change's
// failure: the operator gets the usual answer, and the log gets the whole
// entry, so that it holds what the audit log missed. A client that leaves
// does not stop the entry.
func (a auditor) record(r *http.Request, action, subject, detail string) {
	who := sessionOf(r).Email
	if err := a.svc.Record(context.WithoutCancel(r.Context()), who, action, subject, detail); err != nil {
		a.log.Error("audit log: entry not written", "who", who, "action", action, "subject", subject, "detail", detail, "err", err)
	}
}

// nothingDone is the query that brings the operator back to a page after
// a change that was already so: the page says that nothing was done, and
// the audit log has no entry for it.
const nothingDone = "nothing-done"

// afterNothingDone is the address of the page at path saying so.
func afterNothingDone(path string) string { return path + "?" + nothingDone }

// saysNothingDone reports whether the request came back from a change that
// was already so.
func saysNothingDone(r *http.Request) bool { return r.URL.Query().Has(nothingDone) }
