package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/store"
)

// rawDB opens the store's file beside it, read-only, for checks the store
// must agree with.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// scannedMessages lists a subscriber's messages with a scan of the whole
// outbox: the plain statement SubscriberMessages must agree with.
func scannedMessages(t *testing.T, db *sql.DB, subscriberID int64) []store.MessageRecord {
	t.Helper()
	rows, err := db.Query(`SELECT kind, status, attempts, created_at, finished_at, last_error
		FROM outbox WHERE subscriber_id = ? ORDER BY id`, subscriberID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var records []store.MessageRecord
	for rows.Next() {
		var (
			r        store.MessageRecord
			created  int64
			finished sql.NullInt64
		)
		if err := rows.Scan(&r.Kind, &r.Status, &r.Attempts, &created, &finished, &r.LastError); err != nil {
			t.Fatal(err)
		}
		r.CreatedAt = time.UnixMilli(created).UTC()
		if finished.Valid {
			at := time.UnixMilli(finished.Int64).UTC()
			r.FinishedAt = &at
		}
		records = append(records, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return records
}

// digestRange is the outbox ids a digest's deliveries were given.
func digestRange(t *testing.T, db *sql.DB, digest int64) (first, last int64) {
	t.Helper()
	if err := db.QueryRow("SELECT claim_to - recipients + 1, claim_to FROM digests WHERE id = ?", digest).Scan(&first, &last); err != nil {
		t.Fatal(err)
	}
	return first, last
}

// messagesRig is a store whose outbox holds four digests (three of them
// for some topics only) to subscribers who signed up between them, welcome
// mails among the deliveries, outcomes recorded for some, gaps where rows
// were deleted, and an id the outbox gave twice: the newest delivery of
// the third digest was erased with its reader, and a welcome took its id. It returns the store, its file and the
// highest subscriber id.
func messagesRig(t *testing.T) (*store.Store, string, int64) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "alertd.db")
	st := alerttest.OpenStore(t, path)
	db := rawDB(t, path)
	topics := [][]string{nil, {"energy"}, {"water"}, {"energy", "water"}, {"air"}}
	statuses := []alertd.SubscriberStatus{alertd.StatusConfirmed, alertd.StatusConfirmed, alertd.StatusPending, alertd.StatusConfirmed, alertd.StatusUnsubscribed, alertd.StatusConfirmed, alertd.StatusConfirmed}
	var last int64
	// addSubscribers adds n subscribers, in every status and with varied
	// topics, or with only these topics when given.
	addSubscribers := func(n int, at time.Time, only ...string) {
		write(t, st, func(tx *store.Tx) error {
			for range n {
				email := fmt.Sprintf("s%d@example.org", last+1)
				chosen := topics[int(last)%len(topics)]
				if only != nil {
					chosen = only
				}
				id, _, err := tx.InsertSubscriber(email, alertd.Subscriber{
					Email: email, Status: statuses[int(last)%len(statuses)], Topics: chosen,
					CreatedAt: at, Consent: alertd.Consent{SignupAt: at},
				}, store.Confirmation{})
				if err != nil {
					return err
				}
				last = id
				if id%4 == 0 {
					if _, err := tx.Enqueue("welcome", id, "", at); err != nil {
						return err
					}
				}
			}
			return nil
		})
	}
	addReport := func(guid string, at time.Time, topics ...string) {
		write(t, st, func(tx *store.Tx) error {
			_, _, err := tx.AddReport(alertd.Report{
				GUID: guid, URL: "https://example.org/" + guid, Title: guid, PublishedAt: at, Topics: topics, CreatedAt: at,
			}, false)
			return err
		})
	}
	compile := func(at time.Time) alertd.Digest {
		d, created, err := compileDigest(ctx, st, store.DigestSelection{Until: at})
		if err != nil || !created || d.Recipients == 0 {
			t.Fatalf("compile at %s: %+v %v %v", at, d, created, err)
		}
		return d
	}

	addSubscribers(40, day0)
	addReport("general", day0.Add(time.Hour))
	addReport("energy", day0.Add(time.Hour), "energy")
	first := compile(day0.Add(2 * time.Hour))
	// Some outcomes, so that the records differ in more than their kind.
	claimed, err := st.ClaimMessages(ctx, "", day0.Add(3*time.Hour), day0.Add(4*time.Hour), 12)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range claimed {
		o := alertd.Outcome{ID: m.ID, SubscriberID: m.SubscriberID, Status: alertd.MessageSent}
		if i%3 == 1 {
			o.Status, o.Error = alertd.MessageFailed, "550 no such user"
		}
		write(t, st, func(tx *store.Tx) error { return tx.RecordOutcome(day0.Add(3*time.Hour), o) })
	}

	addSubscribers(25, day0.Add(24*time.Hour))
	addReport("water", day0.Add(25*time.Hour), "water")
	compile(day0.Add(26 * time.Hour))
	addSubscribers(10, day0.Add(48*time.Hour))
	addReport("air-energy", day0.Add(49*time.Hour), "air", "energy")
	third := compile(day0.Add(50 * time.Hour))

	// Gaps: every third delivery of the first digest, and the first and
	// last of the second.
	lo, hi := digestRange(t, db, first.ID)
	if _, err := db.Exec("DELETE FROM outbox WHERE id BETWEEN ? AND ? AND id % 3 = 0", lo, hi); err != nil {
		t.Fatal(err)
	}
	lo, hi = digestRange(t, db, first.ID+1)
	if _, err := db.Exec("DELETE FROM outbox WHERE id IN (?, ?)", lo, hi); err != nil {
		t.Fatal(err)
	}

	// The third digest's last reader is erased, and with them the newest
	// row. An erase now keeps that id taken (an empty row of no one); an
	// older alertd freed it, so the rig deletes that row too: the next
	// message, a welcome to a subscriber above all of the third digest's
	// readers, takes that id, where a search of the third digest for that
	// subscriber ends.
	_, thirdLast := digestRange(t, db, third.ID)
	var erased int64
	if err := db.QueryRow("SELECT subscriber_id FROM outbox WHERE id = ?", thirdLast).Scan(&erased); err != nil {
		t.Fatal(err)
	}
	write(t, st, func(tx *store.Tx) error {
		return tx.Erase(erased, "hash", day0.Add(51*time.Hour))
	})
	if _, err := db.Exec("DELETE FROM outbox WHERE id = ? AND subscriber_id = 0", thirdLast); err != nil {
		t.Fatal(err)
	}
	write(t, st, func(tx *store.Tx) error {
		email := "late@example.org"
		id, _, err := tx.InsertSubscriber(email, alertd.Subscriber{
			Email: email, Status: alertd.StatusConfirmed, Topics: []string{"soil"},
			CreatedAt: day0.Add(52 * time.Hour), Consent: alertd.Consent{SignupAt: day0.Add(52 * time.Hour)},
		}, store.Confirmation{})
		if err != nil {
			return err
		}
		last = id
		welcome, err := tx.Enqueue("welcome", id, "", day0.Add(52*time.Hour))
		if err == nil && welcome != thirdLast {
			t.Errorf("the welcome took id %d, want %d, the id freed by the erase", welcome, thirdLast)
		}
		return err
	})
	addReport("soil", day0.Add(72*time.Hour), "soil")
	compile(day0.Add(73 * time.Hour))
	addSubscribers(5, day0.Add(74*time.Hour))
	return st, path, last
}

// TestSubscriberMessagesFindEveryDigestCopy compares, for every
// subscriber, SubscriberMessages's binary search of each digest's range
// with a scan of the whole outbox.
func TestSubscriberMessagesFindEveryDigestCopy(t *testing.T) {
	ctx := context.Background()
	st, path, last := messagesRig(t)
	db := rawDB(t, path)
	most, none := 0, 0
	for id := int64(0); id <= last+1; id++ {
		want := scannedMessages(t, db, id)
		got, err := st.SubscriberMessages(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("subscriber %d: messages\n%+v\nwant, as a scan finds them,\n%+v", id, got, want)
		}
		most = max(most, len(want))
		if len(want) == 0 {
			none++
		}
	}
	// The comparison covers a subscriber with a copy of each digest and a
	// welcome, and subscribers with nothing.
	if most < 5 || none == 0 {
		t.Errorf("the fixture gives at most %d messages to a subscriber and %d subscribers none; want 5 and some", most, none)
	}
}

// TestDigestDeliveriesRiseBySubscriber checks the order SubscriberMessages
// relies on: a digest's deliveries fill its id range in rising subscriber
// id, whichever subscribers its topics select.
func TestDigestDeliveriesRiseBySubscriber(t *testing.T) {
	_, path, _ := messagesRig(t)
	db := rawDB(t, path)
	rows, err := db.Query(`SELECT d.id, o.id, o.subscriber_id FROM digests d
		JOIN outbox o ON o.id BETWEEN d.claim_to - d.recipients + 1 AND d.claim_to AND o.digest_id = d.id
		ORDER BY d.id, o.id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var digest, previous int64
	seen := 0
	for rows.Next() {
		var d, id, subscriber int64
		if err := rows.Scan(&d, &id, &subscriber); err != nil {
			t.Fatal(err)
		}
		if d == digest && subscriber <= previous {
			t.Errorf("digest %d: delivery %d to subscriber %d follows one to subscriber %d", d, id, subscriber, previous)
		}
		digest, previous = d, subscriber
		seen++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var outside int
	if err := db.QueryRow(`SELECT count(*) FROM outbox o JOIN digests d ON d.id = o.digest_id
		WHERE o.id NOT BETWEEN d.claim_to - d.recipients + 1 AND d.claim_to`).Scan(&outside); err != nil {
		t.Fatal(err)
	}
	if seen == 0 || outside != 0 {
		t.Errorf("%d deliveries in their digest's range, %d outside it; want some, and none outside", seen, outside)
	}
}
