package delivery

import (
	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/mail"
)

// refused is the outcome of a send the relay refused with err. A permanent
// bad-address reply (5.1.x) is a bounce: the message fails and the outcome
// marks the subscriber bounced, which the store records with the outcome
// (Tx.RecordOutcome), in one transaction. Another permanent reply fails
// the message alone; anything else is retried.
func (w *worker) refused(m alertd.Message, err error) alertd.Outcome {
	e := w.engine
	switch mail.Classify(err) {
	case mail.BadAddress:
		e.log.Info("address bounced", "message", m.ID, "err", err)
		return alertd.Outcome{Status: alertd.MessageFailed, Error: err.Error(), Bounced: true}
	case mail.Permanent:
		e.log.Warn("message refused", "message", m.ID, "err", err)
		return alertd.Outcome{Status: alertd.MessageFailed, Error: err.Error()}
	}
	if mail.ConnectionTrouble(err) {
		w.troubled(err)
	}
	return e.retry(m, err)
}
