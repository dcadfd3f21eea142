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

// sentLogRig is a digest to six subscribers whose deliveries are all
// claimed, in a database at path.
func sentLogRig(t *testing.T) (st *store.Store, path string, digest int64, claimed []alertd.Message) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "alertd.db")
	st = alerttest.OpenStore(t, path)
	var subscribers []fixtureSubscriber
	for i := range 6 {
		subscribers = append(subscribers, fixtureSubscriber{email: fmt.Sprintf("s%d@example.org", i), status: alertd.StatusConfirmed})
	}
	seed(t, st, []fixtureReport{{guid: "r", published: day0.Add(-time.Hour)}}, subscribers)
	d, _, err := compileDigest(context.Background(), st, store.DigestSelection{Until: day0})
	if err != nil {
		t.Fatal(err)
	}
	claimed, err = st.ClaimMessages(context.Background(), "", day0, day0.Add(time.Minute), 6)
	if err != nil || len(claimed) != 6 {
		t.Fatalf("claimed %d: %v", len(claimed), err)
	}
	return st, path, d.ID, claimed
}

func sentCount(t *testing.T, st *store.Store, digest int64) int {
	t.Helper()
	d, err := st.Digest(context.Background(), digest)
	if err != nil {
		t.Fatal(err)
	}
	return d.Sent
}

func sentLogs(t *testing.T, path string) []string {
	t.Helper()
	logs, err := filepath.Glob(path + "-sent-*")
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// TestSentLogFoldsEachMessageOnce proves the live path: records reach the
// outbox and the digest's count at a fold, and only once however often
// they are folded; closing folds the rest and leaves no file behind.
func TestSentLogFoldsEachMessageOnce(t *testing.T) {
	ctx := context.Background()
	st, path, digest, claimed := sentLogRig(t)
	log, err := st.OpenSentLog()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range claimed[:4] {
		if err := log.Record(m.ID, m.DigestID); err != nil {
			t.Fatal(err)
		}
	}
	if n := sentCount(t, st, digest); n != 0 {
		t.Errorf("before the fold: %d sent, want 0", n)
	}
	if err := log.Fold(ctx, day0); err != nil {
		t.Fatal(err)
	}
	if n := sentCount(t, st, digest); n != 4 {
		t.Errorf("after the fold: %d sent, want 4", n)
	}
	// A record of a message recorded already (a log folded twice after a
	// crash) moves no count.
	for _, m := range claimed[3:5] {
		if err := log.Record(m.ID, m.DigestID); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(ctx, day0); err != nil {
		t.Fatal(err)
	}
	if n := sentCount(t, st, digest); n != 5 {
		t.Errorf("after the close: %d sent, want 5", n)
	}
	if logs := sentLogs(t, path); len(logs) != 0 {
		t.Errorf("files left after the close: %v", logs)
	}
}

// TestAbandonedSentLogsAreFoldedAndLiveOnesLeftAlone proves the crash
// path: the log of a process that died, down to a line its death cut
// short, is folded by the next and removed, while a live process's log is
// not touched.
func TestAbandonedSentLogsAreFoldedAndLiveOnesLeftAlone(t *testing.T) {
	ctx := context.Background()
	st, path, digest, claimed := sentLogRig(t)
	// What a killed process leaves: its lines, the last one cut short,
	// and no lock.
	dead := path + "-sent-DEAD"
	content := fmt.Sprintf("%d %d\n%d %d\n%d", claimed[0].ID, digest, claimed[1].ID, digest, claimed[2].ID)
	if err := os.WriteFile(dead, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	live, err := st.OpenSentLog()
	if err != nil {
		t.Fatal(err)
	}
	if err := live.Record(claimed[3].ID, digest); err != nil {
		t.Fatal(err)
	}

	if _, err := st.FoldAbandonedSentLogs(ctx, day0); err != nil {
		t.Fatal(err)
	}
	if n := sentCount(t, st, digest); n != 2 {
		t.Errorf("after folding the dead log: %d sent, want 2 (its whole lines)", n)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead log is still there (%v)", err)
	}
	if logs := sentLogs(t, path); len(logs) != 1 {
		t.Errorf("logs %v, want only the live one", logs)
	}
	if err := live.Close(ctx, day0); err != nil {
		t.Fatal(err)
	}
	if n := sentCount(t, st, digest); n != 3 {
		t.Errorf("after the live log's close: %d sent, want 3", n)
	}
}
