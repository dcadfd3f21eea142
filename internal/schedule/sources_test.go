package schedule_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alertd/alertd/internal/schedule"
)

// TestSourcesArePolledAndAFailingOneIsRetried proves that each source is
// polled on its own schedule, that a failing source is tried again at its
// next time without stopping the others, and that Run ends with its context.
func TestSourcesArePolledAndAFailingOneIsRetried(t *testing.T) {
	polls := make(chan string, 16)
	poll := func(_ context.Context, url string) error {
		polls <- url
		if url == "https://broken.example/feed" {
			return errors.New("503 Service Unavailable")
		}
		return nil
	}
	sources, err := schedule.NewSources([]schedule.Source{
		{URL: "https://broken.example/feed", Schedule: "@every 1s"},
		{URL: "https://reports.example/feed", Schedule: "@every 1s"},
	}, time.UTC, poll, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		sources.Run(ctx)
		close(stopped)
	}()
	seen := map[string]int{}
	deadline := time.After(10 * time.Second)
	for seen["https://broken.example/feed"] < 2 || seen["https://reports.example/feed"] < 2 {
		select {
		case url := <-polls:
			seen[url]++
		case <-deadline:
			t.Fatalf("polls after 10 s: %v; want each source at least twice", seen)
		}
	}
	cancel()
	<-stopped
}

// TestSourcesRefuseABadSchedule proves a source's schedule is checked up front.
func TestSourcesRefuseABadSchedule(t *testing.T) {
	_, err := schedule.NewSources([]schedule.Source{{URL: "https://x.example/feed", Schedule: "every tuesday"}},
		time.UTC, func(context.Context, string) error { return nil }, quiet())
	if err == nil {
		t.Fatal("a bad schedule was accepted")
	}
}
