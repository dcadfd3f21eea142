package schedule_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/alerttest"
	"github.com/alertd/alertd/internal/schedule"
	"github.com/alertd/alertd/internal/store"
)

type clock struct{ now atomic.Pointer[time.Time] }

func (c *clock) Now() time.Time  { return *c.now.Load() }
func (c *clock) Set(t time.Time) { c.now.Store(&t) }
func quiet() *slog.Logger        { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
func monday(h int) time.Time     { return time.Date(2026, 3, 2, h, 0, 0, 0, time.UTC) }
func openStore(t *testing.T) *store.Store {
	t.Helper()
	st := alerttest.OpenStore(t, filepath.Join(t.TempDir(), "alertd.db"))
	return st
}

// TestCatchUp proves that downtime over scheduled times yields exactly one
// digest on start-up, however many times were missed, and none when no time
// was missed or on the very first start.
func TestCatchUp(t *testing.T) {
	tests := []struct {
		name string
		// starts are the times of successive start-ups.
		starts []time.Time
		want   int
	}{
		{"first start compiles nothing", []time.Time{monday(7)}, 0},
		{"restart before the scheduled time", []time.Time{monday(7), monday(7).Add(30 * time.Minute)}, 0},
		{"down over one scheduled time", []time.Time{monday(7), monday(9)}, 1},
		{"down over three weeks of scheduled times", []time.Time{monday(7), monday(9).Add(21 * 24 * time.Hour)}, 1},
		{"caught up once, not again", []time.Time{monday(7), monday(9), monday(10)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t)
			var c clock
			compiles := 0
			for _, at := range tc.starts {
				c.Set(at)
				d, err := schedule.NewDigests("weekly", "0 8 * * 1", time.UTC, st, func(context.Context) error {
					compiles++
					return nil
				}, c.Now, quiet())
				if err != nil {
					t.Fatal(err)
				}
				if err := d.CatchUp(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if compiles != tc.want {
				t.Fatalf("%d compiles, want %d", compiles, tc.want)
			}
		})
	}
}

// TestScheduleReadsTimezone proves digest.schedule is read in
// digest.timezone.
func TestScheduleReadsTimezone(t *testing.T) {
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	var c clock
	c.Set(monday(0)) // 09:00 in Tokyo
	d, err := schedule.NewDigests("weekly", "0 8 * * *", tokyo, openStore(t), func(context.Context) error { return nil }, c.Now, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Next().UTC(), monday(23); !got.Equal(want) {
		t.Fatalf("next = %s, want %s (08:00 in Tokyo)", got, want)
	}
}

// TestLeaseKeepsTwoProcessesApart proves that while one process holds the
// digest lease, another process's scheduled run compiles nothing.
func TestLeaseKeepsTwoProcessesApart(t *testing.T) {
	st := openStore(t)
	var c clock
	c.Set(monday(8))
	compiles := 0
	compile := func(context.Context) error { compiles++; return nil }
	first, _ := schedule.NewDigests("weekly", "@weekly", time.UTC, st, compile, c.Now, quiet())
	second, _ := schedule.NewDigests("weekly", "@weekly", time.UTC, st, compile, c.Now, quiet())

	held, err := st.AcquireLease(context.Background(), "digest.compile.weekly", "other-process", c.Now(), time.Minute)
	if err != nil || !held {
		t.Fatalf("lease: %v %v", held, err)
	}
	if err := first.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if compiles != 0 {
		t.Fatalf("compiled while another process held the lease")
	}
	c.Set(monday(8).Add(2 * time.Minute)) // the other process's lease has expired
	if err := first.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := second.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if compiles != 2 {
		t.Fatalf("%d compiles, want 2 (each process in turn once the lease was free)", compiles)
	}
}

// TestEachFrequencyCatchesUpAndLeasesOnItsOwn proves that the catch-up
// after downtime and the compile lease are per frequency: a daily series
// that missed a time compiles once while a weekly one that missed none
// does not, and a lease held on one series does not stop the other.
func TestEachFrequencyCatchesUpAndLeasesOnItsOwn(t *testing.T) {
	st := openStore(t)
	var c clock
	compiles := map[string]int{}
	start := func(frequency, spec string) *schedule.Digests {
		d, err := schedule.NewDigests(frequency, spec, time.UTC, st, func(context.Context) error {
			compiles[frequency]++
			return nil
		}, c.Now, quiet())
		if err != nil {
			t.Fatal(err)
		}
		if err := d.CatchUp(context.Background()); err != nil {
			t.Fatal(err)
		}
		return d
	}
	c.Set(monday(9)) // first start, after Monday's 08:00
	start("daily", "0 8 * * *")
	start("weekly", "0 8 * * 1")
	c.Set(monday(9).Add(24 * time.Hour)) // Tuesday: daily missed 08:00, weekly did not
	daily := start("daily", "0 8 * * *")
	weekly := start("weekly", "0 8 * * 1")
	if compiles["daily"] != 1 || compiles["weekly"] != 0 {
		t.Fatalf("catch-up compiles = %v, want daily 1 and weekly 0", compiles)
	}
	held, err := st.AcquireLease(context.Background(), "digest.compile.daily", "other-process", c.Now(), time.Minute)
	if err != nil || !held {
		t.Fatalf("lease: %v %v", held, err)
	}
	if err := daily.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := weekly.Fire(context.Background()); err != nil {
		t.Fatal(err)
	}
	if compiles["daily"] != 1 || compiles["weekly"] != 1 {
		t.Fatalf("compiles = %v, want the leased daily series skipped and weekly compiled", compiles)
	}
}
