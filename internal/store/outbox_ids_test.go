package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// TestDeletedMessageIDsNeverComeBack: a message's id is signed into the
// envelope sender its bounces come back to, so an id once given must never
// name another message. SQLite gives a new row the highest id plus one, so
// deleting the newest message (an erased subscriber's, a purged sign-up's)
// would hand its id, and its late bounces, to the next reader.
func TestDeletedMessageIDsNeverComeBack(t *testing.T) {
	st, path, subs := countsRig(t)
	enqueue := func(kind alertd.MessageKind, email string) (id int64) {
		t.Helper()
		write(t, st, func(tx *store.Tx) error {
			var err error
			id, err = tx.Enqueue(kind, subs[email], "", day0)
			return err
		})
		return id
	}
	names := func(id int64) int64 {
		t.Helper()
		var sub int64
		write(t, st, func(tx *store.Tx) error {
			var err error
			if sub, _, err = tx.MessageRecipient(id); errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		return sub
	}

	erased := enqueue(alertd.KindWelcome, "a@example.org")
	write(t, st, func(tx *store.Tx) error { return tx.Erase(subs["a@example.org"], "hash-a", day0) })
	checkCounts(t, st, path, "erase")
	if next := enqueue(alertd.KindWelcome, "b@example.org"); next <= erased {
		t.Errorf("after erasing the subscriber of message %d the next message got id %d", erased, next)
	}
	if sub := names(erased); sub != 0 {
		t.Errorf("erased message %d names subscriber %d", erased, sub)
	}

	purged := enqueue(alertd.KindConfirmation, "p@example.org")
	write(t, st, func(tx *store.Tx) error {
		_, err := tx.PurgeUnconfirmed(day0.Add(time.Hour))
		return err
	})
	checkCounts(t, st, path, "purge")
	if next := enqueue(alertd.KindWelcome, "c@example.org"); next <= purged {
		t.Errorf("after purging the sign-up of message %d the next message got id %d", purged, next)
	}
	if sub := names(purged); sub != 0 {
		t.Errorf("purged message %d names subscriber %d", purged, sub)
	}
}
