package store

import (
	"context"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/alertd/alertd"
)

// migrationsBefore is the embedded migrations older than version.
func migrationsBefore(t *testing.T, version string) fs.FS {
	t.Helper()
	names, err := fs.Glob(alertd.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	older := fstest.MapFS{}
	for _, name := range names {
		if name >= version {
			continue
		}
		data, err := fs.ReadFile(alertd.Migrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		older[name] = &fstest.MapFile{Data: data}
	}
	return older
}

func subscriberDays(t *testing.T, st *Store, from, to time.Time) []SubscriberDay {
	t.Helper()
	days, err := st.SubscriberDays(context.Background(), from, to)
	if err != nil {
		t.Fatal(err)
	}
	return days
}

func utcDay(month time.Month, day int) time.Time {
	return time.Date(2026, month, day, 0, 0, 0, 0, time.UTC)
}

func TestDailyCountsMigrationBackfillsFromTheRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertd.db")
	st := openAt(t, path, migrationsBefore(t, "0009"))
	at := func(month time.Month, day, hour int) int64 {
		return millis(utcDay(month, day).Add(time.Duration(hour) * time.Hour))
	}
	// Signed up on 1 March (one of them a minute before midnight UTC, which
	// is 2 March in Asia), confirmed on 2 March, one unsubscribed on 3
	// March; one pending from 2 March; one imported, which never signed up
	// here.
	for _, row := range []struct {
		key, status             string
		signup                  int64
		confirmed, unsubscribed any
		consent                 string
	}{
		{"a", "confirmed", at(3, 1, 10), at(3, 2, 9), nil, "form-1"},
		{"b", "unsubscribed", at(3, 1, 23) + 59*60*1000, at(3, 2, 0), at(3, 3, 12), "form-1"},
		{"c", "pending", at(3, 2, 5), nil, nil, "form-1"},
		{"d", "confirmed", at(1, 5, 0), at(1, 5, 0), nil, "imported"},
	} {
		if _, err := st.write.Exec(`INSERT INTO subscribers (email, email_key, status, created_at, signup_at, confirmed_at, unsubscribed_at, consent_version)
			VALUES (?1, ?1, ?2, ?3, ?3, ?4, ?5, ?6)`, row.key, row.status, row.signup, row.confirmed, row.unsubscribed, row.consent); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct {
		status   string
		finished any
	}{
		{"sent", at(3, 2, 1)}, {"sent", at(3, 2, 2)}, {"failed", at(3, 2, 3)}, {"sent", at(3, 3, 1)},
		{"cancelled", at(3, 3, 1)}, {"queued", nil},
	} {
		if _, err := st.write.Exec(`INSERT INTO outbox (kind, subscriber_id, status, next_attempt_at, created_at, finished_at)
			VALUES ('welcome', 1, ?, 0, 0, ?)`, m.status, m.finished); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	st = openAt(t, path, alertd.Migrations())
	defer st.Close()
	got := subscriberDays(t, st, utcDay(1, 1), utcDay(3, 31))
	want := []SubscriberDay{
		{Day: utcDay(3, 1), Signups: 2},
		{Day: utcDay(3, 2), Signups: 1, Confirmations: 2},
		{Day: utcDay(3, 3), Unsubscribes: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("backfilled days = %+v, want %+v", got, want)
	}
	for _, tt := range []struct {
		from, to             time.Time
		wantSent, wantFailed int
	}{
		{utcDay(3, 1), utcDay(3, 31), 3, 1},
		{utcDay(3, 2), utcDay(3, 2), 2, 1},
		{utcDay(3, 3), utcDay(3, 3).Add(23 * time.Hour), 1, 0},
		{utcDay(3, 4), utcDay(3, 31), 0, 0},
	} {
		sent, failed, err := st.Finished(context.Background(), tt.from, tt.to)
		if err != nil || sent != tt.wantSent || failed != tt.wantFailed {
			t.Errorf("finished %s..%s = %d sent, %d failed (%v), want %d, %d",
				tt.from.Format(time.DateOnly), tt.to.Format(time.DateOnly), sent, failed, err, tt.wantSent, tt.wantFailed)
		}
	}
}

// TestSubscriberDaysCountEachEventOnceWhereverItHappens moves subscribers
// through every write that changes them and checks the days after each.
func TestSubscriberDaysCountEachEventOnceWhereverItHappens(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	day1, day2, day3 := utcDay(3, 1).Add(9*time.Hour), utcDay(3, 2).Add(9*time.Hour), utcDay(3, 3).Add(9*time.Hour)
	write := func(fn func(*Tx) error) {
		t.Helper()
		if err := st.Write(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	check := func(after string, want ...SubscriberDay) {
		t.Helper()
		if got := subscriberDays(t, st, utcDay(1, 1), utcDay(12, 31)); !slices.Equal(got, want) {
			t.Errorf("after %s: days = %+v, want %+v", after, got, want)
		}
	}
	signUp := func(key string, at time.Time) (id int64) {
		t.Helper()
		write(func(tx *Tx) (err error) {
			id, _, err = tx.InsertSubscriber(key, alertd.Subscriber{Email: key, Status: alertd.StatusPending, CreatedAt: at,
				Consent: alertd.Consent{SignupAt: at}}, Confirmation{})
			return err
		})
		return id
	}
	a, b, c := signUp("a", day1), signUp("b", day1), signUp("c", day2)
	check("sign-ups", SubscriberDay{Day: utcDay(3, 1), Signups: 2}, SubscriberDay{Day: utcDay(3, 2), Signups: 1})

	write(func(tx *Tx) error { return tx.Confirm(a, day2, "", "") })
	// A second confirmation of a confirmed subscriber changes nothing.
	write(func(tx *Tx) error { return tx.Confirm(a, day3, "", "") })
	write(func(tx *Tx) error { _, err := tx.Unsubscribe(b, day2); return err })
	write(func(tx *Tx) error { _, err := tx.Unsubscribe(b, day3); return err })
	check("confirm and unsubscribe", SubscriberDay{Day: utcDay(3, 1), Signups: 2},
		SubscriberDay{Day: utcDay(3, 2), Signups: 1, Confirmations: 1, Unsubscribes: 1})

	// b signs up again; c's pending sign-up is restarted after it expired;
	// a topic change is no event.
	write(func(tx *Tx) error { return tx.RestartSignup(b, "b", nil, "", alertd.Consent{SignupAt: day3}) })
	write(func(tx *Tx) error {
		return tx.RestartSignup(c, "c", nil, "", alertd.Consent{SignupAt: day3.Add(time.Hour)})
	})
	write(func(tx *Tx) error { return tx.SetTopics(a, []string{"x"}) })
	check("sign-ups again", SubscriberDay{Day: utcDay(3, 1), Signups: 2},
		SubscriberDay{Day: utcDay(3, 2), Signups: 1, Confirmations: 1, Unsubscribes: 1},
		SubscriberDay{Day: utcDay(3, 3), Signups: 2})

	// Erasing, purging and importing leave the days as they were.
	write(func(tx *Tx) error { return tx.Erase(a, "hash-a", day3) })
	write(func(tx *Tx) error { _, err := tx.PurgeUnconfirmed(day3.Add(24 * time.Hour)); return err })
	write(func(tx *Tx) error {
		_, err := tx.InsertImported([]Imported{NewImported("d", "d", "hash-d", nil, "", day3)}, "test", day3)
		return err
	})
	check("erase, purge and import", SubscriberDay{Day: utcDay(3, 1), Signups: 2},
		SubscriberDay{Day: utcDay(3, 2), Signups: 1, Confirmations: 1, Unsubscribes: 1},
		SubscriberDay{Day: utcDay(3, 3), Signups: 2})
	if counts, err := st.CountSubscribers(ctx); err != nil || counts[alertd.StatusConfirmed] != 1 || counts[alertd.StatusPending] != 0 {
		t.Errorf("the writes did not happen as the test means: %v %v", counts, err)
	}
}

func TestFinishedCountsEachFinalOutcomeOnceOnItsDay(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	queued, finished := utcDay(3, 1).Add(23*time.Hour), utcDay(3, 2).Add(time.Hour)
	if err := st.Write(ctx, func(tx *Tx) error {
		for range 4 {
			if _, err := tx.Enqueue(alertd.KindAdminSignIn, 0, "", queued); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	claimed, err := st.ClaimMessages(ctx, "", queued, queued.Add(time.Hour), 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	outcomes := []alertd.Outcome{
		{ID: claimed[0].ID, Status: alertd.MessageSent},
		{ID: claimed[1].ID, Status: alertd.MessageFailed, Error: "550 no"},
		{ID: claimed[2].ID, Status: alertd.MessageCancelled},
		// Recorded twice: counted once.
		{ID: claimed[1].ID, Status: alertd.MessageFailed, Error: "550 no"},
	}
	if err := st.Write(ctx, func(tx *Tx) error {
		for _, o := range outcomes {
			if err := tx.RecordOutcome(finished, o); err != nil {
				return err
			}
		}
		// The sent log's records, folded twice, count once too.
		for range 2 {
			if err := tx.recordSent(finished, []sent{{id: claimed[3].ID}}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		day                  time.Time
		wantSent, wantFailed int
	}{{utcDay(3, 1), 0, 0}, {utcDay(3, 2), 2, 1}} {
		sent, failed, err := st.Finished(ctx, tt.day, tt.day)
		if err != nil || sent != tt.wantSent || failed != tt.wantFailed {
			t.Errorf("%s: %d sent, %d failed (%v), want %d, %d", tt.day.Format(time.DateOnly), sent, failed, err, tt.wantSent, tt.wantFailed)
		}
	}
}
