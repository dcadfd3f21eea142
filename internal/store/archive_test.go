package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
)

// TestArchivedDigestsFollowDigestArchived proves that the archive's query
// lists exactly the digests alertd.Digest.Archived admits, newest first and
// page by page, each counting only its reports not retracted.
func TestArchivedDigestsFollowDigestArchived(t *testing.T) {
	st := openStore(t)
	ctx := context.Background()
	// Each case's digest announces reports of its own topic, chosen by as
	// many readers as it has outcomes; "pending" leaves a copy unsent.
	cases := []struct {
		name     string
		outcomes []alertd.MessageStatus
		reports  int
		retract  int
		archived bool
	}{
		{"for nobody", nil, 1, 0, false},
		{"on its way", []alertd.MessageStatus{"pending"}, 1, 0, true},
		{"partly sent", []alertd.MessageStatus{alertd.MessageSent, alertd.MessageFailed}, 2, 0, true},
		{"every copy failed", []alertd.MessageStatus{alertd.MessageFailed, alertd.MessageFailed}, 1, 0, false},
		{"failed or cancelled", []alertd.MessageStatus{alertd.MessageCancelled, alertd.MessageFailed}, 1, 0, false},
		{"sent, one report retracted", []alertd.MessageStatus{alertd.MessageSent}, 3, 1, true},
		{"sent, every report retracted", []alertd.MessageStatus{alertd.MessageSent, alertd.MessageCancelled}, 2, 2, true},
	}
	var subscribers []fixtureSubscriber
	for i, c := range cases {
		for j := range c.outcomes {
			subscribers = append(subscribers, fixtureSubscriber{email: fmt.Sprintf("r%d-%d@example.org", i, j),
				status: alertd.StatusConfirmed, topics: []string{fmt.Sprint("t", i)}})
		}
	}
	seed(t, st, nil, subscribers)

	var want []int64
	remaining := map[int64]int{}
	for i, c := range cases {
		at := day0.Add(time.Duration(i) * time.Hour)
		var ids []int64
		err := st.Write(ctx, func(tx *store.Tx) error {
			for j := range c.reports {
				rep, _, err := tx.AddReport(alertd.Report{
					GUID: fmt.Sprintf("c%d-%d", i, j), URL: "https://example.org/r", Title: "r",
					PublishedAt: at.Add(-time.Minute), Topics: []string{fmt.Sprint("t", i)}, CreatedAt: at,
				}, false)
				if err != nil {
					return err
				}
				ids = append(ids, rep.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		d, created, err := compileDigest(ctx, st, store.DigestSelection{Until: at})
		if err != nil || !created || d.Recipients != len(c.outcomes) {
			t.Fatalf("%s: compiled %+v (%v), %v", c.name, d, created, err)
		}
		// The lease outlives the test, so a pending copy stays with its claim.
		claimed, err := st.ClaimMessages(ctx, "", at, at.Add(100*time.Hour), 100)
		if err != nil || len(claimed) != len(c.outcomes) {
			t.Fatalf("%s: claimed %d of %d: %v", c.name, len(claimed), len(c.outcomes), err)
		}
		err = st.Write(ctx, func(tx *store.Tx) error {
			for j, m := range claimed {
				if c.outcomes[j] == "pending" {
					continue
				}
				if err := tx.RecordOutcome(at, alertd.Outcome{ID: m.ID, DigestID: m.DigestID, SubscriberID: m.SubscriberID, Status: c.outcomes[j]}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids[:c.retract] {
			if _, _, err := st.RetractReport(ctx, id, at); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.Digest(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Archived() != c.archived {
			t.Errorf("%s: %+v Archived() = %v, want %v", c.name, got, got.Archived(), c.archived)
		}
		if c.archived {
			want = append([]int64{d.ID}, want...)
			remaining[d.ID] = c.reports - c.retract
		}
	}

	listed, err := st.ArchivedDigests(ctx, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, d := range listed {
		got = append(got, d.ID)
		if !d.Archived() {
			t.Errorf("digest %d is listed but not Archived(): %+v", d.ID, d)
		}
		if d.Reports != remaining[d.ID] {
			t.Errorf("digest %d counts %d reports, want %d (retracted ones left out)", d.ID, d.Reports, remaining[d.ID])
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("archive lists %v, want %v", got, want)
	}

	var paged []int64
	for before := int64(0); ; {
		page, err := st.ArchivedDigests(ctx, 2, before)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page {
			paged = append(paged, d.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paging two at a time lists %v, want %v", paged, want)
	}
}
