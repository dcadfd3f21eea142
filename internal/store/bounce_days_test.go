package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/alertd/alertd"
)

// TestBounceDaysMigrationTakesOutUnmatchedReports: the daily counts kept
// before counted every bounce; after the migration they count only those
// matched to a subscriber, as the trigger does from then on.
func TestBounceDaysMigrationTakesOutUnmatchedReports(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertd.db")
	st := openAt(t, path, migrationsBefore(t, "0015"))
	day := millis(utcDay(3, 2))
	for i, b := range []struct {
		kind       string
		subscriber int64
	}{{"hard", 1}, {"hard", 0}, {"complaint", 0}, {"soft", 2}, {"soft", 0}} {
		if _, err := st.write.Exec(`INSERT INTO bounces (at, kind, source, subscriber_id, key) VALUES (?, ?, 'dsn', ?, ?)`,
			day+int64(i), b.kind, b.subscriber, i); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	st = openAt(t, path, alertd.Migrations())
	defer st.Close()
	counts, err := st.BounceDays(context.Background(), utcDay(3, 1), utcDay(3, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts[alertd.BounceHard] != 1 || counts[alertd.BounceSoft] != 1 {
		t.Errorf("counts after the migration = %v, want hard 1 and soft 1", counts)
	}
	if _, err := st.write.Exec(`INSERT INTO bounces (at, kind, source, subscriber_id, key) VALUES (?, 'complaint', 'arf', 0, 'later')`, day); err != nil {
		t.Fatal(err)
	}
	if counts, _ = st.BounceDays(context.Background(), utcDay(3, 1), utcDay(3, 3)); counts[alertd.BounceComplaint] != 0 {
		t.Errorf("an unmatched complaint counted: %v", counts)
	}
}
