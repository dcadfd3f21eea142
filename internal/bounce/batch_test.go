package bounce

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/alertd/alertd"
	"github.com/alertd/alertd/internal/store"
	dto "github.com/prometheus/client_model/go"
)

// TestReportsCommittedTogetherEachCountOnce: reports recorded at once (the
// receiver's sessions, the poller, webhooks) are committed in one
// transaction, and still each kept and applied exactly once: a report
// heard twice in the same commit counts once, soft bounces in one commit
// count towards the limit together, and a report that fails loses none of
// the others.
func TestReportsCommittedTogetherEachCountOnce(t *testing.T) {
	const hard = 40
	hardEmail := func(i int) string { return fmt.Sprintf("hard%d@example.org", i) }
	emails := []string{"soft2@example.org", "soft3@example.org"}
	for i := range hard {
		emails = append(emails, hardEmail(i))
	}
	r := newRig(t, emails...)
	ctx := context.Background()

	type report struct {
		b       alertd.Bounce
		applied bool
		err     error
	}
	var reports []*report
	add := func(b alertd.Bounce, copies int) {
		for range copies {
			reports = append(reports, &report{b: b})
		}
	}
	for i := range hard {
		id := r.message(hardEmail(i))
		// Each DSN twice (a redelivery), and one report the store refuses
		// (a kind it does not know) beside every fifth.
		add(alertd.Bounce{Kind: alertd.BounceHard, Source: alertd.SourceDSN, MessageID: id, Status: "5.1.1", Key: fmt.Sprintf("hard-%d", i)}, 2)
		if i%5 == 0 {
			add(alertd.Bounce{Kind: "bogus", Source: alertd.SourceDSN, MessageID: id, Key: fmt.Sprintf("bogus-%d", i)}, 1)
		}
	}
	for _, soft := range []struct {
		email    string
		messages int
	}{{"soft2@example.org", 2}, {"soft3@example.org", 3}} {
		for m := range soft.messages {
			add(alertd.Bounce{Kind: alertd.BounceSoft, Source: alertd.SourceDSN, MessageID: r.message(soft.email), Status: "4.4.1",
				Key: fmt.Sprintf("%s-%d", soft.email, m)}, 2)
		}
	}

	// Hold the writer inside one write so that every report queues up
	// behind it and they are then committed together.
	started, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- r.store.Write(ctx, func(*store.Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started
	var wg sync.WaitGroup
	for _, rep := range reports {
		wg.Go(func() { rep.applied, rep.err = r.svc.Record(ctx, rep.b) })
	}
	for r.store.QueuedWrites() < len(reports) {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatalf("blocking write: %v", err)
	}

	applied := map[string]int{}
	for _, rep := range reports {
		switch {
		case rep.b.Kind == "bogus" && rep.err == nil:
			t.Errorf("report %s: recorded, want the store's refusal", rep.b.Key)
		case rep.b.Kind != "bogus" && rep.err != nil:
			t.Errorf("report %s: %v", rep.b.Key, rep.err)
		case rep.applied:
			applied[rep.b.Key]++
		}
	}
	wantKept := hard + 2 + 3
	if len(applied) != wantKept {
		t.Errorf("%d reports applied, want %d", len(applied), wantKept)
	}
	for key, n := range applied {
		if n != 1 {
			t.Errorf("report %s applied %d times, want once", key, n)
		}
	}
	if bs := r.bounces(); len(bs) != wantKept {
		t.Errorf("kept %d bounces, want %d", len(bs), wantKept)
	}
	for i := range hard {
		r.wantStatus(hardEmail(i), alertd.StatusBounced)
	}
	r.wantStatus("soft2@example.org", alertd.StatusConfirmed)
	r.wantStatus("soft3@example.org", alertd.StatusBounced)
	var m dto.Metric
	if err := r.metrics.Bounces.WithLabelValues("hard", "dsn").Write(&m); err != nil || m.GetCounter().GetValue() != hard {
		t.Errorf("bounces{hard,dsn} = %v (%v), want %d", m.GetCounter().GetValue(), err, hard)
	}
	counts, err := r.svc.Counts(ctx, 1)
	if err != nil || counts[alertd.BounceHard] != hard || counts[alertd.BounceSoft] != 5 {
		t.Errorf("counts of the day = %v (%v), want %d hard and 5 soft", counts, err, hard)
	}
}
