package catalogue_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/catalogue"
	"github.com/alertd/alertd/internal/store"
)

var day0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

type fixtureReport struct {
	guid       string
	published  time.Time
	backfilled bool
}

// seed opens a fresh store holding the reports and one confirmed
// subscriber.
func seed(t *testing.T, reports []fixtureReport) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Write(context.Background(), func(tx *store.Tx) error {
		for _, r := range reports {
			_, _, err := tx.AddReport(alertd.Report{
				GUID: r.guid, URL: "https://example.org/" + r.guid, Title: r.guid, PublishedAt: r.published, CreatedAt: day0,
			}, r.backfilled)
			if err != nil {
				return err
			}
		}
		_, _, err := tx.InsertSubscriber("r@example.org", alertd.Subscriber{
			Email: "r@example.org", Status: alertd.StatusConfirmed, CreatedAt: day0,
			Consent: alertd.Consent{SignupAt: day0},
		}, store.Confirmation{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func guids(reports []alertd.Report) []string {
	var out []string
	for _, r := range reports {
		out = append(out, r.GUID)
	}
	slices.Sort(out)
	return out
}

// TestDigestSelection proves the selection rules, with the clock
// injected: the first window, the embargo, backfill, nothing new, and that
// each report is announced once.
func TestDigestSelection(t *testing.T) {
	week := 7 * 24 * time.Hour
	tests := []struct {
		name    string
		reports []fixtureReport
		// compiles happen at these times, in order; want lists each one's
		// reports (nil = no digest).
		at   []time.Time
		want [][]string
	}{
		{
			name: "first digest only takes the first window, and the archive never comes later",
			reports: []fixtureReport{
				{guid: "recent", published: day0.Add(-24 * time.Hour)},
				{guid: "old", published: day0.Add(-30 * 24 * time.Hour)},
			},
			at:   []time.Time{day0, day0.Add(week)},
			want: [][]string{{"recent"}, nil},
		},
		{
			name: "a report published in the future waits for its time",
			reports: []fixtureReport{
				{guid: "now", published: day0.Add(-time.Hour)},
				{guid: "embargoed", published: day0.Add(3 * 24 * time.Hour)},
			},
			at:   []time.Time{day0, day0.Add(24 * time.Hour), day0.Add(week)},
			want: [][]string{{"now"}, nil, {"embargoed"}},
		},
		{
			name: "backfilled reports are never announced",
			reports: []fixtureReport{
				{guid: "archive", published: day0.Add(-time.Hour), backfilled: true},
				{guid: "fresh", published: day0.Add(-time.Hour)},
			},
			at:   []time.Time{day0},
			want: [][]string{{"fresh"}},
		},
		{
			name: "nothing new: no digest",
			at:   []time.Time{day0},
			want: [][]string{nil},
		},
		{
			name: "each report is announced once",
			reports: []fixtureReport{
				{guid: "a", published: day0.Add(-time.Hour)},
				{guid: "b", published: day0.Add(2 * 24 * time.Hour)},
			},
			at:   []time.Time{day0, day0.Add(week), day0.Add(2 * week)},
			want: [][]string{{"a"}, {"b"}, nil},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := seed(t, tc.reports)
			var now time.Time
			cat := catalogue.NewService(st, catalogue.Rules{FirstWindow: week}, func() time.Time { return now }, func() {})
			ctx := context.Background()
			for i, at := range tc.at {
				now = at
				preview, err := cat.NextDigest(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				d, created, err := cat.CompileDigest(ctx, "")
				if err != nil {
					t.Fatal(err)
				}
				if created != (tc.want[i] != nil) {
					t.Fatalf("compile %d at %s: created = %v, want reports %v", i, at, created, tc.want[i])
				}
				if !slices.Equal(guids(preview), tc.want[i]) {
					t.Fatalf("compile %d: preview %v, want %v", i, guids(preview), tc.want[i])
				}
				if !created {
					continue
				}
				announced, err := st.DigestReports(ctx, d.ID)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(guids(announced), tc.want[i]) || d.Reports != len(tc.want[i]) {
					t.Fatalf("compile %d announced %v (count %d), want %v", i, guids(announced), d.Reports, tc.want[i])
				}
			}
		})
	}
}
