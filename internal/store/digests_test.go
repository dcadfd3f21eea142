package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st := alerttest.OpenStore(t, filepath.Join(t.TempDir(), "alertd.db"))
	return st
}

var day0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

type fixtureReport struct {
	guid       string
	published  time.Time
	backfilled bool
	topics     []string
}

type fixtureSubscriber struct {
	email  string
	status alertd.SubscriberStatus
	topics []string
}

func seed(t *testing.T, st *store.Store, reports []fixtureReport, subscribers []fixtureSubscriber) map[string]int64 {
	t.Helper()
	ids := map[string]int64{}
	err := st.Write(context.Background(), func(tx *store.Tx) error {
		for _, r := range reports {
			_, _, err := tx.AddReport(alertd.Report{
				GUID: r.guid, URL: "https://example.org/" + r.guid, Title: r.guid, PublishedAt: r.published,
				Topics: r.topics, CreatedAt: day0,
			}, r.backfilled)
			if err != nil {
				return err
			}
		}
		for _, s := range subscribers {
			id, _, err := tx.InsertSubscriber(s.email, alertd.Subscriber{
				Email: s.email, Status: s.status, Topics: s.topics, CreatedAt: day0,
				Consent: alertd.Consent{SignupAt: day0},
			}, store.Confirmation{})
			if err != nil {
				return err
			}
			ids[s.email] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// compileDigest compiles the next digest with sel, in one transaction.
// compileDigest compiles a digest with sel, of the one series weekly
// unless sel names its series.
func compileDigest(ctx context.Context, st *store.Store, sel store.DigestSelection) (d alertd.Digest, created bool, err error) {
	if sel.Frequency == "" {
		sel.Frequency, sel.Series = alertd.DefaultFrequency, []string{alertd.DefaultFrequency}
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		d, created, err = tx.CompileDigest(sel)
		return err
	})
	return d, created, err
}

// TestDigestDeliveries proves that a compile records one delivery per
// confirmed subscriber whose topics match, and none for the others.
func TestDigestDeliveries(t *testing.T) {
	st := openStore(t)
	ids := seed(t, st,
		[]fixtureReport{
			{guid: "energy-report", published: day0.Add(-time.Hour), topics: []string{"energy"}},
			{guid: "general", published: day0.Add(-time.Hour)},
		},
		[]fixtureSubscriber{
			{email: "all@example.org", status: alertd.StatusConfirmed},
			{email: "energy@example.org", status: alertd.StatusConfirmed, topics: []string{"energy", "water"}},
			{email: "water@example.org", status: alertd.StatusConfirmed, topics: []string{"water"}},
			{email: "pending@example.org", status: alertd.StatusPending},
			{email: "gone@example.org", status: alertd.StatusUnsubscribed},
		})
	ctx := context.Background()
	d, created, err := compileDigest(ctx, st, store.DigestSelection{Until: day0})
	if err != nil || !created {
		t.Fatalf("compile: %v %v", created, err)
	}
	if d.Recipients != 2 || d.Pending != 2 {
		t.Fatalf("recipients = %d, pending = %d; want 2 (all, energy)", d.Recipients, d.Pending)
	}
	claimed, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, m := range claimed {
		if m.Kind != "digest" || m.DigestID != d.ID {
			t.Fatalf("claimed %+v, want digest deliveries of digest %d", m, d.ID)
		}
		// The claim brings the recipient along, for the send-time check.
		if m.Recipient == nil || m.Recipient.ID != m.SubscriberID || m.Recipient.Status != alertd.StatusConfirmed {
			t.Fatalf("message %d claimed with recipient %+v, want confirmed subscriber %d", m.ID, m.Recipient, m.SubscriberID)
		}
		got = append(got, m.SubscriberID)
	}
	slices.Sort(got)
	want := []int64{ids["all@example.org"], ids["energy@example.org"]}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries to %v, want %v", got, want)
	}
}

// TestDigestRecipientsFollowReportsFor proves that the compile's SQL
// chooses the recipients by the topic rule of alertd.ReportsFor: a copy
// for exactly the confirmed subscribers to whom it leaves a report.
func TestDigestRecipientsFollowReportsFor(t *testing.T) {
	reports := []fixtureReport{
		{guid: "energy", published: day0.Add(-time.Hour), topics: []string{"energy"}},
		{guid: "water-air", published: day0.Add(-time.Hour), topics: []string{"water", "air"}},
		{guid: "general", published: day0.Add(-time.Hour)},
	}
	choices := [][]string{nil, {"energy"}, {"air"}, {"soil"}, {"soil", "water"}, {"energy", "air"}}
	for _, offered := range [][]fixtureReport{reports, reports[:1], reports[1:2], reports[2:]} {
		st := openStore(t)
		var subscribers []fixtureSubscriber
		for i, topics := range choices {
			subscribers = append(subscribers, fixtureSubscriber{email: fmt.Sprintf("s%d@example.org", i), status: alertd.StatusConfirmed, topics: topics})
		}
		ids := seed(t, st, offered, subscribers)
		ctx := context.Background()
		d, _, err := compileDigest(ctx, st, store.DigestSelection{Until: day0})
		if err != nil {
			t.Fatal(err)
		}
		announced, err := st.DigestReports(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		var want []int64
		for _, s := range subscribers {
			if len(alertd.ReportsFor(announced, s.topics)) > 0 {
				want = append(want, ids[s.email])
			}
		}
		claimed, err := st.ClaimMessages(ctx, "", day0, day0.Add(time.Minute), len(subscribers)+1)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for _, m := range claimed {
			got = append(got, m.SubscriberID)
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) || d.Recipients != len(want) {
			t.Errorf("reports %v: copies for %v (recipients %d), ReportsFor gives %v", offered, got, d.Recipients, want)
		}
	}
}

// TestDigestDeliveriesAreClaimedOnce proves the claim path of fresh digest
// deliveries: each is handed out once, a released one comes back, one whose
// worker vanished comes back when its lease ends, and the digest's counts
// follow the outcomes exactly.
func TestDigestDeliveriesAreClaimedOnce(t *testing.T) {
	st := openStore(t)
	var subscribers []fixtureSubscriber
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		subscribers = append(subscribers, fixtureSubscriber{email: name + "@example.org", status: alertd.StatusConfirmed})
	}
	seed(t, st, []fixtureReport{{guid: "r", published: day0.Add(-time.Hour)}}, subscribers)
	ctx := context.Background()
	d, _, err := compileDigest(ctx, st, store.DigestSelection{Until: day0})
	if err != nil {
		t.Fatal(err)
	}
	lease := time.Minute
	claim := func(at time.Time, n int) []alertd.Message {
		t.Helper()
		ms, err := st.ClaimMessages(ctx, "", at, at.Add(lease), n)
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	record := func(status alertd.MessageStatus, ms ...alertd.Message) {
		t.Helper()
		err := st.Write(ctx, func(tx *store.Tx) error {
			for _, m := range ms {
				if err := tx.RecordOutcome(day0, alertd.Outcome{ID: m.ID, DigestID: m.DigestID, SubscriberID: m.SubscriberID, Status: status}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	first := claim(day0, 2)
	second := claim(day0, 2)
	if len(first) != 2 || len(second) != 2 || first[0].ID == second[0].ID || first[1].ID == second[1].ID {
		t.Fatalf("claims overlap or fall short: %v %v", first, second)
	}
	record(alertd.MessageSent, first...)

	// A graceful stop hands second[1] back; a crash abandons second[0].
	if err := st.ReleaseMessages(ctx, day0, []int64{second[1].ID}); err != nil {
		t.Fatal(err)
	}
	third := claim(day0, 5)
	if len(third) != 2 {
		t.Fatalf("after the release, claimed %d, want the released one and the last fresh one", len(third))
	}
	for _, m := range third {
		if m.Attempts != 1 {
			t.Errorf("message %d has %d attempts; a released claim must not count as one", m.ID, m.Attempts)
		}
	}
	record(alertd.MessageSent, third...)
	if again := claim(day0.Add(lease/2), 5); len(again) != 0 {
		t.Fatalf("claimed %v while the abandoned lease still runs", again)
	}
	recovered := claim(day0.Add(lease), 5)
	if len(recovered) != 1 || recovered[0].ID != second[0].ID || recovered[0].Attempts != 2 {
		t.Fatalf("after the lease, claimed %+v, want the abandoned message on its second attempt", recovered)
	}
	record(alertd.MessageFailed, recovered...)
	record(alertd.MessageSent, recovered...) // a late duplicate report changes nothing

	got, err := st.Digest(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Sent != 4 || got.Failed != 1 || got.Pending != 0 || got.Status != "done" {
		t.Fatalf("digest counts %+v, want 4 sent, 1 failed, done", got)
	}
	if _, ok, err := st.NextDue(ctx, day0.Add(time.Hour)); err != nil || ok {
		t.Fatalf("NextDue = %v, %v; want an empty queue", ok, err)
	}
}
