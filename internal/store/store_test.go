// These tests sit inside the package: the group-commit test must know that
// every write it sends is waiting in the batch queue before it lets the
// writer go, and only the package can see that queue.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/alertd/alertd"
)

func openAt(t *testing.T, path string, migrations fs.FS) *Store {
	t.Helper()
	st, err := Open(context.Background(), path, migrations)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return st
}

// appliedMigrations lists the versions recorded in schema_migrations.
func appliedMigrations(t *testing.T, st *Store) []string {
	t.Helper()
	rows, err := st.read.Query("SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var versions []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return versions
}

func TestOpenRecordsEveryEmbeddedMigrationAndReopensWithoutReapplying(t *testing.T) {
	names, err := fs.Glob(alertd.Migrations(), "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v, %v", names, err)
	}
	var want []string
	for _, name := range names {
		want = append(want, strings.TrimSuffix(name, ".sql"))
	}
	path := filepath.Join(t.TempDir(), "alertd.db")
	// A second Open would fail on CREATE TABLE if it ran a migration again.
	for round := range 2 {
		st := openAt(t, path, alertd.Migrations())
		got := appliedMigrations(t, st)
		st.Close()
		if !slices.Equal(got, want) {
			t.Errorf("open %d: schema_migrations = %v, want %v", round+1, got, want)
		}
	}
}

func TestOpenAppliesOnlyNewMigrationsInOrder(t *testing.T) {
	migrations := fstest.MapFS{
		"0002_second.sql": {Data: []byte("INSERT INTO applied (n) VALUES (2);")},
		"0001_first.sql":  {Data: []byte("CREATE TABLE applied (n INTEGER NOT NULL); INSERT INTO applied (n) VALUES (1);")},
	}
	path := filepath.Join(t.TempDir(), "alertd.db")
	openAt(t, path, migrations).Close()
	openAt(t, path, migrations).Close()
	migrations["0003_third.sql"] = &fstest.MapFile{Data: []byte("INSERT INTO applied (n) VALUES (3);")}
	st := openAt(t, path, migrations)
	defer st.Close()

	if got, want := appliedMigrations(t, st), []string{"0001_first", "0002_second", "0003_third"}; !slices.Equal(got, want) {
		t.Errorf("schema_migrations = %v, want %v", got, want)
	}
	var ran []int
	rows, err := st.read.Query("SELECT n FROM applied ORDER BY rowid")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		ran = append(ran, n)
	}
	if want := []int{1, 2, 3}; !slices.Equal(ran, want) {
		t.Errorf("migration statements ran as %v, want %v (each once, in order)", ran, want)
	}
}

func TestOpenRefusesABrokenMigrationAndRecordsNoneOfIt(t *testing.T) {
	migrations := fstest.MapFS{
		"0001_first.sql":  {Data: []byte("CREATE TABLE applied (n INTEGER NOT NULL);")},
		"0002_broken.sql": {Data: []byte("INSERT INTO applied (n) VALUES (2); INSERT INTO nowhere VALUES (1);")},
	}
	path := filepath.Join(t.TempDir(), "alertd.db")
	_, err := Open(context.Background(), path, migrations)
	if err == nil || !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Fatalf("Open = %v, want an error naming 0002_broken.sql", err)
	}
	delete(migrations, "0002_broken.sql")
	st := openAt(t, path, migrations)
	defer st.Close()
	if got := appliedMigrations(t, st); !slices.Equal(got, []string{"0001_first"}) {
		t.Errorf("schema_migrations = %v, want only 0001_first", got)
	}
	var n int
	if err := st.read.QueryRow("SELECT count(*) FROM applied").Scan(&n); err != nil || n != 0 {
		t.Errorf("rows left by the broken migration = %d (%v), want 0", n, err)
	}
}

var errRefused = errors.New("refused by the test")

func TestWriteGroupCommitRollsBackOnlyTheFailingWrites(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	const writes = 120 // fewer than maxBatch, so all share one transaction
	fails := func(i int) bool { return i%3 == 0 }
	email := func(i int) string { return fmt.Sprintf("writer%d@example.org", i) }

	// Hold the writer inside one write so that the others queue up behind it
	// and are then committed together.
	started, release := make(chan struct{}), make(chan struct{})
	blocked := make(chan error, 1)
	go func() {
		blocked <- st.Write(ctx, func(*Tx) error {
			close(started)
			<-release
			return nil
		})
	}()
	<-started

	results := make([]error, writes)
	var wg sync.WaitGroup
	for i := range writes {
		wg.Go(func() {
			results[i] = st.Write(ctx, func(tx *Tx) error {
				id, _, err := tx.InsertSubscriber(email(i), alertd.Subscriber{
					Email: email(i), Status: alertd.StatusPending, CreatedAt: now,
					Consent: alertd.Consent{SignupAt: now},
				}, Confirmation{})
				if err != nil {
					return err
				}
				if _, err := tx.Enqueue(alertd.KindConfirmation, id, "", now); err != nil {
					return err
				}
				if fails(i) {
					return fmt.Errorf("writer %d: %w", i, errRefused)
				}
				return nil
			})
		})
	}
	for st.QueuedWrites() < writes {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	if err := <-blocked; err != nil {
		t.Fatalf("blocking write: %v", err)
	}

	committed := 0
	for i, err := range results {
		var lookupErr error
		st.Read(ctx, func(tx *Tx) error {
			_, lookupErr = tx.SubscriberByKey(email(i))
			return nil
		})
		switch {
		case fails(i) && !errors.Is(err, errRefused):
			t.Errorf("writer %d: Write = %v, want its own error", i, err)
		case fails(i) && !errors.Is(lookupErr, ErrNotFound):
			t.Errorf("writer %d failed but its subscriber is stored (lookup: %v)", i, lookupErr)
		case !fails(i) && err != nil:
			t.Errorf("writer %d: Write = %v, want nil", i, err)
		case !fails(i) && lookupErr != nil:
			t.Errorf("writer %d succeeded but its subscriber is missing: %v", i, lookupErr)
		case !fails(i):
			committed++
		}
	}
	counts, err := st.MessageCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["queued"] != committed {
		t.Errorf("outbox holds %d messages, want %d: one per successful write and none from failed ones", counts["queued"], committed)
	}
}

func TestWriteAfterCloseFailsInsteadOfHanging(t *testing.T) {
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	st.Close()
	done := make(chan error)
	go func() {
		// Write chooses at random between queueing and seeing the store
		// closed; a hundred tries take both paths.
		for range 100 {
			if err := st.Write(context.Background(), func(*Tx) error { return nil }); err == nil {
				done <- errors.New("Write after Close returned nil")
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Write after Close still waiting after 10s")
	}
}

// TestLazyWritesSkipTheSyncOnlyWithinTheWindow proves how a lazy write
// commits: synced when the log has not been synced for lazyWindow (here:
// never), unsynced right after, synced whenever a batch holds any other
// write; and the writer is left syncing for everyone else.
func TestLazyWritesSkipTheSyncOnlyWithinTheWindow(t *testing.T) {
	ctx := context.Background()
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	const normal, full = 1, 2
	// synchronous reads the setting the write commits with.
	synchronous := func(write func(context.Context, func(*Tx) error) error) int {
		t.Helper()
		var level int
		if err := write(ctx, func(tx *Tx) error {
			// Not a cached statement: SQLite reads the setting when it
			// prepares this one.
			return tx.tx.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&level)
		}); err != nil {
			t.Fatal(err)
		}
		return level
	}
	submitLazy := func(ctx context.Context, fn func(*Tx) error) error { return <-st.SubmitLazy(ctx, fn) }
	if got := synchronous(st.WriteLazy); got != full {
		t.Errorf("first lazy write: synchronous = %d, want %d (the log was never synced)", got, full)
	}
	if got := synchronous(submitLazy); got != normal {
		t.Errorf("lazy write right after a sync: synchronous = %d, want %d", got, normal)
	}
	if got := synchronous(st.Write); got != full {
		t.Errorf("write after a lazy one: synchronous = %d, want %d", got, full)
	}
	errRefused := errors.New("refused")
	if err := st.WriteLazy(ctx, func(*Tx) error { return errRefused }); !errors.Is(err, errRefused) {
		t.Errorf("failing lazy write: %v, want its own error", err)
	}
	if got := synchronous(st.Write); got != full {
		t.Errorf("write after a failed lazy one: synchronous = %d, want %d", got, full)
	}
}

// TestAuditPageSearchesByKey: a page of the audit log starts at its id
// through the primary key, however deep in the log it is, rather than
// walking from the newest entry.
func TestAuditPageSearchesByKey(t *testing.T) {
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	if plan := queryPlan(t, st, auditPage, 1000, 50); !strings.Contains(plan, "SEARCH audit_log USING INTEGER PRIMARY KEY (rowid<?)") {
		t.Errorf("audit page plan:\n%s\nwant a search by the primary key", plan)
	}
}

// TestSubscriberBouncesSearchIndex: counting a subscriber's soft bounces
// (in the write transaction of every soft bounce) and deleting their
// bounces (an erase) search the index of subscribers' bounces rather than
// read every bounce kept.
func TestSubscriberBouncesSearchIndex(t *testing.T) {
	st := openAt(t, filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	defer st.Close()
	for _, q := range []struct {
		query string
		args  []any
	}{
		{countBounces, []any{7, alertd.BounceSoft, 0}},
		{eraseBounces, []any{7}},
	} {
		if plan := queryPlan(t, st, q.query, q.args...); !strings.Contains(plan, "SEARCH bounces USING INDEX bounces_subscriber") {
			t.Errorf("plan of %s:\n%s\nwant a search of bounces_subscriber", q.query, plan)
		}
	}
}

// queryPlan returns SQLite's plan for a query, one step a line.
func queryPlan(t *testing.T, st *Store, query string, args ...any) string {
	t.Helper()
	rows, err := st.read.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan.WriteString(detail + "\n")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan.String()
}
