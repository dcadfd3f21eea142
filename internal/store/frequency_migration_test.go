package store

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alertd/alertd"
)

// TestFrequenciesMigrationPutsTheExistingSeriesInWeekly proves that an
// installation from before frequencies keeps working as it did: its
// subscribers and digests are the series weekly, the reports its digests
// announced are announced in that series (so its next digest takes only
// the new one), the counts per topic choice carry over, and the
// scheduler's last run is that series'.
func TestFrequenciesMigrationPutsTheExistingSeriesInWeekly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alertd.db")
	st := openAt(t, path, migrationsBefore(t, "0014"))
	day0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	for _, q := range []string{
		`INSERT INTO subscribers (email, email_key, status, topics, created_at, signup_at, confirmed_at)
			VALUES ('a', 'a', 'confirmed', '["x"]', 0, 0, 0), ('b', 'b', 'confirmed', '[]', 0, 0, 0), ('c', 'c', 'pending', '[]', 0, 0, NULL)`,
		`INSERT INTO digests (created_at, reports, recipients) VALUES (0, 1, 2)`,
		`INSERT INTO reports (guid, url, title, published_at, created_at, digest_id) VALUES ('old', 'u1', 'Old', 0, 0, 1)`,
		`INSERT INTO settings (key, value) VALUES ('digest.last_scheduled_run', '2026-03-02T08:00:00Z')`,
	} {
		if _, err := st.write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	st = openAt(t, path, alertd.Migrations())
	defer st.Close()
	ctx := context.Background()
	var frequencies []string
	if err := st.Subscribers(ctx, "", func(s alertd.Subscriber) error {
		frequencies = append(frequencies, s.Frequency)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(frequencies, []string{"weekly", "weekly", "weekly"}) {
		t.Errorf("subscribers' frequencies = %v, want weekly for all", frequencies)
	}
	if d, err := st.Digest(ctx, 1); err != nil || d.Frequency != "weekly" {
		t.Errorf("digest 1: %+v %v, want frequency weekly", d, err)
	}
	if v, err := st.Setting(ctx, "digest.last_scheduled_run.weekly"); err != nil || v != "2026-03-02T08:00:00Z" {
		t.Errorf("weekly's last run = %q %v", v, err)
	}
	if _, err := st.write.Exec(`INSERT INTO reports (guid, url, title, published_at, created_at) VALUES ('new', 'u2', 'New', ?, ?)`,
		millis(day0), millis(day0)); err != nil {
		t.Fatal(err)
	}
	err := st.Write(ctx, func(tx *Tx) error {
		any, err := tx.AnyDigest("weekly")
		if err != nil || !any {
			t.Errorf("weekly has a digest: %v %v, want true", any, err)
		}
		choices, err := tx.ConfirmedTopicChoices("weekly")
		if err != nil || len(choices) != 2 {
			t.Errorf("weekly's topic choices = %+v %v, want two of one reader each", choices, err)
		}
		d, created, err := tx.CompileDigest(DigestSelection{Frequency: "weekly", Series: []string{"weekly"}, Until: day0.Add(time.Hour)})
		if err != nil || !created || d.Reports != 1 || d.Recipients != 1 {
			t.Errorf("next weekly digest: %+v %v %v, want the new report alone, to the reader without topics", d, created, err)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if reports, err := st.DigestReports(ctx, 2); err != nil || len(reports) != 1 || reports[0].GUID != "new" {
		t.Errorf("digest 2 announced %+v %v, want only the new report", reports, err)
	}
}
