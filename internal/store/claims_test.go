package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// outboxTruth counts the outbox's rows by status straight from the file,
// beside the store: what the kept counts must say.
func outboxTruth(t *testing.T, path string) map[alertd.MessageStatus]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT status, count(*) FROM outbox GROUP BY status")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	truth := map[alertd.MessageStatus]int{alertd.MessageQueued: 0, alertd.MessageSending: 0, alertd.MessageSent: 0, alertd.MessageFailed: 0, alertd.MessageCancelled: 0}
	for rows.Next() {
		var status string
		var n int
		if err := rows.Scan(&status, &n); err != nil {
			t.Fatal(err)
		}
		truth[alertd.MessageStatus(status)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return truth
}

// subscriberTruth counts the subscribers by status straight from the file.
func subscriberTruth(t *testing.T, path string) map[alertd.SubscriberStatus]int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	truth := map[alertd.SubscriberStatus]int{
		alertd.StatusPending: 0, alertd.StatusConfirmed: 0, alertd.StatusUnsubscribed: 0, alertd.StatusBounced: 0,
	}
	for status := range truth {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM subscribers WHERE status = ?", status).Scan(&n); err != nil {
			t.Fatal(err)
		}
		truth[status] = n
	}
	return truth
}

// checkCounts compares the kept counts of messages and subscribers, and
// the queue depth, with the rows.
func checkCounts(t *testing.T, st *store.Store, path, after string) {
	t.Helper()
	truth := outboxTruth(t, path)
	kept, err := st.MessageCounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(kept, truth) {
		t.Errorf("after %s: counts %v, the outbox holds %v", after, kept, truth)
	}
	subscribers, err := st.CountSubscribers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := subscriberTruth(t, path); !maps.Equal(subscribers, want) {
		t.Errorf("after %s: subscriber counts %v, the table holds %v", after, subscribers, want)
	}
	depth, err := st.QueueDepth(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := truth["queued"] + truth["sending"]; depth != want {
		t.Errorf("after %s: queue depth %d, want %d", after, depth, want)
	}
}

// statusOf reads one message's status from the file.
func statusOf(t *testing.T, path string, id int64) string {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var status string
	if err := db.QueryRow("SELECT status FROM outbox WHERE id = ?", id).Scan(&status); err != nil {
		t.Fatal(err)
	}
	return status
}

// TestDeadProcessClaimsComeBackAtOnceAndLiveOnesStay has two processes
// claim a digest's deliveries in one database: one is dead (its sent log
// is left unlocked, as kill -9 leaves it), the other lives. Folding the
// dead one's log records what it sent and hands back the rest of its
// claims, due at once, long before their lease ends; the live process's
// claims stay its own, even beside a file of its own that is not locked.
func TestDeadProcessClaimsComeBackAtOnceAndLiveOnesStay(t *testing.T) {
	ctx := context.Background()
	st, path, digest, _ := sentLogRig(t)
	// sentLogRig claimed all six without a claimant; hand them back.
	if err := st.ReleaseMessages(ctx, day0, allIDs(t, path)); err != nil {
		t.Fatal(err)
	}
	lease := day0.Add(time.Hour)
	dead, err := st.ClaimMessages(ctx, "DEAD", day0, lease, 3)
	if err != nil || len(dead) != 3 {
		t.Fatalf("dead process claimed %d: %v", len(dead), err)
	}
	live, err := st.OpenSentLog()
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close(ctx, day0)
	mine, err := st.ClaimMessages(ctx, live.Holder(), day0, lease, 3)
	if err != nil || len(mine) != 3 {
		t.Fatalf("live process claimed %d: %v", len(mine), err)
	}
	// The dead process sent its first message and logged it; kill -9
	// left its log unlocked.
	if err := os.WriteFile(path+"-sent-DEAD.1", fmt.Appendf(nil, "%d %d\n", dead[0].ID, digest), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file of the live holder's that no one locks: the holder still
	// locks another, so none of its files or claims may be touched.
	stray := path + "-sent-" + live.Holder() + ".99"
	if err := os.WriteFile(stray, fmt.Appendf(nil, "%d %d\n", mine[0].ID, digest), 0o600); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, st, path, "the claims")

	released, err := st.FoldAbandonedSentLogs(ctx, day0.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if released != 2 {
		t.Errorf("released %d, want the dead process's 2 unsent claims", released)
	}
	if s := statusOf(t, path, dead[0].ID); s != "sent" {
		t.Errorf("the dead process's logged message is %q, want sent", s)
	}
	for _, m := range mine {
		if s := statusOf(t, path, m.ID); s != "sending" {
			t.Errorf("the live process's claim %d is %q, want still sending", m.ID, s)
		}
	}
	if _, err := os.Stat(stray); err != nil {
		t.Errorf("the live holder's unlocked file was touched: %v", err)
	}
	checkCounts(t, st, path, "the fold")

	// Due at once, not when the hour's lease ends: another claim takes
	// exactly the dead process's two unsent messages.
	again, err := st.ClaimMessages(ctx, "NEXT", day0.Add(time.Second), day0.Add(2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int64]bool{dead[1].ID: true, dead[2].ID: true}
	if len(again) != 2 || !want[again[0].ID] || !want[again[1].ID] {
		t.Errorf("claimed %v after the fold, want the dead process's unsent %d and %d", ids(again), dead[1].ID, dead[2].ID)
	}
	if d, err := st.Digest(ctx, digest); err != nil || d.Sent != 1 {
		t.Errorf("digest %+v (%v), want 1 sent", d, err)
	}
}

func ids(ms []alertd.Message) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func allIDs(t *testing.T, path string) []int64 {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM outbox ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}
