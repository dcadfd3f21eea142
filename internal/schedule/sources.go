package schedule

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Source is a feed polled for new reports.
type Source struct {
	URL      string
	Schedule string
}

// Poll fetches one source and imports what is new.
type Poll func(ctx context.Context, url string) error

// Sources polls each source on its own schedule. A failing poll is logged
// and tried again at the next scheduled time; it never stops the others or
// the service.
type Sources struct {
	sources   []Source
	schedules []cron.Schedule
	location  *time.Location
	poll      Poll
	log       *slog.Logger
}

// NewSources checks the schedules.
func NewSources(sources []Source, location *time.Location, poll Poll, log *slog.Logger) (*Sources, error) {
	s := &Sources{sources: sources, location: location, poll: poll, log: log}
	for _, src := range sources {
		sched, err := cron.ParseStandard(src.Schedule)
		if err != nil {
			return nil, fmt.Errorf("sources: schedule %q of %s: %w", src.Schedule, src.URL, err)
		}
		s.schedules = append(s.schedules, sched)
	}
	return s, nil
}

// Run polls until ctx ends, then waits for running polls to finish.
func (s *Sources) Run(ctx context.Context) {
	logger := cronLogger{s.log}
	c := cron.New(cron.WithLocation(s.location), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	for i, src := range s.sources {
		c.Schedule(s.schedules[i], cron.FuncJob(func() {
			if err := s.poll(ctx, src.URL); err != nil && ctx.Err() == nil {
				s.log.Error("poll feed source; will try again at its next scheduled time", "url", src.URL, "err", err)
			}
		}))
	}
	c.Start()
	<-ctx.Done()
	<-c.Stop().Done()
}
