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

var threeFrequencies = []alertd.Frequency{
	{ID: "asap", Name: "As soon as published", Schedule: "*/15 * * * *"},
	{ID: "weekly", Name: "Weekly", Schedule: "0 8 * * 1"},
	{ID: "monthly", Name: "Monthly", Schedule: "0 8 1 * *"},
}

// seriesFixture is a store with one confirmed reader of each of the
// frequencies, and a catalogue service over it whose clock the test sets.
type seriesFixture struct {
	st      *store.Store
	cat     *catalogue.Service
	now     time.Time
	readers map[string]int64
}

func newSeriesFixture(t *testing.T, frequencies []alertd.Frequency, readerFrequencies ...string) *seriesFixture {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "alertd.db"), alertd.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &seriesFixture{st: st, now: day0, readers: map[string]int64{}}
	f.cat = catalogue.NewService(st, catalogue.Rules{FirstWindow: 7 * 24 * time.Hour, Frequencies: frequencies},
		func() time.Time { return f.now }, func() {})
	err = st.Write(context.Background(), func(tx *store.Tx) error {
		for _, freq := range readerFrequencies {
			email := freq + "@example.org"
			id, _, err := tx.InsertSubscriber(email, alertd.Subscriber{
				Email: email, Status: alertd.StatusConfirmed, Frequency: freq, CreatedAt: day0.Add(-60 * 24 * time.Hour),
				ConfirmedAt: new(day0.Add(-60 * 24 * time.Hour)), Consent: alertd.Consent{SignupAt: day0},
			}, store.Confirmation{})
			if err != nil {
				return err
			}
			f.readers[freq] = id
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *seriesFixture) report(t *testing.T, guid string, published time.Time) {
	t.Helper()
	err := f.st.Write(context.Background(), func(tx *store.Tx) error {
		_, _, err := tx.AddReport(alertd.Report{
			GUID: guid, URL: "https://example.org/" + guid, Title: guid, PublishedAt: published, CreatedAt: published,
		}, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compile compiles the next digest of the series at the time, and returns
// the guids it announced (nil: no digest) and the digest.
func (f *seriesFixture) compile(t *testing.T, frequency string, at time.Time) ([]string, alertd.Digest) {
	t.Helper()
	f.now = at
	d, created, err := f.cat.CompileDigest(context.Background(), frequency)
	if err != nil {
		t.Fatal(err)
	}
	if !created {
		return nil, d
	}
	if frequency != "" && d.Frequency != frequency {
		t.Fatalf("digest %d is of frequency %q, want %q", d.ID, d.Frequency, frequency)
	}
	reports, err := f.st.DigestReports(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	return guids(reports), d
}

// TestEachFrequencyAnnouncesAReportOnce proves that each frequency is its
// own series: a report reaches every series once, each series' first
// digest takes its own first window (whatever other series announced), a
// series never announces a report twice, and each digest goes only to its
// series' readers.
func TestEachFrequencyAnnouncesAReportOnce(t *testing.T) {
	f := newSeriesFixture(t, threeFrequencies, "asap", "weekly", "monthly")
	f.report(t, "archive", day0.Add(-30*24*time.Hour))
	f.report(t, "recent", day0.Add(-24*time.Hour))

	steps := []struct {
		frequency string
		at        time.Time
		want      []string
	}{
		{"asap", day0, []string{"recent"}},
		{"asap", day0.Add(15 * time.Minute), nil},
		{"weekly", day0, []string{"recent"}},
		{"weekly", day0.Add(time.Hour), nil},
	}
	for i, s := range steps {
		got, d := f.compile(t, s.frequency, s.at)
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%s at %s): announced %v, want %v", i, s.frequency, s.at, got, s.want)
		}
		if got != nil && d.Recipients != 1 {
			t.Fatalf("step %d: %d recipients, want 1 (the one %s reader)", i, d.Recipients, s.frequency)
		}
	}

	f.report(t, "fresh", day0.Add(2*time.Hour))
	more := []struct {
		frequency string
		at        time.Time
		want      []string
	}{
		{"asap", day0.Add(2*time.Hour + 15*time.Minute), []string{"fresh"}},
		// The monthly series starts three days on: its first window (a
		// week) takes both, though other series announced "recent".
		{"monthly", day0.Add(3 * 24 * time.Hour), []string{"fresh", "recent"}},
		{"weekly", day0.Add(7 * 24 * time.Hour), []string{"fresh"}},
		{"asap", day0.Add(8 * 24 * time.Hour), nil},
		{"weekly", day0.Add(14 * 24 * time.Hour), nil},
		{"monthly", day0.Add(30 * 24 * time.Hour), nil},
	}
	for i, s := range more {
		got, _ := f.compile(t, s.frequency, s.at)
		if !slices.Equal(got, s.want) {
			t.Fatalf("later step %d (%s at %s): announced %v, want %v", i, s.frequency, s.at, got, s.want)
		}
	}
	for freq, id := range f.readers {
		messages, err := f.st.SubscriberMessages(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"asap": 2, "weekly": 2, "monthly": 1}[freq]
		if len(messages) != want {
			t.Errorf("the %s reader has %d digest copies, want %d (only their own series')", freq, len(messages), want)
		}
	}
}

// TestDigestOfAFrequencyMustBeNamedAmongSeveral proves that with several
// frequencies a compile must name one, and an unknown one is refused,
// both as bad input; with one, naming none means it.
func TestDigestOfAFrequencyMustBeNamedAmongSeveral(t *testing.T) {
	f := newSeriesFixture(t, threeFrequencies)
	for _, name := range []string{"", "daily"} {
		_, _, err := f.cat.CompileDigest(context.Background(), name)
		if alertd.ErrorCode(err) != alertd.Invalid {
			t.Errorf("compile of %q among three: %v, want an Invalid error", name, err)
		}
	}
	one := newSeriesFixture(t, nil, "weekly")
	one.report(t, "a", day0.Add(-time.Hour))
	if got, _ := one.compile(t, "", day0); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("compile of the only frequency announced %v, want [a]", got)
	}
}

// TestReadersOfARemovedFrequencyJoinTheFirst proves that readers of a
// frequency no longer configured get the first configured frequency's
// digests, rather than none.
func TestReadersOfARemovedFrequencyJoinTheFirst(t *testing.T) {
	f := newSeriesFixture(t, threeFrequencies[:2], "asap", "fortnightly")
	f.report(t, "a", day0.Add(-time.Hour))
	_, d := f.compile(t, "asap", day0)
	if d.Recipients != 2 {
		t.Fatalf("%d recipients, want 2: the asap reader and the fortnightly one it adopts", d.Recipients)
	}
}
