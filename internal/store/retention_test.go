package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/store"
)

// countsRig is a store at a path, with a report and subscribers a to f
// (confirmed) and p (pending, signed up at day0).
func countsRig(t *testing.T) (*store.Store, string, map[string]int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "alertd.db")
	st := alerttest.OpenStore(t, path)
	var subs []fixtureSubscriber
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} {
		subs = append(subs, fixtureSubscriber{email: name + "@example.org", status: alertd.StatusConfirmed})
	}
	subs = append(subs, fixtureSubscriber{email: "p@example.org", status: alertd.StatusPending})
	ids := seed(t, st, []fixtureReport{{guid: "r", published: day0.Add(-time.Hour)}}, subs)
	return st, path, ids
}

func write(t *testing.T, st *store.Store, fn func(*store.Tx) error) {
	t.Helper()
	if err := st.Write(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// TestMessageCountsStayTrueThroughEveryMove moves messages through every
// path a message takes and checks after each that the kept counts equal
// the outbox's rows.
func TestMessageCountsStayTrueThroughEveryMove(t *testing.T) {
	ctx := context.Background()
	st, path, subs := countsRig(t)
	checkCounts(t, st, path, "nothing")

	write(t, st, func(tx *store.Tx) error {
		if _, err := tx.Enqueue(alertd.KindConfirmation, subs["p@example.org"], "link", day0); err != nil {
			return err
		}
		_, err := tx.Enqueue(alertd.KindWelcome, subs["a@example.org"], "", day0)
		return err
	})
	checkCounts(t, st, path, "enqueue")
	d, _, err := compileDigest(ctx, st, store.DigestSelection{Until: day0})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "a digest's compile")

	claimed, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	checkCounts(t, st, path, "a claim")
	// A claim of messages whose lease ran out moves nothing between
	// statuses.
	later := day0.Add(2 * time.Minute)
	again, err := st.ClaimMessages(ctx, "", later, later.Add(time.Minute), 6)
	if err != nil || len(again) != 6 {
		t.Fatalf("claimed %d again: %v", len(again), err)
	}
	checkCounts(t, st, path, "a claim of expired leases")

	outcome := func(m alertd.Message, status alertd.MessageStatus) alertd.Outcome {
		return alertd.Outcome{ID: m.ID, DigestID: m.DigestID, SubscriberID: m.SubscriberID, Status: status, RetryAt: later.Add(time.Hour)}
	}
	write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(later, outcome(again[0], alertd.MessageSent)) })
	checkCounts(t, st, path, "a send")
	bounce := outcome(again[1], alertd.MessageFailed)
	bounce.Bounced = true
	write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(later, bounce) })
	checkCounts(t, st, path, "a bounce")
	write(t, st, func(tx *store.Tx) error {
		_, err := tx.Unsubscribe(subs["c@example.org"], later)
		return err
	})
	checkCounts(t, st, path, "an unsubscribe")
	write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(later, outcome(again[2], alertd.MessageCancelled)) })
	checkCounts(t, st, path, "a cancel")
	write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(later, outcome(again[3], alertd.MessageQueued)) })
	checkCounts(t, st, path, "a retry")
	// An outcome recorded twice moves nothing the second time.
	write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(later, outcome(again[0], alertd.MessageSent)) })
	checkCounts(t, st, path, "an outcome recorded twice")

	log, err := st.OpenSentLog()
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Record(again[4].ID, again[4].DigestID); err != nil {
		t.Fatal(err)
	}
	if err := log.Fold(ctx, later); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "a sent log's fold")
	if err := st.ReleaseMessages(ctx, later, []int64{again[5].ID}); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "a release")

	dead, err := st.ClaimMessages(ctx, "DEAD", later, later.Add(time.Hour), 2)
	if err != nil || len(dead) != 2 {
		t.Fatalf("dead process claimed %d: %v", len(dead), err)
	}
	if err := os.WriteFile(path+"-sent-DEAD.1", fmt.Appendf(nil, "%d %d\n", dead[0].ID, dead[0].DigestID), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.FoldAbandonedSentLogs(ctx, later); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "a dead process's fold and release")

	write(t, st, func(tx *store.Tx) error { return tx.Erase(subs["b@example.org"], "hash-b", later) })
	checkCounts(t, st, path, "an erase")
	write(t, st, func(tx *store.Tx) error {
		n, err := tx.PurgeUnconfirmed(day0.Add(time.Hour))
		if err == nil && n != 1 {
			t.Errorf("purged %d sign-ups, want p's", n)
		}
		return err
	})
	checkCounts(t, st, path, "a purge of stale sign-ups")

	if _, err := st.DeleteFinishedMessages(ctx, later.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "retention")
	if err := log.Close(ctx, later); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Digest(ctx, d.ID); err != nil || got.Recipients != 6 {
		t.Errorf("digest %+v (%v)", got, err)
	}
}

// TestRetentionDeletesOnlyOldFinishedMessagesAndKeepsTheirHistory gives a
// subscriber messages finished long ago, finished recently and not
// finished at all: retention deletes only the first, the digest's counts
// do not move, and the subscriber's history sums up what went.
func TestRetentionDeletesOnlyOldFinishedMessagesAndKeepsTheirHistory(t *testing.T) {
	ctx := context.Background()
	st, path, subs := countsRig(t)
	a := subs["a@example.org"]
	// Old: a digest to all six, finished on day 0 (4 sent, 1 failed, 1
	// cancelled), and a welcome to a that is still being retried.
	d, _, err := compileDigest(ctx, st, store.DigestSelection{Until: day0})
	if err != nil {
		t.Fatal(err)
	}
	write(t, st, func(tx *store.Tx) error {
		_, err := tx.Enqueue(alertd.KindWelcome, a, "", day0)
		return err
	})
	old, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), 7)
	if err != nil || len(old) != 7 {
		t.Fatalf("claimed %d: %v", len(old), err)
	}
	statuses := []alertd.MessageStatus{alertd.MessageSent, alertd.MessageSent, alertd.MessageSent, alertd.MessageSent, alertd.MessageFailed, alertd.MessageCancelled, alertd.MessageQueued}
	write(t, st, func(tx *store.Tx) error {
		for i, m := range old {
			at := day0.Add(time.Duration(i) * time.Minute)
			o := alertd.Outcome{ID: m.ID, DigestID: m.DigestID, SubscriberID: m.SubscriberID, Status: statuses[i], RetryAt: day0.Add(100 * 24 * time.Hour)}
			if err := tx.RecordOutcome(at, o); err != nil {
				return err
			}
		}
		return nil
	})
	// Recent: a second welcome to a, sent on day 90.
	recent := day0.Add(90 * 24 * time.Hour)
	write(t, st, func(tx *store.Tx) error {
		_, err := tx.Enqueue(alertd.KindWelcome, a, "", recent)
		return err
	})
	fresh, err := st.ClaimMessages(ctx, "", recent, recent.Add(time.Minute), 1)
	if err != nil || len(fresh) != 1 {
		t.Fatalf("claimed %d: %v", len(fresh), err)
	}
	write(t, st, func(tx *store.Tx) error {
		return tx.RecordOutcome(recent, alertd.Outcome{ID: fresh[0].ID, SubscriberID: a, Status: alertd.MessageSent})
	})
	before, err := st.Digest(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}

	deleted, err := st.DeleteFinishedMessages(ctx, recent.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if deleted != 6 {
		t.Errorf("deleted %d, want the digest's 6 finished deliveries", deleted)
	}
	truth := outboxTruth(t, path)
	if truth["queued"] != 1 || truth["sent"] != 1 || truth["failed"]+truth["cancelled"] != 0 {
		t.Errorf("outbox after retention %v, want the unfinished old welcome and the recent one", truth)
	}
	checkCounts(t, st, path, "retention")
	after, err := st.Digest(ctx, d.ID)
	if err != nil || after != before {
		t.Errorf("digest after retention %+v (%v), want it unchanged %+v", after, err, before)
	}
	messages, err := st.SubscriberMessages(ctx, a)
	if err != nil || len(messages) != 2 {
		t.Errorf("a's messages after retention: %+v (%v), want the two welcomes", messages, err)
	}
	history, err := st.SubscriberMessageHistory(ctx, a)
	want := []store.MessageSummary{{Kind: "digest", Status: "sent", Count: 1, FirstAt: day0, LastAt: day0}}
	if err != nil || len(history) != 1 || history[0] != want[0] {
		t.Errorf("a's history %+v (%v), want %+v", history, err, want)
	}
	failed := subs["e@example.org"]
	if old[4].SubscriberID != failed {
		t.Fatalf("the fifth delivery went to %d, want e (%d)", old[4].SubscriberID, failed)
	}
	history, err = st.SubscriberMessageHistory(ctx, failed)
	want = []store.MessageSummary{{Kind: "digest", Status: "failed", Count: 1, FirstAt: day0.Add(4 * time.Minute), LastAt: day0.Add(4 * time.Minute)}}
	if err != nil || len(history) != 1 || history[0] != want[0] {
		t.Errorf("e's history %+v (%v), want %+v", history, err, want)
	}

	// A second run finds nothing more, and an erase takes the history too.
	if n, err := st.DeleteFinishedMessages(ctx, recent.Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("second run deleted %d (%v), want 0", n, err)
	}
	write(t, st, func(tx *store.Tx) error { return tx.Erase(a, "hash-a", recent) })
	if history, err := st.SubscriberMessageHistory(ctx, a); err != nil || len(history) != 0 {
		t.Errorf("a's history after the erase: %+v (%v), want none", history, err)
	}
	checkCounts(t, st, path, "an erase")
}

// TestRetentionNeverLetsAnOutboxIDComeBack deletes every message there is,
// all finished long ago, and then queues another: its id must be new, or a
// reference kept to a deleted message would name the new one.
func TestRetentionNeverLetsAnOutboxIDComeBack(t *testing.T) {
	ctx := context.Background()
	st, _, subs := countsRig(t)
	a := subs["a@example.org"]
	var last int64
	write(t, st, func(tx *store.Tx) error {
		for range 3 {
			var err error
			if last, err = tx.Enqueue("welcome", a, "", day0); err != nil {
				return err
			}
		}
		return nil
	})
	claimed, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), 3)
	if err != nil || len(claimed) != 3 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	write(t, st, func(tx *store.Tx) error {
		for _, m := range claimed {
			if err := tx.RecordOutcome(day0, alertd.Outcome{ID: m.ID, SubscriberID: a, Status: "sent"}); err != nil {
				return err
			}
		}
		return nil
	})
	if _, err := st.DeleteFinishedMessages(ctx, day0.Add(100*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	var next int64
	write(t, st, func(tx *store.Tx) error {
		next, err = tx.Enqueue("welcome", a, "", day0.Add(101*24*time.Hour))
		return err
	})
	if next <= last {
		t.Errorf("a message queued after retention got id %d, which a deleted message (up to %d) had", next, last)
	}
}

// TestRetentionKeepsNoHistoryForOperatorsMail deletes a finished dashboard
// sign-in mail, which goes to an operator under no subscriber: no history
// row may gather under subscriber 0.
func TestRetentionKeepsNoHistoryForOperatorsMail(t *testing.T) {
	ctx := context.Background()
	st, _, subs := countsRig(t)
	write(t, st, func(tx *store.Tx) error {
		if _, err := tx.Enqueue(alertd.KindAdminSignIn, 0, "", day0); err != nil {
			return err
		}
		_, err := tx.Enqueue("welcome", subs["a@example.org"], "", day0)
		return err
	})
	claimed, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), 2)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	signIn := claimed[0]
	if signIn.Kind != alertd.KindAdminSignIn {
		signIn = claimed[1]
	}
	write(t, st, func(tx *store.Tx) error {
		return tx.RecordOutcome(day0, alertd.Outcome{ID: signIn.ID, Status: "sent"})
	})
	if deleted, err := st.DeleteFinishedMessages(ctx, day0.Add(24*time.Hour)); err != nil || deleted != 1 {
		t.Fatalf("deleted %d (%v), want the sign-in mail", deleted, err)
	}
	if history, err := st.SubscriberMessageHistory(ctx, 0); err != nil || len(history) != 0 {
		t.Errorf("history under subscriber 0: %+v (%v), want none", history, err)
	}
}
